package io.switchboard.sip.message;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A SIP or SIPS URI (RFC 3261 §19.1), or any other absolute URI kept opaque (tel:, urn:, …).
 * Immutable; {@link #toString()} gives the text as received unless a {@code with*} method built it.
 */
public final class SipUri {
    private final String scheme;
    private final String user;
    private final String password;
    private final String host;
    private final int port;
    private final Map<String, String> params;
    private final String headers;
    private final String text;

    private SipUri(String scheme, String user, String password, String host, int port, Map<String, String> params,
                   String headers, String text) {
        this.scheme = scheme;
        this.user = user;
        this.password = password;
        this.host = host;
        this.port = port;
        this.params = params;
        this.headers = headers;
        this.text = text != null ? text : render();
    }

    public static SipUri sip(String user, String host, int port) {
        return new SipUri("sip", user == null ? null : escapeUser(user), null, host, port, Map.of(), null, null);
    }

    /**
     * Parses a URI.
     *
     * @throws IllegalArgumentException with a reason a person can read
     */
    public static SipUri parse(String text) {
        int colon = text.indexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("URI has no scheme: " + abbreviate(text));
        }
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c <= ' ' || c == '<' || c == '>' || c == '"' || c == 127) {
                throw new IllegalArgumentException("invalid character in URI: " + abbreviate(text));
            }
        }
        String scheme = text.substring(0, colon).toLowerCase(Locale.ROOT);
        for (int i = 0; i < scheme.length(); i++) {
            char c = scheme.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
            if (!ok) {
                throw new IllegalArgumentException("invalid URI scheme: " + abbreviate(text));
            }
        }
        if (!scheme.equals("sip") && !scheme.equals("sips")) {
            if (colon == text.length() - 1) {
                throw new IllegalArgumentException("empty URI: " + text);
            }
            return new SipUri(scheme, null, null, null, -1, Map.of(), null, text);
        }
        String rest = text.substring(colon + 1);
        String user = null;
        String password = null;
        int at = rest.indexOf('@');
        if (at >= 0) {
            String userinfo = rest.substring(0, at);
            int pw = userinfo.indexOf(':');
            user = pw >= 0 ? userinfo.substring(0, pw) : userinfo;
            password = pw >= 0 ? userinfo.substring(pw + 1) : null;
            if (user.isEmpty()) {
                throw new IllegalArgumentException("empty user part in URI: " + abbreviate(text));
            }
            rest = rest.substring(at + 1);
        }
        String headers = null;
        int question = rest.indexOf('?');
        if (question >= 0) {
            headers = rest.substring(question + 1);
            rest = rest.substring(0, question);
        }
        int semicolon = rest.indexOf(';', rest.startsWith("[") ? Math.max(0, rest.indexOf(']')) : 0);
        String hostport = semicolon >= 0 ? rest.substring(0, semicolon) : rest;
        Map<String, String> params = semicolon >= 0 ? parseUriParams(rest.substring(semicolon), text) : Map.of();
        String host;
        int port = -1;
        if (hostport.startsWith("[")) {
            int close = hostport.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("unterminated IPv6 reference in URI: " + abbreviate(text));
            }
            host = hostport.substring(0, close + 1);
            if (!isIpv6Reference(host)) {
                throw new IllegalArgumentException("invalid IPv6 reference in URI: " + abbreviate(text));
            }
            String after = hostport.substring(close + 1);
            if (!after.isEmpty()) {
                if (after.charAt(0) != ':') {
                    throw new IllegalArgumentException("junk after IPv6 reference in URI: " + abbreviate(text));
                }
                port = parsePort(after.substring(1), text);
            }
        } else {
            int portColon = hostport.indexOf(':');
            host = portColon >= 0 ? hostport.substring(0, portColon) : hostport;
            if (portColon >= 0) {
                // RFC 5118 §4.2: an IPv6 address without brackets makes the "port" non-numeric
                port = parsePort(hostport.substring(portColon + 1), text);
            }
            if (!isHostname(host)) {
                throw new IllegalArgumentException("invalid host in URI: " + abbreviate(text));
            }
        }
        return new SipUri(scheme, user, password, host, port, params, headers, text);
    }

    private static Map<String, String> parseUriParams(String text, String uri) {
        Map<String, String> params = new LinkedHashMap<>(4);
        for (String part : text.substring(1).split(";", -1)) {
            if (part.isEmpty()) {
                throw new IllegalArgumentException("empty URI parameter in " + abbreviate(uri));
            }
            int eq = part.indexOf('=');
            String name = (eq >= 0 ? part.substring(0, eq) : part).toLowerCase(Locale.ROOT);
            String value = eq >= 0 ? part.substring(eq + 1) : "";
            if (name.isEmpty()) {
                throw new IllegalArgumentException("URI parameter without a name in " + abbreviate(uri));
            }
            params.putIfAbsent(name, value);
        }
        return Collections.unmodifiableMap(params);
    }

    private static int parsePort(String digits, String uri) {
        if (digits.isEmpty() || digits.length() > 5) {
            throw new IllegalArgumentException("invalid port in URI: " + abbreviate(uri));
        }
        int port = 0;
        for (int i = 0; i < digits.length(); i++) {
            char c = digits.charAt(i);
            if (c < '0' || c > '9') {
                throw new IllegalArgumentException("invalid port in URI: " + abbreviate(uri));
            }
            port = port * 10 + (c - '0');
        }
        if (port > 65535) {
            throw new IllegalArgumentException("port out of range in URI: " + abbreviate(uri));
        }
        return port;
    }

    /** hostname / IPv4address, RFC 3261 §25.1 (letters, digits, '-' and '.'). */
    public static boolean isHostname(String host) {
        if (host.isEmpty() || host.length() > 255) {
            return false;
        }
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
                    || c == '.' || c == '_';
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    /** "[" IPv6address "]", RFC 3261 §25.1 / RFC 5118: hex groups, colons, an optional dotted IPv4 tail. */
    public static boolean isIpv6Reference(String host) {
        if (host.length() < 4 || host.charAt(0) != '[' || host.charAt(host.length() - 1) != ']') {
            return false;
        }
        String inner = host.substring(1, host.length() - 1);
        int colons = 0;
        for (int i = 0; i < inner.length(); i++) {
            char c = inner.charAt(i);
            if (c == ':') {
                colons++;
            } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.')) {
                return false;
            }
        }
        return colons >= 2 && colons <= 7;
    }

    /**
     * The port this URI names: its own, else the default of RFC 3261 §19.1.2, 5061 for a
     * {@code sips:} URI or {@code transport=tls}, 5060 otherwise. An explicit {@code :0} stays 0:
     * it parses (§25.1 port = 1*DIGIT) but is no port anything listens on (RFC 6335 §6), and taken
     * for the default it made {@code sip:1001@<node>:0} name the node's 5060.
     */
    public int portOrDefault() {
        if (port >= 0) {
            return port;
        }
        return "sips".equals(scheme) || "tls".equalsIgnoreCase(param("transport")) ? 5061 : 5060;
    }

    /**
     * Whether this URI's host is the address literal of {@code address} and its port (the default
     * when absent, {@link #portOrDefault}) is that port; false for a name, or a wildcard or null address.
     */
    public boolean names(java.net.InetSocketAddress address) {
        return address != null && hostIs(address.getAddress()) && portOrDefault() == address.getPort();
    }

    /**
     * Whether this URI's host is the address literal of {@code address}, whatever its port; false
     * for a name, or a wildcard or null address.
     */
    public boolean hostIs(java.net.InetAddress address) {
        if (address == null || address.isAnyLocalAddress() || host == null) {
            return false;
        }
        String bare = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        byte[] literal = io.netty.util.NetUtil.createByteArrayFromIpAddressString(bare);
        return literal != null && java.util.Arrays.equals(literal, address.getAddress());
    }

    /** RFC 3261 §25.1: a user part with what it may not hold as itself %-escaped ('#' as %23). */
    public static String escapeUser(String user) {
        StringBuilder out = new StringBuilder(user.length());
        for (byte b : user.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            boolean plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || "-_.!~*'()&=+$,;?/".indexOf(c) >= 0;
            if (plain) {
                out.append(c);
            } else {
                out.append('%').append(Character.toUpperCase(Character.forDigit((b >> 4) & 0xf, 16)))
                        .append(Character.toUpperCase(Character.forDigit(b & 0xf, 16)));
            }
        }
        return out.toString();
    }

    private static String abbreviate(String text) {
        return text.length() <= 80 ? text : text.substring(0, 77) + "...";
    }

    private String render() {
        StringBuilder out = new StringBuilder(64).append(scheme).append(':');
        if (user != null) {
            out.append(user);
            if (password != null) {
                out.append(':').append(password);
            }
            out.append('@');
        }
        out.append(host);
        if (port >= 0) {
            out.append(':').append(port);
        }
        for (Map.Entry<String, String> p : params.entrySet()) {
            out.append(';').append(p.getKey());
            if (!p.getValue().isEmpty()) {
                out.append('=').append(p.getValue());
            }
        }
        if (headers != null) {
            out.append('?').append(headers);
        }
        return out.toString();
    }

    public boolean isSip() {
        return host != null;
    }

    public String scheme() {
        return scheme;
    }

    /** The user part with %HH escapes resolved (RFC 3261 §19.1.4 compares unescaped), or null. */
    public String user() {
        return user == null ? null : HeaderText.unescape(user);
    }

    public String rawUser() {
        return user;
    }

    public String password() {
        return password;
    }

    /** The host; an IPv6 reference keeps its brackets. Null for a non-SIP URI. */
    public String host() {
        return host;
    }

    /** The host without IPv6 brackets, as socket APIs want it. */
    public String hostAddress() {
        return host != null && host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
    }

    public int port() {
        return port;
    }

    public String param(String name) {
        return params.get(name.toLowerCase(Locale.ROOT));
    }

    public Map<String, String> params() {
        return params;
    }

    /** The URI headers component (after '?'), or null. */
    public String headers() {
        return headers;
    }

    public SipUri withParam(String name, String value) {
        requireSip();
        Map<String, String> copy = new LinkedHashMap<>(params);
        copy.put(name.toLowerCase(Locale.ROOT), value == null ? "" : value);
        return new SipUri(scheme, user, password, host, port, Collections.unmodifiableMap(copy), headers, null);
    }

    public SipUri withoutParam(String name) {
        requireSip();
        if (!params.containsKey(name.toLowerCase(Locale.ROOT))) {
            return this;
        }
        Map<String, String> copy = new LinkedHashMap<>(params);
        copy.remove(name.toLowerCase(Locale.ROOT));
        return new SipUri(scheme, user, password, host, port, Collections.unmodifiableMap(copy), headers, null);
    }

    public SipUri withHostPort(String newHost, int newPort) {
        requireSip();
        return new SipUri(scheme, user, password, newHost, newPort, params, headers, null);
    }

    public SipUri withoutHeaders() {
        requireSip();
        return headers == null ? this : new SipUri(scheme, user, password, host, port, params, null, null);
    }

    private void requireSip() {
        if (host == null) {
            throw new IllegalStateException("not a SIP URI: " + text);
        }
    }

    /**
     * The address-of-record key used by a location service: scheme, unescaped user and lower-case
     * host, without port or parameters (RFC 3261 §10.3 step 5 canonicalisation).
     */
    public String addressOfRecord() {
        String u = user();
        String base = (scheme.equals("sips") ? "sip" : scheme) + ":";
        if (host == null) {
            return text;
        }
        return base + (u == null ? "" : u + "@") + host.toLowerCase(Locale.ROOT);
    }

    @Override
    public String toString() {
        return text;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SipUri other && text.equals(other.text);
    }

    @Override
    public int hashCode() {
        return text.hashCode();
    }
}
