package io.switchboard.monitor.definition;

import io.switchboard.platform.config.HostPort;
import io.switchboard.sip.message.SipUri;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * What a target looks like for each check type, and the host in it. Validation messages say what
 * was expected, with an example.
 */
public final class Targets {
    // RFC 1123 §2.1 host names, each label 1-63 characters
    private static final Pattern HOST_NAME = Pattern.compile(
            "(?=.{1,253}\\.?$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\\.?");

    private Targets() {
    }

    /** A host and a port; {@code port} is -1 when the text named none. */
    public record HostAndPort(String host, int port) {
        @Override
        public String toString() {
            return HostPort.format(host, port);
        }
    }

    /**
     * Whether a host is an IP literal rather than a name: an IPv6 address (it has a colon; brackets
     * already removed) or a dotted-quad IPv4 address. Names and literals differ in SNI (RFC 6066 §3
     * allows only names), in certificate matching (RFC 6125 §6.4: literals match only iPAddress
     * entries) and in where a resolver may be given.
     */
    public static boolean isIpLiteral(String host) {
        return host.contains(":") || host.matches("\\d{1,3}(\\.\\d{1,3}){3}");
    }

    /**
     * The longest target taken: far above any real URL or name (browsers and servers commonly stop
     * near 8 KB), low enough that a pasted blob is refused instead of filling lists and logs.
     */
    static final int MAX_TARGET = 2048;

    /**
     * Rules a target given now must meet beyond {@link #validate}: added later, so they are not
     * applied to stored monitors (which earlier versions took and still work or fail as before),
     * only to what is written. Throws IllegalArgumentException saying what is expected.
     */
    public static void validateInput(CheckType type, String target) {
        if (target.length() > MAX_TARGET) {
            throw new IllegalArgumentException("at most " + MAX_TARGET + " characters (got " + target.length() + ")");
        }
        switch (type) {
            case HTTP -> {
                int port = httpUri(target).getPort();
                if (port != -1 && (port < 1 || port > 65535)) {
                    // -1: none given (80 or 443); 0 would fail every check with an exception
                    throw new IllegalArgumentException("\"" + target + "\": port " + port + " is outside 1-65535");
                }
            }
            case TLS, TCP -> {
                String text = target.strip();
                int colon = text.lastIndexOf(':');
                String portText = colon < 0 || text.endsWith("]") ? null : text.substring(colon + 1);
                if (portText != null && !io.switchboard.platform.config.AsciiDigits.of(portText, 5)) {
                    // Integer.parseInt takes "+80" and other digits than ASCII's; stored so, shown so
                    throw new IllegalArgumentException("\"" + target + "\": \"" + portText + "\" is not a port number");
                }
            }
            case DNS, SIP -> { }
        }
    }

    /** Checks the target's form for the type; throws IllegalArgumentException saying what is expected. */
    public static void validate(CheckType type, String target) {
        switch (type) {
            case HTTP -> httpUri(target);
            case DNS -> dnsName(target);
            case TLS -> hostAndPort(target, 443);
            case TCP -> {
                HostAndPort hp = hostAndPort(target, -1);
                if (hp.port() < 0) {
                    throw new IllegalArgumentException("a tcp target is host:port, e.g. db.example.org:5432 (got \"" + target + "\")");
                }
            }
            case SIP -> sipUri(target);
        }
    }

    public static String host(CheckType type, String target) {
        return switch (type) {
            case HTTP -> httpUri(target).getHost().toLowerCase(Locale.ROOT).replaceAll("^\\[|]$", "");
            case DNS -> dnsName(target).toLowerCase(Locale.ROOT).replaceAll("\\.$", "");
            case TLS, TCP -> hostAndPort(target, 0).host().toLowerCase(Locale.ROOT);
            case SIP -> sipUri(target).hostAddress().toLowerCase(Locale.ROOT).replaceAll("^\\[|]$", "");
        };
    }

    public static URI httpUri(String target) {
        URI uri;
        try {
            uri = new URI(target);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("\"" + target + "\" is not a URL: " + e.getReason());
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new IllegalArgumentException("an http target is an http:// or https:// URL, e.g. https://shop.example.org/health"
                    + " (got \"" + target + "\")");
        }
        if (uri.getHost() == null || uri.getHost().isEmpty()) {
            throw new IllegalArgumentException("\"" + target + "\" names no host");
        }
        return uri;
    }

    public static String dnsName(String target) {
        if (!HOST_NAME.matcher(target).matches()) {
            throw new IllegalArgumentException("a dns target is a domain name, e.g. example.org (got \"" + target + "\")");
        }
        return target;
    }

    /** {@code host:port}, {@code [v6]:port} or a bare host (then {@code defaultPort}). */
    public static HostAndPort hostAndPort(String target, int defaultPort) {
        String text = target.strip();
        String host;
        int port = defaultPort;
        String portText = null;
        int scheme = text.indexOf("://");
        if (scheme > 0) {
            // a URL where host:port is meant (the commonest slip: an http monitor's target copied)
            throw new IllegalArgumentException("\"" + target + "\" is a URL; write host:port, e.g. "
                    + "192.0.2.10:" + (defaultPort > 0 ? defaultPort : 5432));
        }
        if (text.startsWith("[")) {
            int close = text.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("\"" + target + "\": an IPv6 address needs a closing ]");
            }
            host = text.substring(1, close);
            String rest = text.substring(close + 1);
            if (!rest.isEmpty()) {
                if (!rest.startsWith(":")) {
                    throw new IllegalArgumentException("\"" + target + "\" is not host:port");
                }
                portText = rest.substring(1);
            }
        } else {
            int colon = text.lastIndexOf(':');
            if (colon >= 0 && text.indexOf(':') != colon) {
                throw new IllegalArgumentException("\"" + target + "\": write IPv6 addresses in brackets, e.g. [::1]:443");
            }
            host = colon < 0 ? text : text.substring(0, colon);
            portText = colon < 0 ? null : text.substring(colon + 1);
        }
        if (portText != null) {
            try {
                port = Integer.parseInt(portText);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("\"" + target + "\": \"" + portText + "\" is not a port number");
            }
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("\"" + target + "\": port " + port + " is outside 1-65535");
            }
        }
        if (host.isEmpty() || (!host.contains(":") && !HOST_NAME.matcher(host).matches())) {
            throw new IllegalArgumentException("\"" + target + "\" names no valid host; expected host:port, e.g. shop.example.org:443");
        }
        return new HostAndPort(host, port);
    }

    public static SipUri sipUri(String target) {
        SipUri uri;
        try {
            uri = SipUri.parse(target);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("a sip target is a SIP URI, e.g. sip:panel@10.0.0.5:5060 (got \"" + target + "\")");
        }
        if (!uri.isSip()) {
            throw new IllegalArgumentException("a sip target is a SIP URI, e.g. sip:panel@10.0.0.5:5060 (got \"" + target + "\")");
        }
        if (!uri.scheme().equals("sip")) {
            throw new IllegalArgumentException("only sip: URIs are checked: the sip check does not send OPTIONS over TLS"
                    + " (sips:); a tls monitor on the device's TLS port checks its certificate (got \"" + target + "\")");
        }
        return uri;
    }
}
