package io.switchboard.server.clients;

import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

import java.nio.file.Path;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What a real-client test does when the client is missing: skip on a developer's machine, fail under CI=true. */
class PeerBinaryTest {
    @Test
    void aMissingClientFailsUnderCiWithAMessageSayingHowToInstallIt() {
        assertThatThrownBy(() -> Baresip.BINARY.assumeAvailable(Optional.empty(), true))
                .isInstanceOf(AssertionFailedError.class)
                .hasMessageContaining("apt-get install -y baresip-core").hasMessageContaining("BARESIP_BIN")
                .hasMessageContaining("CI=true");
        assertThatThrownBy(() -> Linphonec.BINARY.assumeAvailable(Optional.empty(), true))
                .isInstanceOf(AssertionFailedError.class).hasMessageContaining("linphone-cli");
    }

    @Test
    void aMissingClientSkipsOutsideCi() {
        assertThatThrownBy(() -> Linphonec.BINARY.assumeAvailable(Optional.empty(), false))
                .isInstanceOf(TestAbortedException.class)
                .hasMessageContaining("linphone-cli");
    }

    @Test
    void anInstalledClientNeitherSkipsNorFails() {
        assertThatCode(() -> Baresip.BINARY.assumeAvailable(Optional.of(Path.of("/usr/bin/baresip")), true))
                .doesNotThrowAnyException();
    }

    @Test
    void aBinaryNamedByItsVariableThatDoesNotExistIsNotFound() {
        PeerBinary absent = new PeerBinary("no-such-client-" + System.nanoTime(), "NO_SUCH_CLIENT_BIN", "none");
        assertThat(absent.find()).isEmpty();
    }
}
