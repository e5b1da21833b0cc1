package io.switchboard.platform.http;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.http.Context;

/** Reading request bodies the same way in every API: a JSON object, or a 400 problem that says what is wrong. */
public final class RequestBodies {
    private RequestBodies() {
    }

    /**
     * The body as a JSON object; a 400 problem (without parser internals) when it is not one, or
     * when any of its strings cannot be stored ({@link StorableText}: NUL, unpaired surrogates).
     */
    public static JsonNode object(ObjectMapper json, Context ctx) {
        JsonNode node;
        try (JsonParser parser = json.getFactory().createParser(ctx.bodyAsBytes())) {
            // RFC 8259 §4: names within an object SHOULD be unique; a second "text" would silently
            // win, so it is refused, as the configuration's YAML refuses a key written twice
            parser.enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
            node = json.readTree(parser);
            requireNothingAfter(parser);
        } catch (JsonProcessingException e) {
            var where = e.getLocation();
            throw ApiProblem.badRequest("The body must be a JSON object: " + withoutParserInternals(e.getOriginalMessage())
                    + (where == null ? "" : " (line " + where.getLineNr() + ", column " + where.getColumnNr() + ")"));
        } catch (java.io.IOException e) {
            throw ApiProblem.badRequest("The body could not be read as JSON.");
        }
        if (node == null || !node.isObject()) {
            throw ApiProblem.badRequest("The body must be a JSON object.");
        }
        StorableText.requireAll(node);
        return node;
    }

    /** A JSON text is one value (RFC 8259 §2): whatever follows the object is a mistake, not ignored. */
    private static void requireNothingAfter(JsonParser parser) throws java.io.IOException {
        var where = parser.currentLocation();
        boolean more;
        try {
            more = parser.nextToken() != null;
        } catch (JsonProcessingException e) {
            more = true;
        }
        if (more) {
            throw ApiProblem.badRequest("The body must be one JSON object with nothing after it (more follows at line "
                    + where.getLineNr() + ", column " + where.getColumnNr() + ").");
        }
    }

    /** A string field of a JSON object: null when absent or null, a 400 problem naming it when not a string. */
    public static String optionalText(JsonNode body, String field) {
        JsonNode value = body.get(field);
        if (value == null || value.isNull()) {
            return null;
        }
        if (!value.isTextual()) {
            throw ApiProblem.badRequest("'" + field + "' must be a string.");
        }
        return value.asText();
    }

    /** Jackson's message without its "(start marker at [Source: ...; line: 1, column: 1])" asides. */
    static String withoutParserInternals(String message) {
        return message == null ? "" : message.replaceAll("\\s*\\(start marker at \\[Source:[^\\]]*\\][^)]*\\)", "")
                .replaceAll("\\s*\\[Source:[^\\]]*\\]", "").strip();
    }
}
