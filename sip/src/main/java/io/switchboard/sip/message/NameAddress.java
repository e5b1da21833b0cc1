package io.switchboard.sip.message;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A name-addr or addr-spec with header parameters, as in From, To, Contact, Route and Record-Route
 * (RFC 3261 §20.10, §25.1). The Contact wildcard "*" (RFC 3261 §10.2.2) is a NameAddress too.
 */
public final class NameAddress {
    private static final NameAddress WILDCARD = new NameAddress(null, null, Map.of(), true);

    private final String displayName;
    private final SipUri uri;
    private final Map<String, String> params;
    private final boolean wildcard;

    private NameAddress(String displayName, SipUri uri, Map<String, String> params, boolean wildcard) {
        this.displayName = displayName;
        this.uri = uri;
        this.params = params;
        this.wildcard = wildcard;
    }

    public static NameAddress of(SipUri uri) {
        return new NameAddress(null, uri, Map.of(), false);
    }

    public static NameAddress of(String displayName, SipUri uri, Map<String, String> params) {
        return new NameAddress(displayName, uri, Collections.unmodifiableMap(new LinkedHashMap<>(params)), false);
    }

    /**
     * Parses one value.
     *
     * @throws IllegalArgumentException with a reason a person can read
     */
    public static NameAddress parse(String value) {
        String text = value.trim();
        if (text.equals("*")) {
            return WILDCARD;
        }
        if (text.isEmpty()) {
            throw new IllegalArgumentException("empty address");
        }
        int angle = -1;
        String displayName = null;
        int i = 0;
        if (text.charAt(0) == '"') {
            int close = HeaderText.quotedEnd(text, 0);
            if (close < 0) {
                throw new IllegalArgumentException("unterminated quoted display name");
            }
            displayName = HeaderText.unquote(text.substring(0, close + 1));
            i = HeaderText.skipWs(text, close + 1);
            if (i >= text.length() || text.charAt(i) != '<') {
                throw new IllegalArgumentException("quoted display name not followed by <URI>");
            }
            angle = i;
        } else {
            int lt = text.indexOf('<');
            if (lt >= 0) {
                String name = text.substring(0, lt).trim();
                if (!name.isEmpty()) {
                    // unquoted display-name = *(token LWS), RFC 3261 §25.1
                    for (String word : name.split("[ \t]+")) {
                        if (!HeaderText.isToken(word)) {
                            throw new IllegalArgumentException("display name has characters that need quotes: " + name);
                        }
                    }
                    displayName = name;
                }
                angle = lt;
            }
        }
        SipUri uri;
        int paramsFrom;
        if (angle >= 0) {
            int gt = text.indexOf('>', angle);
            if (gt < 0) {
                throw new IllegalArgumentException("unterminated <URI>");
            }
            uri = SipUri.parse(text.substring(angle + 1, gt));
            paramsFrom = gt + 1;
        } else {
            // addr-spec form: parameters belong to the header; a URI containing ';' ',' or '?'
            // must be enclosed in <> (RFC 3261 §20)
            int semi = text.indexOf(';');
            String spec = (semi >= 0 ? text.substring(0, semi) : text).trim();
            if (spec.indexOf('?') >= 0) {
                throw new IllegalArgumentException("URI with headers must be enclosed in <>: " + spec);
            }
            if (spec.indexOf(' ') >= 0 || spec.indexOf('\t') >= 0) {
                throw new IllegalArgumentException("whitespace inside address: " + spec);
            }
            uri = SipUri.parse(spec);
            paramsFrom = semi >= 0 ? semi : text.length();
        }
        Map<String, String> params = HeaderText.parseParams(text, paramsFrom);
        return new NameAddress(displayName, uri, params.isEmpty() ? Map.of() : Collections.unmodifiableMap(params), false);
    }

    public boolean isWildcard() {
        return wildcard;
    }

    /** The display name, unquoted and unescaped, or null. */
    public String displayName() {
        return displayName;
    }

    public SipUri uri() {
        return uri;
    }

    public String tag() {
        return params.get("tag");
    }

    /** A header parameter ("" for one without a value; quoted values keep their quotes), or null. */
    public String param(String name) {
        return params.get(name.toLowerCase(java.util.Locale.ROOT));
    }

    public Map<String, String> params() {
        return params;
    }

    public NameAddress withParam(String name, String value) {
        Map<String, String> copy = new LinkedHashMap<>(params);
        copy.put(name.toLowerCase(java.util.Locale.ROOT), value == null ? "" : value);
        return new NameAddress(displayName, uri, Collections.unmodifiableMap(copy), false);
    }

    public NameAddress withoutParam(String name) {
        Map<String, String> copy = new LinkedHashMap<>(params);
        copy.remove(name.toLowerCase(java.util.Locale.ROOT));
        return new NameAddress(displayName, uri, Collections.unmodifiableMap(copy), false);
    }

    public NameAddress withUri(SipUri newUri) {
        return new NameAddress(displayName, newUri, params, false);
    }

    @Override
    public String toString() {
        if (wildcard) {
            return "*";
        }
        StringBuilder out = new StringBuilder(96);
        if (displayName != null) {
            out.append(HeaderText.quote(displayName)).append(' ');
        }
        out.append('<').append(uri).append('>');
        for (Map.Entry<String, String> p : params.entrySet()) {
            out.append(';').append(p.getKey());
            if (!p.getValue().isEmpty()) {
                out.append('=').append(p.getValue());
            }
        }
        return out.toString();
    }
}
