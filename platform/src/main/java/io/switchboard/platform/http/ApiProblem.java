package io.switchboard.platform.http;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An error a route reports to the client, rendered as RFC 9457 problem details
 * ({@code application/problem+json} with {@code type}, {@code title}, {@code status},
 * {@code detail}). Throw it from any handler; the HTTP server renders and counts it.
 *
 * <p>The title is short and fixed per kind of problem ("Not Found"); the detail says what was
 * wrong with this request ("no account 'alice'").
 */
public class ApiProblem extends RuntimeException {
    private final int status;
    private final String title;
    private final String detail;
    private final String type;
    private final Map<String, String> headers;

    public ApiProblem(int status, String title, String detail) {
        this(status, title, detail, "about:blank", Map.of());
    }

    private ApiProblem(int status, String title, String detail, String type, Map<String, String> headers) {
        super(status + " " + title + (detail == null ? "" : ": " + bounded(detail)), null, false, false);
        if (status < 400 || status > 599) {
            throw new IllegalArgumentException("a problem's status is 4xx or 5xx, not " + status);
        }
        this.status = status;
        this.title = title;
        this.detail = bounded(detail);
        this.type = type;
        this.headers = Map.copyOf(headers);
    }

    /** The longest detail sent; what is longer has its middle left out ({@link #bounded}). */
    static final int MAX_DETAIL = 2000;

    /**
     * A detail of at most {@link #MAX_DETAIL} characters: one longer (a message that quotes a
     * client's whole value, where {@link QuotedValue} was not used) keeps its start, which names
     * the field, and its end, which says what was expected, with the middle left out. No answer
     * gives back tens of kilobytes of what the client sent.
     */
    static String bounded(String detail) {
        if (detail == null || detail.length() <= MAX_DETAIL) {
            return detail;
        }
        int head = MAX_DETAIL / 2;
        int tail = detail.length() - MAX_DETAIL / 4;
        if (Character.isLowSurrogate(detail.charAt(head))) {
            head--; // not half a character
        }
        if (Character.isLowSurrogate(detail.charAt(tail))) {
            tail++;
        }
        return detail.substring(0, head) + "… (" + (tail - head) + " characters left out) …" + detail.substring(tail);
    }

    public static ApiProblem badRequest(String detail) {
        return new ApiProblem(400, "Bad Request", detail);
    }

    public static ApiProblem unauthorized(String detail) {
        return new ApiProblem(401, "Unauthorized", detail);
    }

    public static ApiProblem forbidden(String detail) {
        return new ApiProblem(403, "Forbidden", detail);
    }

    public static ApiProblem notFound(String detail) {
        return new ApiProblem(404, "Not Found", detail);
    }

    public static ApiProblem conflict(String detail) {
        return new ApiProblem(409, "Conflict", detail);
    }

    public static ApiProblem unavailable(String detail) {
        return new ApiProblem(503, "Service Unavailable", detail);
    }

    /** The same problem with a URI identifying its type (RFC 9457 §3.1.1); default about:blank. */
    public ApiProblem withType(String typeUri) {
        return new ApiProblem(status, title, detail, typeUri, headers);
    }

    /** The same problem sent with an extra response header, e.g. {@code WWW-Authenticate}. */
    public ApiProblem withHeader(String name, String value) {
        Map<String, String> more = new LinkedHashMap<>(headers);
        more.put(name, value);
        return new ApiProblem(status, title, detail, type, more);
    }

    public int status() {
        return status;
    }

    public String title() {
        return title;
    }

    public String detail() {
        return detail;
    }

    public String type() {
        return type;
    }

    public Map<String, String> headers() {
        return headers;
    }
}
