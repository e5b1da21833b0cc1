package io.switchboard.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class TerminalSafeWriterTest {
    @Test
    void controlCharactersAreShownNotObeyedAndLinesAndTabsStay() throws Exception {
        assertThat(TerminalSafeWriter.visible("shop\tDOWN: \u001b[2Jgone\u0007")).isEqualTo("shop\tDOWN: \\u001B[2Jgone\\u0007");
        assertThat(TerminalSafeWriter.visible("plain text, é and 🙂")).isEqualTo("plain text, é and 🙂");
        assertThat(TerminalSafeWriter.visible("C1 \u009b")).isEqualTo("C1 \\u009B");
        StringWriter out = new StringWriter();
        try (TerminalSafeWriter writer = new TerminalSafeWriter(out)) {
            writer.write("ivan\u001b[31m\n");
        }
        assertThat(out.toString()).isEqualTo("ivan\\u001B[31m\n");
    }

    @Test
    void aPasswordOnStdinIsItsFirstLineInStrictUtf8() throws Exception {
        assertThat(PasswordPrompt.firstLine(new java.io.ByteArrayInputStream("pässwort-1\r\nnext\n".getBytes(
                java.nio.charset.StandardCharsets.UTF_8)))).isEqualTo("pässwort-1");
        // what follows the line is not read, whatever it holds
        assertThat(PasswordPrompt.firstLine(new java.io.ByteArrayInputStream(new byte[] {'o', 'k', '\n', (byte) 0xff})))
                .isEqualTo("ok");
        assertThat(PasswordPrompt.firstLine(new java.io.ByteArrayInputStream(new byte[0]))).isNull();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> PasswordPrompt.firstLine(
                new java.io.ByteArrayInputStream(new byte[] {'a', 'b', (byte) 0xff, 'c', '\n'})))
                .isInstanceOf(java.nio.charset.CharacterCodingException.class);
    }
}
