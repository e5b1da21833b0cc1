package io.switchboard.monitor.notify;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.net.http.HttpConnectTimeoutException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.UnresolvedAddressException;
import java.security.cert.CertificateExpiredException;
import java.time.Duration;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

/**
 * The words for failures the loopback tests cannot make (DNS, a silent network, an expired
 * certificate), from the exceptions the clients throw for them, wrapped as they wrap them. The
 * others (refused, timed out, closed, untrusted, SMTP replies) are made for real in the notifiers' tests.
 */
class DeliveryFailureTextTest {
    static final Duration TEN_SECONDS = Duration.ofSeconds(10);

    static <T extends Throwable> T causedBy(T e, Throwable cause) {
        e.initCause(cause);
        return e;
    }

    @Test
    void anUnknownNameAsTheHttpClientAndAngusMailReportIt() {
        // java.net.http: ConnectException(null) <- ConnectException(null) <- UnresolvedAddressException
        Throwable http = causedBy(new ConnectException(), causedBy(new ConnectException(), new UnresolvedAddressException()));
        assertThat(DeliveryFailureText.network(http, "hooks.example.org", 443, TEN_SECONDS))
                .isEqualTo("the name hooks.example.org could not be found (DNS gave no address)");
        Throwable mail = causedBy(new IOException("Couldn't connect to host, port: smtp.example.org, 587; timeout 10000"),
                new UnknownHostException("smtp.example.org"));
        assertThat(DeliveryFailureText.network(mail, "smtp.example.org", 587, TEN_SECONDS))
                .isEqualTo("the name smtp.example.org could not be found (DNS gave no address)");
    }

    @Test
    void aConnectionThatNeverOpens() {
        assertThat(DeliveryFailureText.network(new HttpConnectTimeoutException("HTTP connect timed out"), "10.9.9.9", 443, TEN_SECONDS))
                .isEqualTo("timed out after 10 s connecting to 10.9.9.9 port 443 (no answer at all)");
        assertThat(DeliveryFailureText.network(causedBy(new IOException("x"), new NoRouteToHostException("No route to host")),
                "10.9.9.9", 25, TEN_SECONDS)).isEqualTo("10.9.9.9 cannot be reached from here (no route to the host)");
        Throwable refused = causedBy(new ConnectException(), causedBy(new ConnectException(), new ClosedChannelException()));
        assertThat(DeliveryFailureText.network(refused, "::1", 8443, TEN_SECONDS))
                .isEqualTo("connection refused: nothing listens at ::1 port 8443");
    }

    @Test
    void certificateTroubleAndAPeerThatDoesNotSpeakTls() {
        Throwable expired = causedBy(new SSLHandshakeException("PKIX path validation failed"),
                new CertificateExpiredException("NotAfter: Sun Jan 01 00:00:00 UTC 2023"));
        assertThat(DeliveryFailureText.network(expired, "hooks.example.org", 443, TEN_SECONDS))
                .isEqualTo("TLS: its certificate has expired");
        assertThat(DeliveryFailureText.network(new SSLHandshakeException("Remote host terminated the handshake"),
                "hooks.example.org", 80, TEN_SECONDS))
                .isEqualTo("TLS: hooks.example.org port 80 closed the connection during the handshake (does it speak TLS on that port?)");
    }

    @Test
    void aResetAndAnythingElseStillNameTheServer() {
        assertThat(DeliveryFailureText.network(new SocketException("Connection reset"), "h", 25, TEN_SECONDS))
                .isEqualTo("h port 25 reset the connection");
        assertThat(DeliveryFailureText.network(causedBy(new IOException("outer"), new IllegalStateException("odd\nsecond line")),
                "h", 25, TEN_SECONDS)).isEqualTo("talking to h port 25 failed: IllegalStateException: odd");
    }

    @Test
    void aRequestThatCannotHaveLeftIsRefusedAnyOtherNetworkFailureMayHaveArrived() {
        // Java's HTTP client wraps the handshake's failure in an IOException of its own
        IOException handshake = causedBy(new IOException("handshake"), new SSLHandshakeException("PKIX path building failed"));
        assertThat(DeliveryException.network("tls", handshake).refused()).isTrue();
        assertThat(DeliveryException.network("refused", new ConnectException()).refused()).isTrue();
        assertThat(DeliveryException.network("connect timeout", new HttpConnectTimeoutException("HTTP connect timed out"))
                .refused()).isTrue();
        assertThat(DeliveryException.network("reset", new SocketException("Connection reset")).refused()).isFalse();
        assertThat(DeliveryException.network("timeout", new java.net.http.HttpTimeoutException("request timed out"))
                .refused()).isFalse();
    }
}
