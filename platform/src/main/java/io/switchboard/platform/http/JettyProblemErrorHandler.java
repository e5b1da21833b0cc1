package io.switchboard.platform.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Jetty's own error answers as RFC 9457 problem details instead of its HTML pages: what Jetty
 * refuses before any route of ours runs (414 URI too long, 431 header fields too large, 400 for a
 * bad URI, header or body framing, 505 for an unknown HTTP version) and what its servlet layer
 * reports outside Javalin. Installed on the server and on the servlet context; counted in
 * {@code switchboard_http_errors_total{status}} like every other error.
 */
final class JettyProblemErrorHandler extends ErrorHandler {
    private final ObjectMapper json;
    private final ProblemResponses problems;

    JettyProblemErrorHandler(ObjectMapper json, ProblemResponses problems) {
        this.json = json;
        this.problems = problems;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        int status = response.getStatus() >= 400 ? response.getStatus() : HttpStatus.INTERNAL_SERVER_ERROR_500;
        // Jetty's own refusals (bad URI, header, framing) are HttpExceptions and carry a reason
        // meant for the client. For any other exception Jetty sets ERROR_MESSAGE to the
        // exception's toString(): class names and whatever the message holds (URLs, values).
        // That stays in the log; the client gets what the status means.
        Object cause = request.getAttribute(ERROR_EXCEPTION);
        Object message;
        if (cause instanceof org.eclipse.jetty.http.HttpException bad) {
            message = bad.getReason();
        } else if (cause != null || status >= 500) {
            message = null;
        } else {
            message = request.getAttribute(ERROR_MESSAGE);
        }
        String path = request.getHttpURI() == null ? null : request.getHttpURI().getPath();
        byte[] body = body(status, message == null ? null : message.toString(), path);
        problems.count(status);
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, ProblemResponses.CONTENT_TYPE);
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
        if (HttpStatus.hasNoBody(status) || HttpMethod.HEAD.is(request.getMethod())) {
            callback.succeeded();
            return true;
        }
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        response.write(true, ByteBuffer.wrap(body), callback);
        return true;
    }

    private byte[] body(int status, String message, String path) {
        Map<String, Object> problem = new LinkedHashMap<>();
        problem.put("type", "about:blank");
        problem.put("title", ProblemResponses.reasonPhrase(status));
        problem.put("status", status);
        problem.put("detail", detail(status, message));
        // Jetty names a request it could not parse "/badMessage"; that is no resource of ours.
        if (path != null && !path.isEmpty() && !path.equals("/badMessage")) {
            problem.put("instance", path);
        }
        try {
            return json.writeValueAsBytes(problem);
        } catch (JsonProcessingException impossible) {
            return ("{\"status\":" + status + "}").getBytes(StandardCharsets.UTF_8);
        }
    }

    /** Jetty's reason when it gave one (parser messages, no internals), else what the status means. */
    private static String detail(int status, String message) {
        String jetty = message == null || message.isBlank() || message.equals(HttpStatus.getMessage(status)) ? null
                : message.strip();
        String meaning = switch (status) {
            case 400 -> "The request is malformed (request line, URI, header or body framing).";
            case 414 -> "The request URI is too long.";
            case 431 -> "The request's header fields are too large.";
            case 505 -> "This HTTP version is not supported; use HTTP/1.1.";
            default -> HttpStatus.getMessage(status) + ".";
        };
        return jetty == null ? meaning : meaning + " (" + (jetty.length() > 200 ? jetty.substring(0, 200) + "…" : jetty) + ")";
    }
}
