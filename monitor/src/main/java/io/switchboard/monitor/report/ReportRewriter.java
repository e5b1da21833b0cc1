package io.switchboard.monitor.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.switchboard.monitor.notify.BoundedBody;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks an OpenAI-compatible chat-completions endpoint ({@code POST {baseUrl}/chat/completions}) to
 * rewrite a template report for a reader who knows nothing about networks. Whatever goes wrong —
 * no answer within the timeout, an error status, an answer that is not the expected JSON, an empty
 * or overlong text, a text the model did not finish (cut at its length limit or by a content
 * filter), a text that no longer names the monitor — yields empty, and the caller keeps the
 * template's report. The API key is sent as a bearer token and never logged.
 */
public final class ReportRewriter {
    private static final Logger log = LoggerFactory.getLogger(ReportRewriter.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_LENGTH = 4000;
    /** Bytes of the endpoint's answer read at most: a chat completion of MAX_LENGTH characters fits many times. */
    static final int MAX_ANSWER = 256 * 1024;
    static final String INSTRUCTIONS = "You rewrite monitoring incident reports for people who are not engineers."
            + " Keep every fact, time, number and name exactly; add nothing that is not in the report; no guesses about"
            + " causes; no markdown. Answer with the rewritten report only, at most six short sentences.";

    private final URI endpoint;
    private final String model;
    private final String apiKey;
    private final Duration timeout;
    private final HttpClient http;

    public ReportRewriter(String baseUrl, String model, String apiKey, Duration timeout) {
        String base = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
        this.endpoint = URI.create(base + "/chat/completions");
        this.model = model;
        this.apiKey = apiKey;
        this.timeout = timeout;
        // HTTP/1.1: a local http:// endpoint would otherwise be offered "Upgrade: h2c" with each POST
        this.http = HttpClient.newBuilder().connectTimeout(timeout).version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER).build();
    }

    public String model() {
        return model;
    }

    /**
     * Whether a text names the monitor in whole words, case aside, with punctuation read as spaces:
     * "api-gateway" is named by "the API gateway", and "rs" is not named by "users and servers".
     */
    static boolean names(String text, String monitor) {
        return words(text).contains(words(monitor));
    }

    /** " word word " in lower case: letters and digits, everything between them one space, one at each end. */
    private static String words(String text) {
        return " " + text.toLowerCase(Locale.ROOT).replaceAll("[^\\p{L}\\p{N}]+", " ").strip() + " ";
    }

    /** The report rewritten; {@code monitor}: the name the rewrite must still mention (case aside). */
    public Optional<String> rewrite(String report, String monitor) {
        ObjectNode body = JSON.createObjectNode();
        body.put("model", model);
        body.put("temperature", 0);
        ArrayNode messages = body.putArray("messages");
        messages.addObject().put("role", "system").put("content", INSTRUCTIONS);
        messages.addObject().put("role", "user").put("content", report);
        HttpRequest.Builder request = HttpRequest.newBuilder(endpoint)
                .timeout(timeout)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()));
        if (apiKey != null && !apiKey.isBlank()) {
            request.header("Authorization", "Bearer " + apiKey);
        }
        HttpResponse<byte[]> response;
        try {
            // the timeout bounds the whole answer, body included; at most MAX_ANSWER bytes of it are read
            response = BoundedBody.send(http, request.build(), MAX_ANSWER, timeout);
        } catch (HttpTimeoutException e) {
            log.warn("report rewrite: {} gave no answer within {} ms; the template's report is used", endpoint, timeout.toMillis());
            return Optional.empty();
        } catch (IOException e) {
            log.warn("report rewrite: {} failed ({}); the template's report is used", endpoint, e.toString());
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
        if (response.statusCode() / 100 != 2) {
            log.warn("report rewrite: {} answered HTTP {}; the template's report is used", endpoint, response.statusCode());
            return Optional.empty();
        }
        try {
            JsonNode choice = JSON.readTree(response.body()).path("choices").path(0);
            JsonNode content = choice.path("message").path("content");
            String text = content.isTextual() ? content.asText().strip() : "";
            // "length": cut at the token limit mid-sentence; "content_filter": parts left out
            String finish = choice.path("finish_reason").asText("");
            String unusable = text.isEmpty() ? "no text"
                    : text.length() > MAX_LENGTH ? "a text of " + text.length() + " characters"
                    : finish.equals("length") || finish.equals("content_filter") ? "an unfinished text (finish_reason " + finish + ")"
                    : !names(text, monitor) ? "a text that does not name " + monitor
                    : null;
            if (unusable != null) {
                log.warn("report rewrite: {} answered {}; the template's report is used", endpoint, unusable);
                return Optional.empty();
            }
            return Optional.of(text);
        } catch (IOException e) {
            log.warn("report rewrite: {} answered something that is not chat-completions JSON; the template's report is used",
                    endpoint);
            return Optional.empty();
        }
    }
}
