package io.switchboard.server.cli;

import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStreamReader;
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
            // a decoder that says so: the default one turns a byte that is not UTF-8 into U+FFFD,
            // and the stored password would then not be the one the device sends
            String line = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                    .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT))).readLine();
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
