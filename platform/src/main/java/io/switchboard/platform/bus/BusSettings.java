package io.switchboard.platform.bus;

import io.switchboard.platform.config.ConfigSection;
import java.net.URI;
import java.util.List;
import java.util.Optional;

/**
 * The {@code bus:} block. Without {@code url} a node runs alone with the in-process bus; with it,
 * nodes share events through RabbitMQ: {@code url: amqp://HOST:5672/VHOST}, {@code user},
 * {@code password}, and {@code exchange} (the topic exchange every node of one cluster uses).
 */
public record BusSettings(URI url, String user, String password, String exchange) {
    public static final List<String> KNOWN_KEYS = List.of("url", "user", "password", "exchange");

    /** The virtual host the URL's path names: {@code amqp://h/} and {@code amqp://h} mean RabbitMQ's default, {@code /}. */
    public String virtualHost() {
        String path = url.getPath();
        return path == null || path.isEmpty() || path.equals("/") ? "/" : path.substring(1);
    }

    /** The RabbitMQ settings, or empty for the in-process bus. */
    public static Optional<BusSettings> from(ConfigSection section) {
        section.allowOnly(KNOWN_KEYS);
        Optional<String> raw = section.string("url");
        if (raw.isEmpty() || raw.get().isBlank()) {
            return Optional.empty();
        }
        URI url;
        try {
            url = URI.create(raw.get().strip());
        } catch (IllegalArgumentException e) {
            throw section.problem("url", "\"" + raw.get() + "\" is not a URL; expected amqp://HOST:PORT/VHOST");
        }
        if (!"amqp".equals(url.getScheme()) && !"amqps".equals(url.getScheme()) || url.getHost() == null) {
            throw section.problem("url", "\"" + raw.get() + "\" is not an amqp:// or amqps:// URL with a host");
        }
        if (url.getUserInfo() != null) {
            throw section.problem("url", "put the credentials in bus.user and bus.password, not in the URL");
        }
        String exchange = section.string("exchange", "switchboard");
        if (!exchange.matches("[A-Za-z0-9_.:-]{1,200}")) {
            throw section.problem("exchange", "\"" + exchange + "\": 1-200 of letters, digits, _ . : -");
        }
        return Optional.of(new BusSettings(url, section.string("user", "guest"), section.string("password", "guest"), exchange));
    }
}
