package io.switchboard.platform.http;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class RequestBodiesTest {
    @Test
    void parserMessagesLoseTheirSourceAsides() {
        String jackson = "Unexpected end-of-input: expected close marker for Object (start marker at [Source: REDACTED"
                + " (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 1])";
        assertThat(RequestBodies.withoutParserInternals(jackson))
                .isEqualTo("Unexpected end-of-input: expected close marker for Object");
        assertThat(RequestBodies.withoutParserInternals("Unexpected character ('x' (code 120))"))
                .isEqualTo("Unexpected character ('x' (code 120))");
        assertThat(RequestBodies.withoutParserInternals(null)).isEmpty();
    }
}
