package io.switchboard.platform.http;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;

/**
 * Text the node can store and give back unchanged, on SQLite and PostgreSQL alike: no NUL
 * character (PostgreSQL's text types cannot hold U+0000 and refuse the whole statement) and no
 * unpaired UTF-16 surrogate (not a Unicode scalar value, so it has no UTF-8 form; RFC 8259 §8.2
 * leaves such strings' behaviour unpredictable). Checked where request text enters the node, so a
 * client learns which field is wrong (400) instead of getting a 500, or a 503 "retry" that can
 * never succeed, from the database.
 */
public final class StorableText {
    private StorableText() {
    }

    /** Why {@code text} cannot be stored, or empty when it can (null can). */
    public static Optional<String> problem(String text) {
        if (text == null) {
            return Optional.empty();
        }
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\u0000') {
                return Optional.of("contains a NUL character (U+0000) at position " + i
                        + ", which cannot be stored; remove it");
            }
            if (Character.isHighSurrogate(c)) {
                if (i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                    i++;
                    continue;
                }
                return Optional.of(unpaired(c, i));
            }
            if (Character.isLowSurrogate(c)) {
                return Optional.of(unpaired(c, i));
            }
        }
        return Optional.empty();
    }

    private static String unpaired(char c, int position) {
        return String.format("contains an unpaired surrogate (\\u%04X) at position %d, which is not valid Unicode;"
                + " send the whole character (both halves of the pair) or none", (int) c, position);
    }

    /**
     * Throws a 400 problem naming {@code field} when {@code text} cannot be stored.
     *
     * @param field what the client calls it: {@code 'text'}, {@code query parameter 'q'}
     */
    public static void require(String field, String text) {
        Optional<String> problem = problem(text);
        if (problem.isPresent()) {
            throw ApiProblem.badRequest(field + " " + problem.get() + ".");
        }
    }

    /**
     * Checks every string in a JSON document, member names included; a 400 problem names the
     * first bad one by its path ({@code 'members[2]'}, {@code 'settings.url'}).
     */
    public static void requireAll(JsonNode node) {
        check(node, "");
    }

    private static void check(JsonNode node, String path) {
        if (node == null) {
            return;
        }
        if (node.isTextual()) {
            require("'" + (path.isEmpty() ? "(body)" : path) + "'", node.textValue());
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                check(node.get(i), path + "[" + i + "]");
            }
        } else if (node.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> member = it.next();
                String name = member.getKey();
                String memberPath = path.isEmpty() ? name : path + "." + name;
                Optional<String> problem = problem(name);
                if (problem.isPresent()) {
                    throw ApiProblem.badRequest("a member name in '" + (path.isEmpty() ? "(body)" : path) + "' "
                            + problem.get() + ".");
                }
                check(member.getValue(), memberPath);
            }
        }
    }
}
