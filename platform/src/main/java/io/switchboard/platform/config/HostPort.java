package io.switchboard.platform.config;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.regex.Pattern;

/**
 * A host and a port to listen on. The host is an IPv4 literal, an IPv6 literal (written in
 * brackets, {@code [::1]:5060}, and kept here without them) or a host name. Port 0 asks the
 * OS for an ephemeral port.
 */
public record HostPort(String host, int port) {
    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
    // RFC 1123 §2.1 host names: labels of letters, digits and inner hyphens, at most 63 chars each.
    private static final Pattern HOST_NAME =
            Pattern.compile("(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\\.?");
    private static final Pattern IPV6_CHARS = Pattern.compile("[0-9a-fA-F:.]+");

    public HostPort {
        host = checkHost(host);
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " is outside 0..65535");
        }
    }

    /**
     * Parses {@code host:port} or {@code [ipv6]:port}.
     *
     * @throws IllegalArgumentException with a message fit to show the operator
     */
    public static HostPort parse(String text) {
        String s = text == null ? "" : text.strip();
        if (s.isEmpty()) {
            throw new IllegalArgumentException("empty; expected HOST:PORT, e.g. 127.0.0.1:8080");
        }
        String host;
        String portText;
        if (s.startsWith("[")) {
            int close = s.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("\"" + s + "\" opens '[' without closing ']'");
            }
            host = s.substring(1, close);
            String rest = s.substring(close + 1);
            if (!rest.startsWith(":")) {
                throw new IllegalArgumentException("\"" + s + "\" has no port; expected [IPV6]:PORT");
            }
            portText = rest.substring(1);
            if (!host.contains(":")) {
                throw new IllegalArgumentException("\"" + host + "\" in brackets is not an IPv6 address");
            }
        } else {
            int colon = s.lastIndexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException("\"" + s + "\" has no port; expected HOST:PORT");
            }
            host = s.substring(0, colon);
            portText = s.substring(colon + 1);
            if (host.contains(":")) {
                throw new IllegalArgumentException(
                        "\"" + s + "\": write IPv6 addresses in brackets, e.g. [::1]:5060");
            }
        }
        return new HostPort(host, parsePort(portText, s));
    }

    private static int parsePort(String portText, String whole) {
        if (!AsciiDigits.of(portText, 5)) {
            throw new IllegalArgumentException("\"" + whole + "\" has port \"" + portText + "\"; expected a number 0..65535");
        }
        int port = Integer.parseInt(portText);
        if (port > 65535) {
            throw new IllegalArgumentException("\"" + whole + "\" has port " + port + "; expected 0..65535");
        }
        return port;
    }

    private static String checkHost(String host) {
        if (host == null || host.isEmpty()) {
            throw new IllegalArgumentException("empty host");
        }
        if (host.contains(":")) {
            if (!IPV6_CHARS.matcher(host).matches()) {
                throw new IllegalArgumentException("\"" + host + "\" is not an IPv6 address");
            }
            try {
                // A string with ':' is parsed as an IPv6 literal; no name lookup happens.
                if (!(InetAddress.getByName(host) instanceof Inet6Address)) {
                    throw new IllegalArgumentException("\"" + host + "\" is not an IPv6 address");
                }
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException("\"" + host + "\" is not an IPv6 address");
            }
            return host;
        }
        if (IPV4.matcher(host).matches()) {
            for (String octet : host.split("\\.")) {
                if (Integer.parseInt(octet) > 255) {
                    throw new IllegalArgumentException("\"" + host + "\" is not an IPv4 address");
                }
            }
            return host;
        }
        if (host.length() > 253 || !HOST_NAME.matcher(host).matches()) {
            throw new IllegalArgumentException("\"" + host + "\" is not a valid host name or IP address");
        }
        return host;
    }

    /**
     * Whether a socket bound here and one bound at {@code other} (same protocol) would want one
     * port: the same port, not 0 (each gets its own), on the same host, or where a wildcard takes
     * the other's address too: {@code ::} every address (Java binds it dual-stack), {@code 0.0.0.0}
     * every IPv4 one (and {@code ::}), never an IPv6 address.
     */
    public boolean sharesPortWith(HostPort other) {
        if (port == 0 || port != other.port) {
            return false;
        }
        return host.equalsIgnoreCase(other.host) || isIpv6Wildcard(host) || isIpv6Wildcard(other.host)
                || host.equals("0.0.0.0") && !other.isIpv6() || other.host.equals("0.0.0.0") && !isIpv6();
    }

    /** {@code ::} however written ({@code ::0}, {@code 0:0:0:0:0:0:0:0}): an IPv6 literal of zeros. */
    private static boolean isIpv6Wildcard(String host) {
        String bare = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
        if (bare.indexOf(':') < 0) {
            return false;
        }
        try {
            return java.net.InetAddress.getByName(bare).isAnyLocalAddress(); // a literal: no lookup
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    /** Whether the host is an IPv6 literal (and so needs brackets in URLs and host:port text). */
    public boolean isIpv6() {
        return host.contains(":");
    }

    /** The host as it appears in a URL: IPv6 literals in brackets. */
    public String hostForUrl() {
        return isIpv6() ? "[" + host + "]" : host;
    }

    @Override
    public String toString() {
        return format(host, port);
    }

    /**
     * How an address and port are written wherever people or programs read them (API answers,
     * logs, messages): {@code host:port}, an IPv6 literal in brackets and in its canonical text
     * (RFC 5952 §4: lower case, no leading zeros, the longest run of zero groups as "::"), so that
     * {@code 0:0:0:0:0:0:0:1} and port 5060 read {@code [::1]:5060} (RFC 3986 §3.2.2) and the port
     * cannot be mistaken for a last group of the address. A host already in brackets, a host name
     * and an IPv4 address are left as they are. No check of the host: it comes from a socket.
     */
    public static String format(String host, int port) {
        if (host.indexOf(':') < 0 || host.startsWith("[")) {
            return host + ":" + port;
        }
        return "[" + canonicalIpv6(host) + "]:" + port;
    }

    /**
     * RFC 5952 §4 text of an IPv6 literal, its zone ({@code %eth0}) kept, except scope id 0, which
     * is no zone (Netty's epoll sockets report {@code ::1} as {@code 0:0:0:0:0:0:0:1%0}); anything
     * else unchanged.
     */
    static String canonicalIpv6(String literal) {
        int percent = literal.indexOf('%');
        String address = percent < 0 ? literal : literal.substring(0, percent);
        if (!IPV6_CHARS.matcher(address).matches()) {
            return literal;
        }
        byte[] bytes;
        try {
            // a literal with colons is parsed, never looked up in DNS
            bytes = InetAddress.getByName(address).getAddress();
        } catch (UnknownHostException e) {
            return literal;
        }
        if (bytes.length != 16) {
            return literal; // ::ffff:a.b.c.d comes back as IPv4: keep what was written
        }
        int[] groups = new int[8];
        for (int i = 0; i < 8; i++) {
            groups[i] = ((bytes[2 * i] & 0xff) << 8) | (bytes[2 * i + 1] & 0xff);
        }
        // §4.2.2, §4.2.3: the longest run of at least two zero groups, the first of equal runs
        int bestStart = -1;
        int bestLength = 1;
        for (int i = 0; i < 8; ) {
            int j = i;
            while (j < 8 && groups[j] == 0) {
                j++;
            }
            if (j - i > bestLength) {
                bestStart = i;
                bestLength = j - i;
            }
            i = j == i ? i + 1 : j;
        }
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                text.append("::");
                i += bestLength - 1;
                continue;
            }
            if (!text.isEmpty() && text.charAt(text.length() - 1) != ':') {
                text.append(':');
            }
            text.append(Integer.toHexString(groups[i]));
        }
        String zone = percent < 0 ? "" : literal.substring(percent);
        return zone.equals("%0") ? text.toString() : text + zone;
    }
}
