package io.switchboard.sip.message;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Canonical header names. SIP header names are case-insensitive (RFC 3261 §7.3.1) and many have
 * a compact form (RFC 3261 §7.3.3, RFC 3265, RFC 3515, RFC 3892, RFC 4028, RFC 3841). Every header
 * stored in a {@link SipHeaders} carries its canonical key (the lower-case long form), so lookups
 * compare interned strings instead of folding case on each call.
 */
public final class HeaderNames {
    public static final String VIA = "Via";
    public static final String FROM = "From";
    public static final String TO = "To";
    public static final String CALL_ID = "Call-ID";
    public static final String CSEQ = "CSeq";
    public static final String CONTACT = "Contact";
    public static final String MAX_FORWARDS = "Max-Forwards";
    public static final String CONTENT_LENGTH = "Content-Length";
    public static final String CONTENT_TYPE = "Content-Type";
    public static final String EXPIRES = "Expires";
    public static final String MIN_EXPIRES = "Min-Expires";
    public static final String ROUTE = "Route";
    public static final String RECORD_ROUTE = "Record-Route";
    public static final String AUTHORIZATION = "Authorization";
    public static final String PROXY_AUTHORIZATION = "Proxy-Authorization";
    public static final String WWW_AUTHENTICATE = "WWW-Authenticate";
    public static final String PROXY_AUTHENTICATE = "Proxy-Authenticate";
    public static final String USER_AGENT = "User-Agent";
    public static final String SERVER = "Server";
    public static final String ALLOW = "Allow";
    public static final String SUPPORTED = "Supported";
    public static final String REQUIRE = "Require";
    public static final String UNSUPPORTED = "Unsupported";
    public static final String DATE = "Date";
    public static final String WARNING = "Warning";
    public static final String RETRY_AFTER = "Retry-After";
    public static final String PATH = "Path";

    private static final Map<String, String> CANONICAL = new HashMap<>();
    private static final Map<String, String> KEYS = new HashMap<>();
    /** Wire spellings seen on nearly every message, resolved in one lookup without case folding. */
    private static final Map<String, Name> COMMON = new HashMap<>();

    /** A header name: its lookup key and the spelling it is written with. */
    public record Name(String key, String canonical) {
    }
    /** Headers whose value is a comma-separated list (RFC 3261 §7.3.1); others are never split. */
    private static final Set<String> LIST_HEADERS;

    static {
        String[] known = {VIA, FROM, TO, CALL_ID, CSEQ, CONTACT, MAX_FORWARDS, CONTENT_LENGTH, CONTENT_TYPE,
                EXPIRES, MIN_EXPIRES, ROUTE, RECORD_ROUTE, AUTHORIZATION, PROXY_AUTHORIZATION, WWW_AUTHENTICATE,
                PROXY_AUTHENTICATE, USER_AGENT, SERVER, ALLOW, SUPPORTED, REQUIRE, UNSUPPORTED, DATE, WARNING,
                RETRY_AFTER, PATH, "Accept", "Accept-Encoding", "Accept-Language", "Alert-Info", "Call-Info",
                "Content-Disposition", "Content-Encoding", "Content-Language", "Error-Info", "In-Reply-To",
                "MIME-Version", "Organization", "Priority", "Proxy-Require", "Reply-To", "Subject", "Timestamp",
                "Event", "Allow-Events", "Refer-To", "Referred-By", "Session-Expires", "Min-SE", "Identity",
                "Accept-Contact", "Reject-Contact", "Request-Disposition", "Service-Route", "Subscription-State",
                "Authentication-Info", "P-Asserted-Identity", "Privacy", "Flow-Timer", "Reason", "RSeq", "RAck"};
        for (String name : known) {
            String key = name.toLowerCase(Locale.ROOT).intern();
            CANONICAL.put(key, name);
            KEYS.put(key, key);
        }
        String[][] compact = {{"i", CALL_ID}, {"m", CONTACT}, {"e", "Content-Encoding"}, {"l", CONTENT_LENGTH},
                {"c", CONTENT_TYPE}, {"f", FROM}, {"s", "Subject"}, {"k", SUPPORTED}, {"t", TO}, {"v", VIA},
                {"o", "Event"}, {"u", "Allow-Events"}, {"r", "Refer-To"}, {"b", "Referred-By"},
                {"x", "Session-Expires"}, {"y", "Identity"}, {"a", "Accept-Contact"}, {"j", "Reject-Contact"},
                {"d", "Request-Disposition"}};
        for (String[] pair : compact) {
            KEYS.put(pair[0], pair[1].toLowerCase(Locale.ROOT).intern());
        }
        for (String name : known) {
            String key = name.toLowerCase(Locale.ROOT).intern();
            COMMON.put(name, new Name(key, name));
            COMMON.put(key, new Name(key, name));
        }
        for (String[] pair : compact) {
            String key = pair[1].toLowerCase(Locale.ROOT).intern();
            COMMON.put(pair[0], new Name(key, pair[1]));
            COMMON.put(pair[0].toUpperCase(Locale.ROOT), new Name(key, pair[1]));
        }
        LIST_HEADERS = Set.of("via", "contact", "route", "record-route", "allow", "supported", "require",
                "unsupported", "proxy-require", "accept", "accept-encoding", "accept-language", "alert-info",
                "call-info", "error-info", "content-encoding", "content-language", "in-reply-to", "path",
                "service-route", "warning", "allow-events", "accept-contact", "reject-contact", "reason",
                "p-asserted-identity", "privacy");
    }

    private HeaderNames() {
    }

    /** Key and written spelling of a header name as it appears on the wire. */
    public static Name name(String wire) {
        Name common = COMMON.get(wire);
        return common != null ? common : new Name(key(wire), canonical(wire));
    }

    /** The interned lower-case long-form key for a header name as it appears on the wire. */
    public static String key(String name) {
        Name common = COMMON.get(name);
        if (common != null) {
            return common.key();
        }
        String key = KEYS.get(name);
        if (key != null) {
            return key;
        }
        String lower = name.toLowerCase(Locale.ROOT);
        key = KEYS.get(lower);
        return key != null ? key : lower.intern();
    }

    /** The spelling used when the header is written: the long form for known headers, as given otherwise. */
    public static String canonical(String name) {
        String key = key(name);
        String canonical = CANONICAL.get(key);
        return canonical != null ? canonical : name;
    }

    public static boolean isList(String key) {
        return LIST_HEADERS.contains(key);
    }
}
