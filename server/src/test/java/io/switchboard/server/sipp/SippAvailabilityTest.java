package io.switchboard.server.sipp;

import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

import java.nio.file.Path;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What a SIPp test does when sipp is missing: skip on a developer's machine, fail under CI=true. */
class SippAvailabilityTest {
    @Test
    void aMissingSippFailsUnderCiWithAMessageSayingHowToInstallIt() {
        assertThatThrownBy(() -> Sipp.assumeAvailable(Optional.empty(), true))
                .isInstanceOf(AssertionFailedError.class)
                .hasMessageContaining("sip-tester").hasMessageContaining("SIPP_BIN").hasMessageContaining("CI=true");
    }

    @Test
    void aMissingSippSkipsOutsideCi() {
        assertThatThrownBy(() -> Sipp.assumeAvailable(Optional.empty(), false))
                .isInstanceOf(TestAbortedException.class)
                .hasMessageContaining("sip-tester");
    }

    @Test
    void anInstalledSippNeitherSkipsNorFails() {
        assertThatCode(() -> Sipp.assumeAvailable(Optional.of(Path.of("/usr/bin/sipp")), true)).doesNotThrowAnyException();
    }
}
