package io.switchboard.platform.http;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class UuidsTest {
    @Test
    void aUuidIsFoldedToLowerCaseAndAnythingElseLeftAlone() {
        assertThat(Uuids.folded("0F8FAD5B-D9CB-469F-A165-70867728950E")).isEqualTo("0f8fad5b-d9cb-469f-a165-70867728950e");
        assertThat(Uuids.folded("0f8fad5b-d9cb-469f-a165-70867728950e")).isEqualTo("0f8fad5b-d9cb-469f-a165-70867728950e");
        assertThat(Uuids.folded("me")).isEqualTo("me");
        assertThat(Uuids.folded("ANNA")).isEqualTo("ANNA");
        assertThat(Uuids.folded("0F8FAD5B-D9CB-469F-A165-70867728950EX")).endsWith("EX");
        assertThat(Uuids.folded(null)).isNull();
    }
}
