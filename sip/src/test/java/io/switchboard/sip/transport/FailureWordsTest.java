package io.switchboard.sip.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ConnectException;
import java.nio.channels.ClosedChannelException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateExpiredException;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

/** What the log says about a failed bind or connection: the cause in words, not class and call names. */
class FailureWordsTest {
    @Test
    void nativeCallNamesAreLeftOut() {
        assertThat(TransportLayer.words(new IOException("bind(..) failed with error(-98): Address already in use")))
                .isEqualTo("Address already in use");
        assertThat(TransportLayer.words(new ConnectException("finishConnect(..) failed with error(-111): Connection refused")))
                .isEqualTo("Connection refused");
        assertThat(TransportLayer.words(new ConnectException("finishConnect(..) failed: Connection refused")))
                .isEqualTo("Connection refused");
    }

    /** The JDK's outer message says what failed, its root cause why: both, without the class names it embeds. */
    @Test
    void theOuterWordsAndTheRootCauseAreKept() {
        CertificateExpiredException expired = new CertificateExpiredException("NotAfter: Mon Jan 05 10:00:00 UTC 2026");
        CertPathValidatorException validity = new CertPathValidatorException("validity check failed", expired);
        SSLHandshakeException handshake = new SSLHandshakeException(
                "PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed");
        handshake.initCause(validity);
        assertThat(TransportLayer.words(handshake))
                .isEqualTo("PKIX path validation failed: validity check failed (NotAfter: Mon Jan 05 10:00:00 UTC 2026)");

        SSLHandshakeException unknown = new SSLHandshakeException("PKIX path building failed: "
                + "sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path");
        unknown.initCause(new java.security.cert.CertPathBuilderException("unable to find valid certification path"));
        assertThat(TransportLayer.words(unknown)).isEqualTo("PKIX path building failed: unable to find valid certification path");

        // a wrapper made with new X(cause) has no words of its own
        assertThat(TransportLayer.words(new RuntimeException(new IOException("Connection reset by peer"))))
                .isEqualTo("Connection reset by peer");
        // an outer reason is not lost to a closed channel under it
        assertThat(TransportLayer.words(new IOException("handshake timed out after 10000ms", new ClosedChannelException())))
                .isEqualTo("handshake timed out after 10000ms");
        assertThat(TransportLayer.words(new ClosedChannelException())).isEqualTo("the connection closed");
        assertThat(TransportLayer.words(new IllegalStateException())).isEqualTo("IllegalStateException");
    }
}
