package io.switchboard.platform.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.StreamReadException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.javalin.http.servlet.JavalinWsServletContext;
import io.javalin.validation.ValidationException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.switchboard.platform.RootCause;
import io.switchboard.platform.store.StoreFailure;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns every failure of a request into RFC 9457 problem details and counts it in
 * {@code switchboard_http_errors_total{status}}.
 */
final class ProblemResponses {
    static final String CONTENT_TYPE = "application/problem+json";
    private static final Logger log = LoggerFactory.getLogger(ProblemResponses.class);

    private final ObjectMapper json;
    private final MeterRegistry meters;

    ProblemResponses(ObjectMapper json, MeterRegistry meters) {
        this.json = json;
        this.meters = meters;
        // the statuses alerts watch exist at 0 from the start, so rate() sees their first increase
        for (int status : new int[]{400, 401, 404, 429, 500, 503}) {
            counter(status);
        }
    }

    static final String TOO_LARGE_DETAIL = "The body is larger than the " + HttpServer.MAX_BODY_BYTES + " bytes a request may carry.";

    void apiProblem(ApiProblem problem, Context ctx) {
        problem.headers().forEach(ctx::header);
        send(ctx, problem.status(), problem.title(), problem.detail(), problem.type());
    }

    /** Javalin's own responses: no endpoint (404), method not allowed (405), bad request from validators. */
    void javalinResponse(HttpResponseException e, Context ctx) {
        int status = e.getStatus();
        String title = reasonPhrase(status);
        String detail = e.getMessage();
        String allowed = status == 405 ? e.getDetails().get("availableMethods") : null;
        if (status == 404) {
            detail = "No endpoint " + ctx.method().name() + " " + ctx.path();
        } else if (status == 413) {
            detail = TOO_LARGE_DETAIL;
        } else if (allowed != null) {
            detail = ctx.path() + " does not take " + ctx.method().name() + "; it takes " + allowed;
        }
        if (!e.getDetails().isEmpty() && allowed == null) {
            detail = detail + " (" + e.getDetails().entrySet().stream()
                    .map(d -> d.getKey() + ": " + d.getValue()).collect(Collectors.joining("; ")) + ")";
        }
        if (allowed != null) {
            ctx.header("Allow", allowed);
        }
        send(ctx, status, title, detail, "about:blank");
    }

    /** A request body that is not JSON, or JSON of the wrong shape. */
    void badJson(JsonProcessingException e, Context ctx) {
        String detail;
        if (e instanceof ValueInstantiationException vie && vie.getCause() != null) {
            // A record's constructor refused the values; its message says why.
            detail = "Invalid request body: " + vie.getCause().getMessage();
        } else if (e instanceof StreamReadException || e instanceof MismatchedInputException) {
            detail = "Invalid JSON in request body: " + RequestBodies.withoutParserInternals(e.getOriginalMessage())
                    + (e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr()
                    + ", column " + e.getLocation().getColumnNr() + ")");
        } else {
            uncaught(e, ctx);
            return;
        }
        send(ctx, 400, "Bad Request", detail, "about:blank");
    }

    void validation(ValidationException e, Context ctx) {
        String detail = e.getErrors().entrySet().stream()
                .map(err -> err.getKey() + ": " + err.getValue().stream()
                        .map(v -> v.getMessage()).collect(Collectors.joining(", ")))
                .collect(Collectors.joining("; "));
        send(ctx, 400, "Bad Request", detail, "about:blank");
    }

    void uncaught(Exception e, Context ctx) {
        var storeFailure = StoreFailure.kind(e);
        if (storeFailure.isPresent()) {
            storeUnavailable(e, storeFailure.get(), ctx);
            return;
        }
        log.error("HTTP {} {} failed", ctx.method().name(), ctx.path(), e);
        send(ctx, 500, "Internal Server Error", "The request failed on the server; the node's log has the details.",
                "about:blank");
    }

    /**
     * A store failure that will pass (database down or silent, out of connections, a lock or
     * serialization conflict, SQLite busy): 503 with Retry-After, so clients and balancers retry
     * instead of reporting a server bug. Logged in one line: during an outage there are many.
     */
    private void storeUnavailable(Exception e, StoreFailure.Kind kind, Context ctx) {
        log.warn("HTTP {} {}: store unavailable: {}", ctx.method().name(), ctx.path(), RootCause.message(e));
        ctx.header("Retry-After", Integer.toString(kind.retryAfterSeconds()));
        String detail = switch (kind) {
            case UNREACHABLE -> "The database is unavailable or not answering; retry in a few seconds.";
            case CONFLICT -> "The request collided with another one in the database; retry it.";
            case NO_SPACE -> "The database cannot write: the disk holding it is full. Nothing was stored;"
                    + " retry once space is freed.";
        };
        send(ctx, 503, "Service Unavailable", detail, "about:blank");
    }

    private void send(Context ctx, int status, String title, String detail, String type) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("type", type);
        body.put("title", title);
        body.put("status", status);
        if (detail != null) {
            // every path, not only ApiProblem's: a 404 quotes the request's path, a body's record a value from it
            body.put("detail", ApiProblem.bounded(detail));
        }
        body.put("instance", ApiProblem.bounded(ctx.path()));
        String text;
        try {
            text = json.writeValueAsString(body);
        } catch (JsonProcessingException impossible) {
            text = "{\"title\":\"Internal Server Error\",\"status\":500}";
        }
        count(status);
        ctx.status(status).contentType(CONTENT_TYPE);
        if (ctx instanceof JavalinWsServletContext) {
            // A refused WebSocket upgrade: Javalin runs the exception mapping on its upgrade
            // context but never writes that context's result, so the problem would leave with
            // its status and content type and an empty body. Write it to the response directly.
            writeNow(ctx, text);
        } else {
            // as bytes: a String result is encoded in the response's charset, which for this
            // content type is ISO-8859-1, and a detail naming "änna" would not be UTF-8 JSON (RFC 8259 §8.1)
            ctx.result(text.getBytes(StandardCharsets.UTF_8));
        }
    }

    void count(int status) {
        counter(status).increment();
    }

    private Counter counter(int status) {
        return Counter.builder("switchboard.http.errors")
                .description("HTTP requests answered with an error status")
                .tag("status", Integer.toString(status))
                .register(meters);
    }

    private static void writeNow(Context ctx, String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        try {
            ctx.res().setContentLength(bytes.length);
            ctx.res().getOutputStream().write(bytes);
        } catch (IOException | RuntimeException e) {
            log.debug("the problem body of a refused WebSocket upgrade of {} could not be written: {}", ctx.path(),
                    e.toString());
        }
    }

    static String reasonPhrase(int status) {
        return switch (status) {
            case 400 -> "Bad Request";
            case 401 -> "Unauthorized";
            case 403 -> "Forbidden";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 408 -> "Request Timeout";
            case 409 -> "Conflict";
            case 411 -> "Length Required";
            case 413 -> "Content Too Large";
            case 414 -> "URI Too Long";
            case 415 -> "Unsupported Media Type";
            case 417 -> "Expectation Failed";
            case 422 -> "Unprocessable Content";
            case 429 -> "Too Many Requests";
            case 431 -> "Request Header Fields Too Large";
            case 500 -> "Internal Server Error";
            case 501 -> "Not Implemented";
            case 503 -> "Service Unavailable";
            case 505 -> "HTTP Version Not Supported";
            default -> status >= 500 ? "Server Error" : "Client Error";
        };
    }
}
