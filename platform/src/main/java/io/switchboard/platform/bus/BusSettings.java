package io.switchboard.platform.bus;

import io.switchboard.platform.config.ConfigSection;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The {@code bus:} block. Without {@code url} a node runs alone with the in-process bus; with it,
 * nodes share events through RabbitMQ: {@code url: amqp://HOST:5672/VHOST}, {@code user},
 * {@code password}, and {@code exchange} (the topic exchange every node of one cluster uses).
 * {@code url} may name several brokers of one RabbitMQ cluster, separated by commas
 * ({@code amqp://rabbit1:5672/sb,amqp://rabbit2:5672/sb}) or as a YAML list: the node connects to one that answers,
 * trying them in a new random order at each connection (which spreads the nodes over the
 * brokers), and to another when it is lost. They must share scheme and virtual host.
 *
 * <p>{@code linger} (default {@link #DEFAULT_LINGER}, at most {@link #MAX_LINGER}): under load, a
 * node sends to the other nodes at most one batch of events per this much time (packed by topic,
 * see RabbitBus; at once when a whole batch waits), so the broker routes fewer, fuller packs; an
 * event after a quiet spell still goes at once. It is the most it adds to an event's way to another node.
 */
public record BusSettings(List<URI> urls, String user, String password, String exchange, Duration linger) {
    public static final List<String> KNOWN_KEYS = List.of("url", "user", "password", "exchange", "linger");
    public static final Duration DEFAULT_LINGER = Duration.ZERO;
    public static final Duration MAX_LINGER = Duration.ofMillis(200);

    public BusSettings {
        if (urls == null || urls.isEmpty()) {
            throw new IllegalArgumentException("a RabbitMQ bus needs at least one broker URL");
        }
        urls = List.copyOf(urls);
        if (linger == null) {
            linger = DEFAULT_LINGER;
        }
        if (linger.isNegative() || linger.compareTo(MAX_LINGER) > 0) {
            throw new IllegalArgumentException("bus.linger must be within 0.." + MAX_LINGER.toMillis() + "ms");
        }
    }

    /** Brokers with the default linger. */
    public BusSettings(List<URI> urls, String user, String password, String exchange) {
        this(urls, user, password, exchange, DEFAULT_LINGER);
    }

    /** One broker. */
    public BusSettings(URI url, String user, String password, String exchange) {
        this(List.of(url), user, password, exchange, DEFAULT_LINGER);
    }

    /** The first broker (the others share its scheme and virtual host). */
    public URI url() {
        return urls.getFirst();
    }

    /** The virtual host the URL's path names: {@code amqp://h/} and {@code amqp://h} mean RabbitMQ's default, {@code /}. */
    public String virtualHost() {
        return virtualHost(url());
    }

    private static String virtualHost(URI url) {
        String path = url.getPath();
        return path == null || path.isEmpty() || path.equals("/") ? "/" : path.substring(1);
    }

    /** The brokers, for logs: {@code amqp://a:5672/, amqp://b:5672/}. */
    public String describe() {
        return String.join(", ", urls.stream().map(URI::toString).toList());
    }

    /** The RabbitMQ settings, or empty for the in-process bus. */
    public static Optional<BusSettings> from(ConfigSection section) {
        section.allowOnly(KNOWN_KEYS);
        List<String> raw = section.stringList("url");
        if (raw.isEmpty() || raw.stream().allMatch(String::isBlank)) {
            return Optional.empty();
        }
        List<URI> urls = new ArrayList<>();
        for (String one : raw) {
            if (one.isBlank()) {
                throw section.problem("url", "an empty broker in the list (" + String.join(",", raw) + ")");
            }
            URI url;
            try {
                url = URI.create(one.strip());
            } catch (IllegalArgumentException e) {
                throw section.problem("url", "\"" + one.strip() + "\" is not a URL; expected amqp://HOST:PORT/VHOST");
            }
            if (!"amqp".equals(url.getScheme()) && !"amqps".equals(url.getScheme()) || url.getHost() == null) {
                throw section.problem("url", "\"" + one.strip() + "\" is not an amqp:// or amqps:// URL with a host");
            }
            if (url.getUserInfo() != null) {
                throw section.problem("url", "put the credentials in bus.user and bus.password, not in the URL");
            }
            if (!urls.isEmpty() && (!url.getScheme().equals(urls.getFirst().getScheme())
                    || !virtualHost(url).equals(virtualHost(urls.getFirst())))) {
                throw section.problem("url", "\"" + one.strip() + "\": every broker must have the scheme and virtual host of the first ("
                        + urls.getFirst() + ")");
            }
            urls.add(url);
        }
        String exchange = section.string("exchange", "switchboard");
        if (!exchange.matches("[A-Za-z0-9_.:-]{1,200}")) {
            throw section.problem("exchange", "\"" + exchange + "\": 1-200 of letters, digits, _ . : -");
        }
        Duration linger = section.durationOrNone("linger", DEFAULT_LINGER, Duration.ZERO, MAX_LINGER);
        return Optional.of(new BusSettings(urls, section.string("user", "guest"), section.string("password", "guest"), exchange,
                linger));
    }
}
