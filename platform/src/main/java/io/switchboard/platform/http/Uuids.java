package io.switchboard.platform.http;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Ids that are UUIDs, as clients may write them. RFC 9562 §4: the hex digits of a UUID are
 * case-insensitive on input, and output is lower case; the node stores them as
 * {@link java.util.UUID#toString()} writes them (lower case), so an id given in upper case (some
 * languages' UUID types print it so) is folded before it is looked up, rather than being "not found".
 */
public final class Uuids {
    private static final Pattern UUID = Pattern.compile("[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}");

    private Uuids() {
    }

    /** {@code id} in lower case when it is a UUID; anything else (a name, "me", garbage) as it is. */
    public static String folded(String id) {
        return id != null && UUID.matcher(id).matches() ? id.toLowerCase(Locale.ROOT) : id;
    }
}
