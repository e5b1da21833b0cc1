package io.switchboard.monitor.definition;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;

/**
 * A user and password written in an http(s) URL ({@code https://ops:hunter2@host/health}, RFC 3986
 * §3.2.1), sent as curl and other monitors send them: as HTTP Basic authentication (RFC 7617),
 * {@code Authorization: Basic base64(user ":" password)}, each part percent-decoded first
 * ({@code p%40ss} is {@code p@ss}) and written in UTF-8. The request itself goes to the URL without
 * its user information: neither HTTP client sends it, and it does not belong in a request line.
 */
public final class UrlCredentials {
    public static final String HEADER = "Authorization";

    private UrlCredentials() {
    }

    /** Whether the URL carries user information (a user, with or without a password). */
    public static boolean present(URI url) {
        String userInfo = url.getRawUserInfo();
        return userInfo != null && !userInfo.isEmpty();
    }

    /** The {@code Authorization} value the URL's user information makes, or null when it has none. */
    public static String basicAuthorization(URI url) {
        if (!present(url)) {
            return null;
        }
        String userInfo = url.getRawUserInfo();
        // the first colon separates them (RFC 3986 §3.2.1; a colon in the user is written %3A)
        int colon = userInfo.indexOf(':');
        String user = colon < 0 ? userInfo : userInfo.substring(0, colon);
        String password = colon < 0 ? "" : userInfo.substring(colon + 1);
        ByteArrayOutputStream pair = new ByteArrayOutputStream();
        pair.writeBytes(percentDecoded(user));
        pair.write(':');
        pair.writeBytes(percentDecoded(password));
        return "Basic " + Base64.getEncoder().encodeToString(pair.toByteArray());
    }

    /** The URL with its user information left out, everything else as written. */
    public static URI withoutUserInfo(URI url) {
        if (url.getRawUserInfo() == null) {
            return url;
        }
        String authority = url.getRawAuthority();
        StringBuilder out = new StringBuilder(url.getScheme()).append("://")
                .append(authority.substring(authority.indexOf('@') + 1));
        if (url.getRawPath() != null) {
            out.append(url.getRawPath());
        }
        if (url.getRawQuery() != null) {
            out.append('?').append(url.getRawQuery());
        }
        if (url.getRawFragment() != null) {
            out.append('#').append(url.getRawFragment());
        }
        return URI.create(out.toString());
    }

    /** The name of an {@code Authorization} header among these, as written, or null. */
    public static String authorizationHeader(Map<String, String> headers) {
        return headers.keySet().stream().filter(HEADER::equalsIgnoreCase).findFirst().orElse(null);
    }

    /**
     * The octets a user or password stands for: {@code %XX} escapes are octets, other characters
     * their UTF-8 encoding.
     */
    static byte[] percentDecoded(String raw) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int i = 0;
        while (i < raw.length()) {
            if (raw.charAt(i) == '%' && i + 2 < raw.length() && hex(raw.charAt(i + 1)) >= 0 && hex(raw.charAt(i + 2)) >= 0) {
                out.write(hex(raw.charAt(i + 1)) << 4 | hex(raw.charAt(i + 2)));
                i += 3;
                continue;
            }
            int next = raw.indexOf('%', i + 1);
            int end = next < 0 ? raw.length() : next;
            out.writeBytes(raw.substring(i, end).getBytes(StandardCharsets.UTF_8));
            i = end;
        }
        return out.toByteArray();
    }

    /** An ASCII hex digit's value, or -1 (Character.digit would take other scripts' digits too). */
    private static int hex(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    }
}
