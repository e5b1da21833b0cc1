package io.switchboard.platform.http;

/**
 * A client's value as an error detail quotes it: whole when short, else its first
 * {@value #SHOWN} characters and how long it was. A detail that repeated a 50,000-character name
 * sent it all back (and into any log that keeps answers) while the start is all a reader needs to
 * recognise it.
 */
public final class QuotedValue {
    /** How many characters of a long value are shown. */
    public static final int SHOWN = 64;

    private QuotedValue() {
    }

    /** {@code value} itself up to {@value #SHOWN} characters; past that its start, then {@code … (N characters)}. */
    public static String of(String value) {
        if (value == null || value.length() <= SHOWN) {
            return value;
        }
        int end = SHOWN;
        if (Character.isHighSurrogate(value.charAt(end - 1)) && Character.isLowSurrogate(value.charAt(end))) {
            end--; // not half a character
        }
        return value.substring(0, end) + "… (" + value.length() + " characters)";
    }
}
