package io.switchboard.platform.http;

import io.switchboard.platform.config.ConfigSection;
import io.switchboard.platform.net.AddressRange;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * The reverse proxies (load balancers) whose word on a client's address is believed: the
 * {@code proxies.trusted} setting, addresses and CIDR blocks, IPv4 and IPv6. Behind such a proxy
 * the TCP peer of every request is the proxy, and the client is named by the
 * {@code X-Forwarded-For} header it adds. Only a request whose peer is trusted has the header read;
 * anyone else's header is ignored, so no client can choose its own address.
 * <p>
 * The client is the rightmost entry that is not itself a trusted proxy (RFC 7239 §5.2 and §8.1
 * reason the same way for {@code Forwarded: for=}): entries to the left of it were written by the
 * client or by proxies nobody vouches for. An entry that is not an address literal ends the walk
 * and the peer stands (a proxy of ours writes literals; anything else cannot be attributed).
 */
public final class TrustedProxies {
    public static final String HEADER = "X-Forwarded-For";
    /** A request attribute, true when the request's TCP peer is a trusted proxy (set by {@link ForwardedForCustomizer}). */
    static final String PEER_IS_TRUSTED_PROXY = "io.switchboard.http.peerIsTrustedProxy";
    /** More hops than this are not walked: no real chain of proxies is this long. */
    private static final int MAX_ENTRIES = 32;

    private static final TrustedProxies NONE = new TrustedProxies(List.of());

    private final List<AddressRange> ranges;

    private TrustedProxies(List<AddressRange> ranges) {
        this.ranges = List.copyOf(ranges);
    }

    /** Nobody is trusted: the TCP peer is the client (the behaviour without the setting). */
    public static TrustedProxies none() {
        return NONE;
    }

    /** @throws IllegalArgumentException naming the entry that is not an address or CIDR block */
    public static TrustedProxies of(List<String> entries) {
        List<AddressRange> ranges = new ArrayList<>();
        for (String entry : entries) {
            ranges.add(AddressRange.parse(entry));
        }
        return new TrustedProxies(ranges);
    }

    /** The {@code proxies} block: {@code trusted}, a list (or comma-separated: SWITCHBOARD_PROXIES_TRUSTED). */
    public static TrustedProxies fromConfig(ConfigSection section) {
        section.allowOnly(List.of("trusted"));
        return new TrustedProxies(AddressRange.listFrom(section, "trusted"));
    }

    public boolean isEmpty() {
        return ranges.isEmpty();
    }

    /**
     * The host a trusted proxy says the client asked for ({@code X-Forwarded-Host}), or null: the
     * header of a request that did not come through a trusted proxy is the client's own word and
     * is not read (anyone could name any host in it). Behind a chain of proxies the header holds
     * several entries (comma-separated, or in several lines); the one taken is the rightmost, the
     * one the trusted proxy next to the node added, as for {@code X-Forwarded-For}: those to its
     * left are whatever the client or a proxy further out wrote.
     */
    public static String forwardedHost(io.javalin.http.Context ctx) {
        if (!Boolean.TRUE.equals(ctx.attribute(PEER_IS_TRUSTED_PROXY))) {
            return null;
        }
        String host = null;
        java.util.Enumeration<String> lines = ctx.req().getHeaders("X-Forwarded-Host");
        while (lines != null && lines.hasMoreElements()) {
            for (String entry : lines.nextElement().split(",")) {
                if (!entry.isBlank()) {
                    host = entry.strip();
                }
            }
        }
        return host;
    }

    public boolean trusts(InetAddress address) {
        for (AddressRange range : ranges) {
            if (range.contains(address)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The client a request speaks for.
     *
     * @param peer          the TCP peer of the connection
     * @param forwardedFor  the values of every {@code X-Forwarded-For} field, in the order received
     *                      (several fields are one comma-separated list, RFC 9110 §5.3)
     * @return the peer itself unless it is a trusted proxy with a usable header; the port is the
     *         peer's (the header names no port a client could be reached on)
     */
    public InetSocketAddress clientOf(InetSocketAddress peer, List<String> forwardedFor) {
        if (ranges.isEmpty() || peer == null || peer.getAddress() == null || forwardedFor == null
                || forwardedFor.isEmpty() || !trusts(peer.getAddress())) {
            return peer;
        }
        List<String> entries = new ArrayList<>();
        for (String field : forwardedFor) {
            if (field != null) {
                for (String entry : field.split(",", -1)) {
                    entries.add(entry.strip());
                }
            }
        }
        InetAddress client = peer.getAddress();
        int walked = 0;
        for (int i = entries.size() - 1; i >= 0 && walked < MAX_ENTRIES; i--, walked++) {
            InetAddress hop = entryAddress(entries.get(i));
            if (hop == null) {
                return peer; // not an address: nothing to its left or here can be attributed
            }
            client = hop;
            if (!trusts(hop)) {
                break;
            }
        }
        return client.equals(peer.getAddress()) ? peer : new InetSocketAddress(client, peer.getPort());
    }

    /** One entry: an address, an IPv4 address with a port, or a bracketed IPv6 address with or without one. */
    private static InetAddress entryAddress(String entry) {
        if (entry.startsWith("[")) {
            int close = entry.indexOf(']');
            if (close < 0 || (close + 1 < entry.length() && !entry.substring(close + 1).matches(":\\d{1,5}"))) {
                return null;
            }
            return AddressRange.literal(entry.substring(1, close));
        }
        int colon = entry.indexOf(':');
        if (colon >= 0 && colon == entry.lastIndexOf(':')) {
            // one colon: IPv4 with a port
            if (!entry.substring(colon + 1).matches("\\d{1,5}")) {
                return null;
            }
            entry = entry.substring(0, colon);
        }
        return AddressRange.literal(entry);
    }
}
