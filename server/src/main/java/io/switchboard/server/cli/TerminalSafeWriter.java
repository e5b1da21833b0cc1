package io.switchboard.server.cli;

import java.io.FilterWriter;
import java.io.IOException;
import java.io.Writer;

/**
 * Passes text to a terminal with its control characters (but line feed, tab, and carriage return
 * where lines end with it) written out as {@code \u001B}: an error that quotes what was typed
 * ("got 'ivan\u001B[31m'"), or a list showing what a monitored server answered, must not
 * recolour or rewrite the operator's terminal. Standard output as a whole is not filtered: help
 * may be coloured, and an export is YAML that escapes what it must.
 */
public final class TerminalSafeWriter extends FilterWriter {
    public TerminalSafeWriter(Writer out) {
        super(out);
    }

    private static final boolean CR_ENDS_LINES = System.lineSeparator().contains("\r");

    static boolean isControl(int c) {
        return (c < 0x20 && c != '\n' && c != '\t' && !(c == '\r' && CR_ENDS_LINES)) || (c >= 0x7F && c <= 0x9F);
    }

    private static String escaped(int c) {
        return String.format("\\u%04X", c);
    }

    /** The text with its control characters written out, as this writer would pass it. */
    public static String visible(String text) {
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (isControl(c)) {
                if (out == null) {
                    out = new StringBuilder(text.length() + 16).append(text, 0, i);
                }
                out.append(escaped(c));
            } else if (out != null) {
                out.append(c);
            }
        }
        return out == null ? text : out.toString();
    }

    @Override
    public void write(int c) throws IOException {
        if (isControl(c)) {
            out.write(escaped(c));
        } else {
            out.write(c);
        }
    }

    @Override
    public void write(char[] chars, int offset, int length) throws IOException {
        for (int i = offset; i < offset + length; i++) {
            write(chars[i]);
        }
    }

    @Override
    public void write(String text, int offset, int length) throws IOException {
        for (int i = offset; i < offset + length; i++) {
            write(text.charAt(i));
        }
    }
}
