package io.switchboard.server.cli;

import java.io.Console;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/** A password for a CLI command: the flag, else asked twice on a terminal, else the first line of stdin. */
final class PasswordPrompt {
    /** No password could be had; the message says why, for a one-line error. */
    static final class Unavailable extends RuntimeException {
        Unavailable(String message) {
            super(message, null, false, false);
        }
    }

    private PasswordPrompt() {
    }

    /**
     * The first line of {@code in} (without its line end), or null at once at its end. Read byte
     * by byte, so nothing after the line is read, and decoded strictly: the default decoder turns
     * a byte that is not UTF-8 into U+FFFD, and the stored password would then not be the one the
     * device sends.
     */
    static String firstLine(java.io.InputStream in) throws IOException {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        int b = in.read();
        if (b < 0) {
            return null;
        }
        while (b >= 0 && b != '\n') {
            bytes.write(b);
            b = in.read();
        }
        byte[] line = bytes.toByteArray();
        int length = line.length > 0 && line[line.length - 1] == '\r' ? line.length - 1 : line.length;
        return StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                .decode(java.nio.ByteBuffer.wrap(line, 0, length)).toString();
    }

    static String read(String given) {
        if (given != null) {
            return given;
        }
        Console console = System.console();
        if (console != null) {
            char[] first = console.readPassword("Password: ");
            char[] second = console.readPassword("Again: ");
            if (first == null || second == null || !new String(first).equals(new String(second))) {
                throw new Unavailable("the passwords differ");
            }
            return new String(first);
        }
        try {
            String line = firstLine(System.in);
            if (line == null) {
                throw new Unavailable("no password: give --password, or type it, or pipe it on stdin");
            }
            return line;
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new Unavailable("the password on stdin is not UTF-8 text");
        } catch (IOException e) {
            throw new Unavailable("cannot read the password: " + e.getMessage());
        }
    }
}
