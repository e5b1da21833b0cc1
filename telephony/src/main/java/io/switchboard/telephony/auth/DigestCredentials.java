package io.switchboard.telephony.auth;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The parameters of an {@code Authorization} or {@code Proxy-Authorization} header with the Digest
 * scheme (RFC 7616 §3.4, RFC 3261 §25.1 digest-response).
 */
public record DigestCredentials(Map<String, String> params) {

    public String username() {
        return params.get("username");
    }

    public String realm() {
        return params.get("realm");
    }

    public String nonce() {
        return params.get("nonce");
    }

    public String uri() {
        return params.get("uri");
    }

    public String response() {
        return params.get("response");
    }

    public String algorithm() {
        return params.get("algorithm");
    }

    public String cnonce() {
        return params.get("cnonce");
    }

    public String qop() {
        return params.get("qop");
    }

    public String nc() {
        return params.get("nc");
    }

    public String opaque() {
        return params.get("opaque");
    }

    /**
     * Parses a header value.
     *
     * @throws IllegalArgumentException when it is not Digest or is malformed
     */
    public static DigestCredentials parse(String header) {
        String text = header.trim();
        int space = text.indexOf(' ');
        if (space < 0 || !text.substring(0, space).equalsIgnoreCase("Digest")) {
            throw new IllegalArgumentException("only the Digest scheme is supported");
        }
        Map<String, String> params = new HashMap<>();
        int i = space + 1;
        int n = text.length();
        while (i < n) {
            while (i < n && (text.charAt(i) == ' ' || text.charAt(i) == '\t' || text.charAt(i) == ',')) {
                i++;
            }
            if (i >= n) {
                break;
            }
            int nameStart = i;
            while (i < n && text.charAt(i) != '=' && text.charAt(i) != ' ' && text.charAt(i) != ',') {
                i++;
            }
            String name = text.substring(nameStart, i).toLowerCase(Locale.ROOT);
            while (i < n && text.charAt(i) == ' ') {
                i++;
            }
            if (i >= n || text.charAt(i) != '=') {
                throw new IllegalArgumentException("digest parameter " + name + " has no value");
            }
            i++;
            while (i < n && text.charAt(i) == ' ') {
                i++;
            }
            String value;
            if (i < n && text.charAt(i) == '"') {
                StringBuilder out = new StringBuilder();
                i++;
                boolean closed = false;
                while (i < n) {
                    char c = text.charAt(i++);
                    if (c == '\\' && i < n) {
                        out.append(text.charAt(i++));
                    } else if (c == '"') {
                        closed = true;
                        break;
                    } else {
                        out.append(c);
                    }
                }
                if (!closed) {
                    throw new IllegalArgumentException("unterminated quoted value for " + name);
                }
                value = out.toString();
            } else {
                int valueStart = i;
                while (i < n && text.charAt(i) != ',' && text.charAt(i) != ' ') {
                    i++;
                }
                value = text.substring(valueStart, i);
            }
            if (name.isEmpty() || params.putIfAbsent(name, value) != null) {
                throw new IllegalArgumentException("duplicate or empty digest parameter " + name);
            }
        }
        for (String required : new String[]{"username", "realm", "nonce", "uri", "response"}) {
            if (!params.containsKey(required)) {
                throw new IllegalArgumentException("digest credentials lack " + required);
            }
        }
        return new DigestCredentials(Map.copyOf(params));
    }
}
