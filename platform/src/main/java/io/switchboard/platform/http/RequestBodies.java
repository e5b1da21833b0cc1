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
        requireJsonType(ctx.header("Content-Type"));
        return object(json, boundedBody(ctx), "The body");
    }

    /**
     * The body, or a 413 problem past {@link HttpServer#MAX_BODY_BYTES}: read here rather than by
     * Javalin, whose limit logs a warning with neither path nor client for what is the client's
     * mistake, and answers before a module can count it. A refused body is read to its end (up to a
     * bound) before the 413, so that the client gets it; unless the client waits for 100 Continue
     * first: then it gets the 413 instead, before it sends anything.
     */
    static byte[] boundedBody(Context ctx) {
        java.io.InputStream in;
        byte[] body;
        try {
            // Checked before the body is touched: Jetty sends 100 Continue on the first read.
            if (ctx.req().getContentLengthLong() > HttpServer.MAX_BODY_BYTES) {
                if (expectsContinue(ctx)) {
                    // RFC 9110 §10.1.1: a server that will refuse the request may send the final
                    // status instead of 100, and the client then need not send the body. It may
                    // still send it (it may not have waited), so the connection is closed after
                    // the answer rather than read on as a next request (RFC 9112 §9.6).
                    throw tooLarge().withHeader("Connection", "close");
                }
                discard(ctx.req().getInputStream());
                throw tooLarge();
            }
            in = ctx.req().getInputStream();
            body = in.readNBytes((int) HttpServer.MAX_BODY_BYTES + 1);
            if (body.length > HttpServer.MAX_BODY_BYTES) {
                discard(in);
                throw tooLarge();
            }
        } catch (java.io.IOException e) {
            throw unreadBody(e);
        }
        return body;
    }

    /** Whether the client waits for 100 Continue before sending the body (RFC 9110 §10.1.1; the token is case-insensitive). */
    private static boolean expectsContinue(Context ctx) {
        String expect = ctx.header("Expect");
        return expect != null && expect.strip().equalsIgnoreCase("100-continue");
    }

    /** What is read and thrown away of a body refused as too large, at most. */
    private static final long DISCARDED_AT_MOST = 4L * HttpServer.MAX_BODY_BYTES;

    /**
     * Reads and drops the rest of a refused body, up to {@link #DISCARDED_AT_MOST}: a server that
     * closes a connection with request bytes unread makes the kernel reset it, and the client may
     * lose the 413 already sent (RFC 9112 §9.6). Past that, the connection closes anyway.
     */
    private static void discard(java.io.InputStream in) throws java.io.IOException {
        long left = DISCARDED_AT_MOST;
        byte[] sink = new byte[64 * 1024];
        int read;
        while (left > 0 && (read = in.read(sink, 0, (int) Math.min(sink.length, left))) >= 0) {
            left -= read;
        }
    }

    private static ApiProblem tooLarge() {
        return new ApiProblem(413, "Content Too Large", ProblemResponses.TOO_LARGE_DETAIL);
    }

    /**
     * A body sent as a form is 415 (RFC 9110 §15.5.16), with {@code Accept: application/json}
     * saying what is taken (RFC 7694 §3): {@code curl -d} without a type sends form encoding, and a
     * client that means a form should hear so rather than have it read as JSON by chance. JSON is
     * UTF-8 (RFC 8259 §8.1), so a charset, if given, is UTF-8. Other types are read as JSON, as is
     * a body with none: a browser's {@code fetch} without headers and {@code navigator.sendBeacon}
     * send JSON as {@code text/plain}.
     */
    static void requireJsonType(String contentType) {
        if (contentType == null || contentType.isBlank()) {
            return;
        }
        String[] parts = contentType.split(";");
        String type = parts[0].strip().toLowerCase(java.util.Locale.ROOT);
        boolean form = type.equals("application/x-www-form-urlencoded") || type.startsWith("multipart/");
        String charset = null;
        for (int i = 1; i < parts.length; i++) {
            String parameter = parts[i].strip();
            int equals = parameter.indexOf('=');
            if (equals > 0 && parameter.substring(0, equals).strip().equalsIgnoreCase("charset")) {
                charset = parameter.substring(equals + 1).strip().replace("\"", "");
            }
        }
        // us-ascii is a subset of UTF-8: a client that says so sends what is read
        boolean utf8 = charset == null || charset.equalsIgnoreCase("utf-8") || charset.equalsIgnoreCase("utf8")
                || charset.equalsIgnoreCase("us-ascii");
        if (form || !utf8) {
            String shown = contentType.length() > 80 ? contentType.substring(0, 80) + "…" : contentType;
            throw new ApiProblem(415, "Unsupported Media Type", "The body is JSON: send it with Content-Type: application/json"
                    + " (got " + shown + ").").withHeader("Accept", "application/json");
        }
    }

    /**
     * As {@link #object(ObjectMapper, Context)}, for JSON that does not come as a request body (a
     * WebSocket text frame): one object, names unique, nothing after it, every string storable.
     *
     * @param what how the problem's detail names the JSON ("A frame")
     */
    public static JsonNode object(ObjectMapper json, byte[] bytes, String what) {
        int invalid = firstInvalidUtf8(bytes);
        if (invalid >= 0) {
            // Jackson decodes overlong forms without a word ("\xc0\xbc" is "<"), so they are refused
            // before it reads them (RFC 8259 §8.1: JSON is UTF-8; RFC 3629 §3 and §10: overlong
            // forms are invalid and a known way past filters)
            throw ApiProblem.badRequest(what + " is not valid UTF-8 (at byte " + invalid + ").");
        }
        JsonNode node;
        try (JsonParser parser = json.getFactory().createParser(bytes)) {
            // RFC 8259 §4: names within an object SHOULD be unique; a second "text" would silently
            // win, so it is refused, as the configuration's YAML refuses a key written twice
            parser.enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
            node = json.readTree(parser);
            requireNothingAfter(parser, what);
        } catch (JsonProcessingException e) {
            var where = e.getLocation();
            throw ApiProblem.badRequest(what + " must be a JSON object: " + withoutParserInternals(e.getOriginalMessage())
                    + (where == null ? "" : " (line " + where.getLineNr() + ", column " + where.getColumnNr() + ")"));
        } catch (java.io.IOException e) {
            throw ApiProblem.badRequest(what + " could not be read as JSON.");
        }
        if (node == null || !node.isObject()) {
            throw ApiProblem.badRequest(what + " must be a JSON object.");
        }
        StorableText.requireAll(node);
        return node;
    }

    /**
     * The offset of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629 §4:
     * no overlong forms, no surrogates, nothing past U+10FFFF), or -1 when all of them do.
     */
    static int firstInvalidUtf8(byte[] bytes) {
        int i = 0;
        while (i < bytes.length) {
            int lead = bytes[i] & 0xFF;
            if (lead < 0x80) {
                i++;
                continue;
            }
            int trailing;
            int secondLow = 0x80;
            int secondHigh = 0xBF;
            if (lead >= 0xC2 && lead <= 0xDF) {
                trailing = 1;
            } else if (lead >= 0xE0 && lead <= 0xEF) {
                trailing = 2;
                if (lead == 0xE0) {
                    secondLow = 0xA0; // below: overlong
                } else if (lead == 0xED) {
                    secondHigh = 0x9F; // above: a surrogate
                }
            } else if (lead >= 0xF0 && lead <= 0xF4) {
                trailing = 3;
                if (lead == 0xF0) {
                    secondLow = 0x90; // below: overlong
                } else if (lead == 0xF4) {
                    secondHigh = 0x8F; // above: past U+10FFFF
                }
            } else {
                return i; // a continuation byte, C0/C1 (always overlong) or F5..FF
            }
            if (i + trailing >= bytes.length) {
                return i;
            }
            int second = bytes[i + 1] & 0xFF;
            if (second < secondLow || second > secondHigh) {
                return i;
            }
            for (int k = 2; k <= trailing; k++) {
                int next = bytes[i + k] & 0xFF;
                if (next < 0x80 || next > 0xBF) {
                    return i;
                }
            }
            i += trailing + 1;
        }
        return -1;
    }

    /** A JSON text is one value (RFC 8259 §2): whatever follows the object is a mistake, not ignored. */
    private static void requireNothingAfter(JsonParser parser, String what) throws java.io.IOException {
        var where = parser.currentLocation();
        boolean more;
        try {
            more = parser.nextToken() != null;
        } catch (JsonProcessingException e) {
            more = true;
        }
        if (more) {
            throw ApiProblem.badRequest(what + " must be one JSON object with nothing after it (more follows at line "
                    + where.getLineNr() + ", column " + where.getColumnNr() + ").");
        }
    }

    /**
     * Refuses a field the endpoint does not take, naming those it does: a misspelt optional field
     * ("digets") would otherwise be passed over and its setting silently lost.
     */
    public static void requireOnly(JsonNode body, java.util.Set<String> fields) {
        for (var names = body.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!fields.contains(name)) {
                throw ApiProblem.badRequest("'" + (name.length() > 40 ? name.substring(0, 40) + "…" : name)
                        + "' is not a field here; expected " + String.join(", ", new java.util.TreeSet<>(fields)));
            }
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
                .replaceAll("\\s*\\[Source:[^\\]]*\\]", "")
                .replaceAll(",\\s*from `StreamReadConstraints[^`]*`", "").strip();
    }

    /**
     * A body that stopped arriving, in plain words: 408 when the connection's idle timeout passed
     * (RFC 9110 §15.5.9: the client may send it again), 400 when the client ended it early; Jetty's
     * own text is kept out of the answer.
     */
    static ApiProblem unreadBody(java.io.IOException e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof java.util.concurrent.TimeoutException || t instanceof java.net.SocketTimeoutException) {
                return new ApiProblem(408, "Request Timeout", "The request body stopped arriving before it was whole;"
                        + " send the request again.");
            }
        }
        return ApiProblem.badRequest("The request body ended before it was whole (the connection closed, or the"
                + " chunked encoding broke off).");
    }
}
