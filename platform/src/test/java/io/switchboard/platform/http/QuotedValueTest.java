package io.switchboard.platform.http;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class QuotedValueTest {
    @Test
    void aShortValueIsQuotedWhole() {
        assertThat(QuotedValue.of("alice")).isEqualTo("alice");
        assertThat(QuotedValue.of("x".repeat(64))).isEqualTo("x".repeat(64));
        assertThat(QuotedValue.of(null)).isNull();
    }

    @Test
    void aLongValueIsItsStartAndItsLength() {
        assertThat(QuotedValue.of("x".repeat(50_000))).isEqualTo("x".repeat(64) + "… (50000 characters)");
    }

    @Test
    void aCharacterOutsideTheBmpIsNotCutInHalf() {
        String value = "x".repeat(63) + "😀" + "y".repeat(10);
        assertThat(QuotedValue.of(value)).isEqualTo("x".repeat(63) + "… (75 characters)");
    }

    @Test
    void aProblemDetailIsBoundedKeepingItsStartAndEnd() {
        String detail = "'name': \"" + "x".repeat(50_000) + "\" is not a name: 1-64 letters";
        ApiProblem problem = ApiProblem.badRequest(detail);
        assertThat(problem.detail()).hasSizeLessThanOrEqualTo(ApiProblem.MAX_DETAIL + 40)
                .startsWith("'name': \"xxx").endsWith("xxx\" is not a name: 1-64 letters").contains(" characters left out) …");
        assertThat(problem.getMessage()).hasSizeLessThan(ApiProblem.MAX_DETAIL + 100);
        String ordinary = "'limit' must be 1-500 (got 9999)";
        assertThat(ApiProblem.badRequest(ordinary).detail()).isEqualTo(ordinary);
    }
}
