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
     * The index of the first bidirectional override (U+202D, U+202E), or -1. An override shows the
     * letters after it in the order it forces ("Anna" followed by U+202E and "nimda" reads
     * "Annaadmin"), the trick of CVE-2021-42574. Embeddings, isolates and marks only place runs of
     * text (phones wrap pasted right-to-left names in U+2068...U+2069) and are left alone.
     */
    public static int firstDirectionOverride(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\u202D' || c == '\u202E') {
                return i;
            }
        }
        return -1;
    }
}
