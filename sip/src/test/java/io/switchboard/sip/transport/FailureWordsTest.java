package io.switchboard.sip.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ConnectException;
import java.nio.channels.ClosedChannelException;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

/** What the log says about a failed bind or connection: the cause in words, not class and call names. */
class FailureWordsTest {
    @Test
    void nativeCallNamesAndWrappersAreLeftOut() {
        assertThat(TransportLayer.words(new IOException("bind(..) failed with error(-98): Address already in use")))
                .isEqualTo("Address already in use");
        assertThat(TransportLayer.words(new ConnectException("finishConnect(..) failed with error(-111): Connection refused")))
                .isEqualTo("Connection refused");
        assertThat(TransportLayer.words(new ConnectException("finishConnect(..) failed: Connection refused")))
                .isEqualTo("Connection refused");
        SSLHandshakeException wrapped = new SSLHandshakeException("PKIX path building failed: sun.security...");
        wrapped.initCause(new java.security.cert.CertPathValidatorException("Path does not chain with any of the trust anchors"));
        assertThat(TransportLayer.words(wrapped)).isEqualTo("Path does not chain with any of the trust anchors");
        assertThat(TransportLayer.words(new IOException("read", new ClosedChannelException()))).isEqualTo("the connection closed");
        assertThat(TransportLayer.words(new IllegalStateException())).isEqualTo("IllegalStateException");
    }

    @Test
    void aMinutesLimitCountsWhatItTurnedAway() {
        OncePerMinute limit = new OncePerMinute();
        assertThat(limit.due()).isTrue();
        assertThat(limit.turnedAwaySinceLast()).isZero();
        assertThat(limit.due()).isFalse();
        assertThat(limit.due()).isFalse();
        assertThat(limit.turnedAwaySinceLast()).isEqualTo(2);
        assertThat(limit.turnedAwaySinceLast()).isZero();
    }
}
