package io.switchboard.platform.config;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * One SIP listener: a transport and the address to bind, written
 * {@code udp:0.0.0.0:5060}, {@code tcp:[::1]:5070} or {@code tls:0.0.0.0:5061}.
 */
public record ListenAddress(String transport, String host, int port) {
    /** Transports a listener may name. The SIP wiring decides which of them it can open. */
    public static final List<String> TRANSPORTS = List.of("udp", "tcp", "tls", "ws");
    /** What a problem offers: ws is known only to be told it is served on the HTTP port. */
    private static final List<String> OFFERED = List.of("udp", "tcp", "tls");

    public ListenAddress {
        if (!TRANSPORTS.contains(transport)) {
            throw new IllegalArgumentException("unknown transport \"" + transport + "\"; expected one of " + OFFERED);
        }
        HostPort checked = new HostPort(host, port); // validates host and port range
        host = checked.host();
    }

    /** Parses one {@code transport:host:port}. */
    public static ListenAddress parse(String text) {
        String s = text == null ? "" : text.strip();
        int colon = s.indexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException(
                    "\"" + s + "\" does not start with a transport; expected TRANSPORT:HOST:PORT, e.g. udp:0.0.0.0:5060");
        }
        String transport = s.substring(0, colon).toLowerCase(Locale.ROOT);
        if (!TRANSPORTS.contains(transport)) {
            throw new IllegalArgumentException(
                    "unknown transport \"" + s.substring(0, colon) + "\" in \"" + s + "\"; expected one of " + OFFERED);
        }
        HostPort address = HostPort.parse(s.substring(colon + 1));
        return new ListenAddress(transport, address.host(), address.port());
    }

    /**
     * Parses a comma-separated list such as {@code udp:0.0.0.0:5060,tcp:0.0.0.0:5060}.
     * An empty or blank string is an empty list (no SIP listeners).
     */
    public static List<ListenAddress> parseList(String text) {
        if (text == null || text.isBlank()) {
            return List.of();
        }
        List<String> items = new ArrayList<>();
        for (String part : text.split(",", -1)) {
            if (part.isBlank()) {
                throw new IllegalArgumentException("\"" + text + "\" has an empty entry");
            }
            items.add(part);
        }
        return parseAll(items);
    }

    /**
     * Parses each entry and rejects duplicates and listeners that would want one port (tcp and
     * tls are both TCP; a wildcard takes the port on every address): the second bind would fail
     * at start anyway, with less to go on.
     */
    public static List<ListenAddress> parseAll(List<String> items) {
        List<ListenAddress> result = new ArrayList<>();
        Set<ListenAddress> seen = new HashSet<>();
        for (String item : items) {
            ListenAddress address = parse(item);
            if (address.port() != 0 && !seen.add(address)) {
                throw new IllegalArgumentException("\"" + address + "\" is listed twice");
            }
            for (ListenAddress earlier : result) {
                if (!earlier.transport.equals("ws") && !address.transport.equals("ws")
                        && earlier.overTcp() == address.overTcp() && earlier.address().sharesPortWith(address.address())) {
                    throw new IllegalArgumentException("\"" + address + "\" wants the port of \"" + earlier
                            + "\"; two " + (address.overTcp() ? "TCP (tcp, tls)" : "UDP") + " listeners cannot share one");
                }
            }
            result.add(address);
        }
        return List.copyOf(result);
    }

    /** Whether this listener is a TCP socket of its own: tcp or tls (ws is refused later: it is served by HTTP). */
    boolean overTcp() {
        return transport.equals("tcp") || transport.equals("tls");
    }

    public HostPort address() {
        return new HostPort(host, port);
    }

    @Override
    public String toString() {
        return transport + ":" + address();
    }
}
