package io.switchboard.platform.http;

import java.util.Set;

/** What a reader would see of a text: whether anything, and whether it may be shown in another order than written. */
public final class VisibleText {
    /** Hangul choseong and jungseong fillers, Hangul filler, halfwidth filler, Braille pattern blank. */
    private static final Set<Integer> BLANK_LETTERS = Set.of(0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800);

    private VisibleText() {
    }

    /**
     * True when a text has no character a reader would see: only white space (Unicode's, the
     * no-break spaces included), format characters (zero-width space and joiners, byte-order
     * mark, direction marks and overrides), marks with nothing to sit on (combining marks,
     * variation selectors), and the letters drawn blank (Hangul fillers, the Braille blank).
     */
    public static boolean showsNothing(String text) {
        return text.codePoints().allMatch(c -> Character.isWhitespace(c) || Character.isSpaceChar(c)
                || Character.getType(c) == Character.FORMAT || Character.getType(c) == Character.NON_SPACING_MARK
                || Character.getType(c) == Character.ENCLOSING_MARK || BLANK_LETTERS.contains(c));
    }

    /**
     * The index of the first bidirectional embedding, override or isolate (U+202A-U+202E,
     * U+2066-U+2069), or -1. In a name they make it show in another order than it is written
     * ("Anna" followed by an override and "nimda" reads "Annaadmin"), the trick of CVE-2021-42574;
     * the direction marks U+200E and U+200F change no order and are left alone.
     */
    public static int firstDirectionControl(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if ((c >= '\u202A' && c <= '\u202E') || (c >= '\u2066' && c <= '\u2069')) {
                return i;
            }
        }
        return -1;
    }
}
