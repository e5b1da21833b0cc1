package io.switchboard.platform.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
        assertThat(RequestBodies.withoutParserInternals("Document nesting depth (1001) exceeds the maximum allowed (1000, from"
                + " `StreamReadConstraints.getMaxNestingDepth()`)"))
                .isEqualTo("Document nesting depth (1001) exceeds the maximum allowed (1000)");
    }

    /** A body that stopped arriving is said in plain words, never with Jetty's exception text. */
    @Test
    void aBodyThatStoppedArrivingIs408AndOneCutShortIs400() {
        ApiProblem idle = RequestBodies.unreadBody(new java.io.IOException(
                new java.util.concurrent.TimeoutException("Idle timeout expired: 30000/30000 ms")));
        assertThat(idle.status()).isEqualTo(408);
        assertThat(idle.detail()).doesNotContain("Idle timeout expired").contains("send the request again");
        ApiProblem cut = RequestBodies.unreadBody(new java.io.EOFException("Early EOF"));
        assertThat(cut.status()).isEqualTo(400);
        assertThat(cut.detail()).doesNotContain("Early EOF").contains("ended before it was whole");
    }

    @Test
    void aFormOrACharsetOtherThanUtf8Is415() {
        for (String taken : new String[]{null, "", "application/json", "Application/JSON; charset=UTF-8",
                "application/json;charset=\"utf-8\"", "application/json; charset=utf8", "application/merge-patch+json", "application/problem+json", "text/plain;charset=UTF-8", "text/plain"}) {
            RequestBodies.requireJsonType(taken); // no problem
        }
        for (String refused : new String[]{"application/x-www-form-urlencoded", "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
                "application/json; charset=iso-8859-1", "text/plain; charset=windows-1251", "multipart/form-data; boundary=x"}) {
            assertThatThrownBy(() -> RequestBodies.requireJsonType(refused)).as(refused)
                    .isInstanceOfSatisfying(ApiProblem.class, p -> {
                        assertThat(p.status()).isEqualTo(415);
                        assertThat(p.detail()).isEqualTo("The body is JSON: send it with Content-Type: application/json (got "
                                + refused + ").");
                        assertThat(p.headers()).containsEntry("Accept", "application/json");
                    });
        }
    }

    @Test
    void wellFormedUtf8PassesAndEveryIllFormedSequenceIsFoundWhereItStarts() {
        assertThat(RequestBodies.firstInvalidUtf8("{\"text\":\"änna ✓ 🙂 \u0000\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8)))
                .isEqualTo(-1);
        assertThat(RequestBodies.firstInvalidUtf8(bytes(0x7F, 0xC2, 0x80, 0xDF, 0xBF, 0xE0, 0xA0, 0x80, 0xED, 0x9F, 0xBF,
                0xEF, 0xBF, 0xBF, 0xF0, 0x90, 0x80, 0x80, 0xF4, 0x8F, 0xBF, 0xBF))).isEqualTo(-1);
        // overlong "<" and "/" (RFC 3629 §10), a surrogate, past U+10FFFF, a lone continuation,
        // never-used bytes, and sequences cut short
        assertThat(RequestBodies.firstInvalidUtf8(bytes('a', 0xC0, 0xBC))).isEqualTo(1);
        assertThat(RequestBodies.firstInvalidUtf8(bytes('a', 'b', 0xE0, 0x80, 0xAF))).isEqualTo(2);
        assertThat(RequestBodies.firstInvalidUtf8(bytes(0xF0, 0x80, 0x80, 0xBC))).isEqualTo(0);
        assertThat(RequestBodies.firstInvalidUtf8(bytes(0xED, 0xA0, 0x80))).isEqualTo(0);
        assertThat(RequestBodies.firstInvalidUtf8(bytes(0xF4, 0x90, 0x80, 0x80))).isEqualTo(0);
        assertThat(RequestBodies.firstInvalidUtf8(bytes('x', 0x80))).isEqualTo(1);
        assertThat(RequestBodies.firstInvalidUtf8(bytes(0xF5, 0x80, 0x80, 0x80))).isEqualTo(0);
        assertThat(RequestBodies.firstInvalidUtf8(bytes(0xFF))).isEqualTo(0);
        assertThat(RequestBodies.firstInvalidUtf8(bytes('x', 0xE2, 0x9C))).isEqualTo(1);
        assertThat(RequestBodies.firstInvalidUtf8(bytes(0xE2, 0x28, 0xA1))).isEqualTo(0);
        assertThat(RequestBodies.firstInvalidUtf8(bytes(0xF0, 0x9F, 0x99, 0x41))).isEqualTo(0);
    }

    private static byte[] bytes(int... values) {
        byte[] bytes = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            bytes[i] = (byte) values[i];
        }
        return bytes;
    }
}
