package io.switchboard.sip.message;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** One Via value (RFC 3261 §20.42): sent-protocol, sent-by and parameters. Immutable. */
public final class Via {
    /** Branch IDs of RFC 3261 transactions start with this magic cookie (RFC 3261 §8.1.1.7). */
    public static final String MAGIC_COOKIE = "z9hG4bK";

    private final String protocol;
    private final String transport;
    private final String host;
    private final int port;
    private final Map<String, String> params;

    private Via(String protocol, String transport, String host, int port, Map<String, String> params) {
        this.protocol = protocol;
        this.transport = transport;
        this.host = host;
        this.port = port;
        this.params = params;
    }

    public static Via of(String transport, String host, int port, String branch) {
        Map<String, String> params = new LinkedHashMap<>(4);
        params.put("branch", branch);
        return new Via("SIP/2.0", transport.toUpperCase(Locale.ROOT), host, port, params);
    }

    /** @throws IllegalArgumentException with a reason a person can read */
    public static Via parse(String value) {
        String text = value.trim();
        // sent-protocol = protocol-name SLASH protocol-version SLASH transport; SLASH allows LWS
        int firstSlash = text.indexOf('/');
        int secondSlash = firstSlash < 0 ? -1 : text.indexOf('/', firstSlash + 1);
        if (secondSlash < 0) {
            throw new IllegalArgumentException("Via has no sent-protocol");
        }
        String name = text.substring(0, firstSlash).trim();
        String version = text.substring(firstSlash + 1, secondSlash).trim();
        if (!HeaderText.isToken(name) || !HeaderText.isToken(version)) {
            throw new IllegalArgumentException("malformed Via sent-protocol");
        }
        int i = HeaderText.skipWs(text, secondSlash + 1);
        int transportStart = i;
        while (i < text.length() && HeaderText.isTokenChar(text.charAt(i))) {
            i++;
        }
        if (i == transportStart) {
            throw new IllegalArgumentException("Via has no transport");
        }
        String transport = text.substring(transportStart, i).toUpperCase(Locale.ROOT);
        int hostStart = HeaderText.skipWs(text, i);
        if (hostStart == i || hostStart >= text.length()) {
            throw new IllegalArgumentException("Via has no sent-by");
        }
        int semi = text.indexOf(';', hostStart);
        String sentBy = (semi >= 0 ? text.substring(hostStart, semi) : text.substring(hostStart)).trim();
        String host;
        int port = -1;
        String portText = null;
        if (sentBy.startsWith("[")) {
            int close = sentBy.indexOf(']');
            host = close < 0 ? sentBy : sentBy.substring(0, close + 1);
            if (!SipUri.isIpv6Reference(host)) {
                throw new IllegalArgumentException("invalid IPv6 reference in Via: " + sentBy);
            }
            String after = sentBy.substring(close + 1).trim();
            if (!after.isEmpty()) {
                if (after.charAt(0) != ':') {
                    throw new IllegalArgumentException("junk after Via host: " + sentBy);
                }
                portText = after.substring(1).trim();
            }
        } else {
            int colon = sentBy.indexOf(':');
            host = (colon >= 0 ? sentBy.substring(0, colon) : sentBy).trim();
            portText = colon >= 0 ? sentBy.substring(colon + 1).trim() : null;
            if (!SipUri.isHostname(host)) {
                throw new IllegalArgumentException("invalid Via host: " + sentBy);
            }
        }
        if (portText != null) {
            port = (int) HeaderText.parseBounded(portText, 65535, "Via port");
        }
        Map<String, String> params = semi >= 0 ? HeaderText.parseParams(text, semi) : new LinkedHashMap<>();
        return new Via(name + "/" + version, transport, host, port, params);
    }

    public String protocol() {
        return protocol;
    }

    /** The transport, upper case (UDP, TCP, TLS, SCTP, WS, WSS or an extension). */
    public String transport() {
        return transport;
    }

    public String host() {
        return host;
    }

    public int port() {
        return port;
    }

    /** The sent-by port, or when it has none the transport's default: 5061 for TLS, else 5060 (RFC 3261 §18.2.2). */
    public int portOrDefault() {
        if (port > 0) {
            return port;
        }
        return "TLS".equalsIgnoreCase(transport()) ? 5061 : 5060;
    }

    public String branch() {
        return params.get("branch");
    }

    public String param(String name) {
        return params.get(name.toLowerCase(Locale.ROOT));
    }

    public Map<String, String> params() {
        return Collections.unmodifiableMap(params);
    }

    /** sent-by as "host:port" or "host", the part of the transaction key (RFC 3261 §17.2.3). */
    public String sentBy() {
        return port >= 0 ? host + ":" + port : host;
    }

    public Via withParam(String name, String value) {
        Map<String, String> copy = new LinkedHashMap<>(params);
        copy.put(name.toLowerCase(Locale.ROOT), value == null ? "" : value);
        return new Via(protocol, transport, host, port, copy);
    }

    @Override
    public String toString() {
        StringBuilder out = new StringBuilder(96).append(protocol).append('/').append(transport).append(' ')
                .append(host);
        if (port >= 0) {
            out.append(':').append(port);
        }
        for (Map.Entry<String, String> p : params.entrySet()) {
            out.append(';').append(p.getKey());
            if (!p.getValue().isEmpty()) {
                out.append('=').append(p.getValue());
            }
        }
        return out.toString();
    }
}
