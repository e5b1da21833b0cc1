package io.switchboard.platform.config;

/**
 * Whether a text is a number written in ASCII digits only. Integer.parseInt and Long.parseLong
 * also take a leading "+" and the digits of other scripts ("+80", "٨٠"), which every number this
 * node reads from people or devices (ports, ids, sequence numbers, query parameters) refuses.
 */
public final class AsciiDigits {
    private AsciiDigits() {
    }

    /** True when {@code text} is 1 to {@code maxDigits} characters, each '0'-'9'. */
    public static boolean of(String text, int maxDigits) {
        if (text.isEmpty() || text.length() > maxDigits) {
            return false;
        }
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
        }
        return true;
    }
}
