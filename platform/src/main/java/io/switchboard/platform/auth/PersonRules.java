package io.switchboard.platform.auth;

import io.switchboard.platform.http.ApiProblem;
import io.switchboard.platform.http.VisibleText;
import java.util.regex.Pattern;

/** What a user name, a display name and a password may be; the same for the API and the CLI. */
public final class PersonRules {
    private static final Pattern USERNAME = Pattern.compile("[a-z0-9][a-z0-9._-]{2,31}");
    public static final int MIN_PASSWORD = 8;
    public static final int MAX_PASSWORD = 256;
    public static final int MAX_DISPLAY_NAME = 100;

    private PersonRules() {
    }

    /**
     * The user name as stored (lower case); a 400 problem naming the field when it is unusable.
     * User names are compared without case so that "Anna" and "anna" cannot both exist.
     */
    public static String username(String raw) {
        if (raw == null || raw.isBlank()) {
            throw ApiProblem.badRequest("'username' is required.");
        }
        String name = fold(raw);
        if (!USERNAME.matcher(name).matches()) {
            throw ApiProblem.badRequest("'username': 3-32 of a-z 0-9 . _ -, starting with a letter or digit (got '"
                    + shorten(raw) + "')");
        }
        return name;
    }

    /**
     * A user name as typed, in the form names are stored in: stripped, A-Z lower-cased. Only ASCII
     * is folded: full lower-casing turns the Kelvin sign (U+212A) into "k", so "\u212Aarl" would
     * sign up as, or sign in to, karl; left as it is, it is no user name (names are ASCII).
     */
    public static String fold(String raw) {
        String stripped = raw.strip();
        char[] chars = null;
        for (int i = 0; i < stripped.length(); i++) {
            char c = stripped.charAt(i);
            if (c >= 'A' && c <= 'Z') {
                if (chars == null) {
                    chars = stripped.toCharArray();
                }
                chars[i] = (char) (c + ('a' - 'A'));
            }
        }
        return chars == null ? stripped : new String(chars);
    }

    /** NIST SP 800-63B §5.1.1.2: at least 8 characters, long passphrases allowed, no composition rules. */
    public static String password(String raw, String field) {
        if (raw == null) {
            throw ApiProblem.badRequest("'" + field + "' is required.");
        }
        int length = raw.codePointCount(0, raw.length());
        if (length < MIN_PASSWORD || length > MAX_PASSWORD) {
            throw ApiProblem.badRequest("'" + field + "': a password is " + MIN_PASSWORD + "-" + MAX_PASSWORD
                    + " characters (got " + length + ")");
        }
        return raw;
    }

    /**
     * The display name given on input (sign-up, a new person), or null when absent. Empty or
     * blank is refused like one of invisible characters only: a name that shows nothing is a
     * mistake to be told of, not a request for none. Names already stored are not checked again.
     */
    public static String displayName(String raw) {
        if (raw == null) {
            return null;
        }
        String name = raw.strip();
        if (name.codePointCount(0, name.length()) > MAX_DISPLAY_NAME || name.chars().anyMatch(Character::isISOControl)) {
            throw ApiProblem.badRequest("'displayName': at most " + MAX_DISPLAY_NAME + " characters, no control characters");
        }
        if (VisibleText.showsNothing(name)) {
            throw ApiProblem.badRequest("'displayName' shows nothing: leave it out, or give at least one visible character");
        }
        int turn = VisibleText.firstDirectionOverride(name);
        if (turn >= 0) {
            // a name shown in another order than written can pass for someone else's
            throw ApiProblem.badRequest("'displayName' contains a direction override (U+"
                    + String.format("%04X", (int) name.charAt(turn)) + "), which shows it in another order than written");
        }
        return name;
    }

    private static String shorten(String raw) {
        return raw.length() > 40 ? raw.substring(0, 40) + "…" : raw;
    }
}
