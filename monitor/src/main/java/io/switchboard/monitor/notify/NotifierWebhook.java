package io.switchboard.monitor.notify;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.switchboard.monitor.definition.ChannelDefinition;
import io.switchboard.monitor.definition.ChannelDefinition.ChannelSettings;
import io.switchboard.monitor.definition.Redaction;
import io.switchboard.monitor.definition.UrlCredentials;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Webhook: a JSON POST of the notification. With a secret, the request carries
 * {@code X-Switchboard-Timestamp} (Unix seconds) and
 * {@code X-Switchboard-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>}
 * (RFC 2104), so the receiver can check origin and freshness. Any 2xx counts as delivered. A
 * message's {@code id} is in the body and in {@code Idempotency-Key}, the same on every delivery of
 * that message: a node that dies while sending leaves it to another node, which sends it again
 * marked {@code "repeat": true}, and a receiver that keeps the keys it saw drops the second copy.
 * A user and password in the URL are sent as Basic authentication ({@link UrlCredentials}). The
 * node's client follows no redirects (a 3xx is not delivered), so they reach the URL's host only.
 */
public final class NotifierWebhook implements Notifier {
    public static final String SIGNATURE_HEADER = "X-Switchboard-Signature";
    public static final String TIMESTAMP_HEADER = "X-Switchboard-Timestamp";
    /** The message's identity, the same on each delivery of it (see {@link Notification#id()}). */
    public static final String IDEMPOTENCY_HEADER = "Idempotency-Key";
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Bytes of the receiver's answer read at most: only its status matters. */
    static final int MAX_ANSWER = 16 * 1024;

    private final HttpClient http;
    private final Duration timeout;

    public NotifierWebhook(HttpClient http, Duration timeout) {
        this.http = http;
        this.timeout = timeout;
    }

    @Override
    public void send(ChannelDefinition channel, Notification n) throws DeliveryException, InterruptedException {
        ChannelSettings.Webhook settings = (ChannelSettings.Webhook) channel.settings();
        String body = body(n);
        URI url = URI.create(settings.url());
        // the user information goes as Basic authentication below, never in the request's URL
        HttpRequest.Builder request = HttpRequest.newBuilder(UrlCredentials.withoutUserInfo(url))
                .timeout(timeout)
                .header("Content-Type", "application/json")
                .header("User-Agent", "Switchboard-Monitor/1.0")
                .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        // set, not added: a channel's Content-Type or User-Agent replaces the default instead of
        // going out beside it (two of a single-value header)
        settings.headers().forEach(request::setHeader);
        String basic = UrlCredentials.basicAuthorization(url);
        if (basic != null && UrlCredentials.authorizationHeader(settings.headers()) == null) {
            // RFC 7617; a channel stored with an Authorization header too (refused when written now)
            // keeps sending that one
            request.setHeader(UrlCredentials.HEADER, basic);
        }
        if (n.id() != null && settings.headers().keySet().stream().noneMatch(IDEMPOTENCY_HEADER::equalsIgnoreCase)) {
            // the same key on every delivery of one message: a receiver that saw it drops the copy
            // (draft-ietf-httpapi-idempotency-key-header)
            request.header(IDEMPOTENCY_HEADER, n.id());
        }
        if (settings.secret() != null) {
            String timestamp = Long.toString(n.at().getEpochSecond());
            request.header(TIMESTAMP_HEADER, timestamp);
            request.header(SIGNATURE_HEADER, "sha256=" + sign(settings.secret(), timestamp + "." + body));
        }
        // the URL's path is often the credential (Slack, Discord): errors name only its masked form
        String shown = Redaction.url(settings.url());
        HttpResponse<byte[]> response;
        try {
            response = BoundedBody.send(http, request.build(), MAX_ANSWER, timeout);
        } catch (IOException e) {
            // the words name only the host and port, never the URL's path
            String why = "delivering to the webhook " + shown + " failed: " + DeliveryFailureText.network(e, host(url), port(url), timeout, false);
            throw DeliveryException.network(why, e);
        }
        int status = response.statusCode();
        if (status / 100 != 2) {
            throw DeliveryException.refused("the webhook " + shown + " answered HTTP " + status,
                    DeliveryException.retryableStatus(status));
        }
    }

    /** The URL's host, an IPv6 literal without its brackets. */
    static String host(URI url) {
        String host = url.getHost();
        return host != null && host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
    }

    /** The URL's port, or its scheme's (RFC 9110 §4.2). */
    static int port(URI url) {
        return url.getPort() >= 0 ? url.getPort() : "https".equalsIgnoreCase(url.getScheme()) ? 443 : 80;
    }

    /** The JSON posted; a digest carries its messages in {@code items}, each as a message alone would be. */
    static String body(Notification n) {
        ObjectNode root = JSON.createObjectNode();
        if (n.event() == Notification.Event.DIGEST) {
            root.put("event", "monitor." + n.event().wireName());
            root.put("count", n.digest().size());
            root.put("subject", n.subject());
            root.put("text", n.text());
            ArrayNode items = root.putArray("items");
            n.digest().forEach(item -> fill(items.addObject(), item));
        } else {
            fill(root, n);
        }
        root.put("sentAt", n.at().toString());
        return root.toString();
    }

    private static void fill(ObjectNode out, Notification n) {
        out.put("event", "monitor." + n.event().wireName());
        if (n.id() != null) {
            out.put("id", n.id());
        }
        if (n.repeat()) {
            out.put("repeat", true);
        }
        ObjectNode monitor = out.putObject("monitor");
        monitor.put("name", n.monitor());
        monitor.put("type", n.monitorType());
        monitor.put("target", n.target());
        monitor.put("status", n.status());
        if (n.incidentId() != null) {
            ObjectNode incident = out.putObject("incident");
            incident.put("id", n.incidentId());
            incident.put("since", n.since() == null ? null : n.since().toString());
            incident.put("failedChecks", n.failedChecks());
        }
        out.put("subject", n.subject());
        out.put("text", n.text());
    }

    public static String sign(String secret, String payload) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return HexFormat.of().formatHex(mac.doFinal(payload.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException("HMAC-SHA256 is not available", e);
        }
    }
}
