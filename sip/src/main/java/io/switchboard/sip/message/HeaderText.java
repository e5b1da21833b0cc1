package io.switchboard.sip.message;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Lexical rules of RFC 3261 §25.1 shared by the header value parsers. */
public final class HeaderText {
    private HeaderText() {
    }

    /** token characters, RFC 3261 §25.1: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" */
    public static boolean isTokenChar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || c == '-' || c == '.' || c == '!' || c == '%' || c == '*' || c == '_' || c == '+' || c == '`'
                || c == '\'' || c == '~';
    }

    public static boolean isToken(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (!isTokenChar(s.charAt(i))) {
                return false;
            }
        }
        return true;
    }

    public static boolean isWhitespace(char c) {
        return c == ' ' || c == '\t';
    }

    /** Splits a field value on commas that are outside quoted strings and angle brackets. */
    static void splitList(String value, List<String> into) {
        int start = 0;
        boolean quoted = false;
        int angle = 0;
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (quoted) {
                if (c == '\\') {
                    i++;
                } else if (c == '"') {
                    quoted = false;
                }
            } else if (c == '"') {
                quoted = true;
            } else if (c == '<') {
                angle++;
            } else if (c == '>') {
                angle = Math.max(0, angle - 1);
            } else if (c == ',' && angle == 0) {
                into.add(value.substring(start, i).trim());
                start = i + 1;
            }
        }
        into.add(value.substring(start).trim());
    }

    /** Index of the comma that ends the first list element, or -1 when the value has one element. */
    static int firstListElementEnd(String value) {
        boolean quoted = false;
        int angle = 0;
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (quoted) {
                if (c == '\\') {
                    i++;
                } else if (c == '"') {
                    quoted = false;
                }
            } else if (c == '"') {
                quoted = true;
            } else if (c == '<') {
                angle++;
            } else if (c == '>') {
                angle = Math.max(0, angle - 1);
            } else if (c == ',' && angle == 0) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Parses ";name=value;name" generic-params (RFC 3261 §25.1) starting at {@code from}, which must be
     * a ';' or the end. LWS is allowed around ';' and '=' (SWS/SEMI/EQUAL). Values are tokens, hosts
     * (IPv6 references included, RFC 5118 §4.5) or quoted strings (kept with their quotes).
     *
     * @throws IllegalArgumentException with a reason when a parameter is empty or malformed
     */
    public static Map<String, String> parseParams(String text, int from) {
        Map<String, String> params = new LinkedHashMap<>(4);
        int i = skipWs(text, from);
        while (i < text.length()) {
            if (text.charAt(i) != ';') {
                throw new IllegalArgumentException("unexpected '" + text.charAt(i) + "' before parameters");
            }
            i = skipWs(text, i + 1);
            int nameStart = i;
            while (i < text.length() && isTokenChar(text.charAt(i))) {
                i++;
            }
            if (i == nameStart) {
                throw new IllegalArgumentException("empty parameter");
            }
            String name = text.substring(nameStart, i).toLowerCase(java.util.Locale.ROOT);
            i = skipWs(text, i);
            String value = "";
            if (i < text.length() && text.charAt(i) == '=') {
                i = skipWs(text, i + 1);
                if (i < text.length() && text.charAt(i) == '"') {
                    int end = quotedEnd(text, i);
                    if (end < 0) {
                        throw new IllegalArgumentException("unterminated quoted parameter value");
                    }
                    value = text.substring(i, end + 1);
                    i = end + 1;
                } else {
                    int valueStart = i;
                    while (i < text.length() && isParamValueChar(text.charAt(i))) {
                        i++;
                    }
                    if (i == valueStart) {
                        throw new IllegalArgumentException("empty value for parameter " + name);
                    }
                    value = text.substring(valueStart, i);
                }
                i = skipWs(text, i);
            }
            if (params.putIfAbsent(name, value) != null) {
                throw new IllegalArgumentException("duplicate parameter " + name);
            }
        }
        return params;
    }

    private static boolean isParamValueChar(char c) {
        return isTokenChar(c) || c == ':' || c == '[' || c == ']';
    }

    /** Index of the closing quote of the quoted string opening at {@code open}, or -1. */
    public static int quotedEnd(String text, int open) {
        for (int i = open + 1; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                return i;
            }
        }
        return -1;
    }

    /** The content of a quoted string with quoted-pairs resolved. */
    public static String unquote(String quoted) {
        if (quoted.length() < 2 || quoted.charAt(0) != '"' || quoted.charAt(quoted.length() - 1) != '"') {
            return quoted;
        }
        StringBuilder out = new StringBuilder(quoted.length());
        for (int i = 1; i < quoted.length() - 1; i++) {
            char c = quoted.charAt(i);
            if (c == '\\' && i + 1 < quoted.length() - 1) {
                c = quoted.charAt(++i);
            }
            out.append(c);
        }
        return out.toString();
    }

    public static String quote(String text) {
        StringBuilder out = new StringBuilder(text.length() + 2).append('"');
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '"' || c == '\\') {
                out.append('\\');
            }
            out.append(c);
        }
        return out.append('"').toString();
    }

    static int skipWs(String text, int i) {
        while (i < text.length() && isWhitespace(text.charAt(i))) {
            i++;
        }
        return i;
    }

    /** Resolves %HH escapes (RFC 3261 §19.1.2, RFC 3986 §2.1); a '%' not followed by two hex digits is kept. */
    public static String unescape(String text) {
        if (text.indexOf('%') < 0) {
            return text;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '%' && i + 2 < text.length()
                    && hex(text.charAt(i + 1)) >= 0 && hex(text.charAt(i + 2)) >= 0) {
                out.write(hex(text.charAt(i + 1)) * 16 + hex(text.charAt(i + 2)));
                i += 2;
            } else {
                byte[] bytes = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                out.write(bytes, 0, bytes.length);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static int hex(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }

    /** Parses a non-negative decimal number of at most {@code max}; leading zeros allowed (RFC 4475 §3.1.1.1). */
    public static long parseBounded(String text, long max, String what) {
        String digits = text.trim();
        if (digits.isEmpty()) {
            throw new IllegalArgumentException(what + " is empty");
        }
        long value = 0;
        for (int i = 0; i < digits.length(); i++) {
            char c = digits.charAt(i);
            if (c < '0' || c > '9') {
                throw new IllegalArgumentException(what + " is not a whole number of 0 or more");
            }
            value = value * 10 + (c - '0');
            if (value > max) {
                throw new IllegalArgumentException(what + " is out of range");
            }
        }
        return value;
    }
}
