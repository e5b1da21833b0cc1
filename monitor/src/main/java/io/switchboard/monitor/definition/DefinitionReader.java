package io.switchboard.monitor.definition;

import com.fasterxml.jackson.databind.JsonNode;
import com.jayway.jsonpath.InvalidPathException;
import com.jayway.jsonpath.JsonPath;
import io.switchboard.sip.message.SipUri;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads monitors, channels and maintenance windows from a JSON tree (the API's bodies, or the
 * monitor file read as YAML) and validates every field. Unknown keys are refused, so a typo
 * ({@code intreval}) is an error rather than a silently ignored setting. Every error names its
 * field; the CLI and the API prefix it with where the object sits.
 */
public final class DefinitionReader {
    /** A name: what the API's URLs and the monitor file's references use. */
    public static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    /** What secrets look like in API answers; sent back unchanged, it keeps the stored value. */
    public static final String MASK = "***";
    public static final Duration MIN_INTERVAL = Duration.ofSeconds(1);
    public static final Duration MAX_TIMEOUT = Duration.ofMinutes(5);

    private static final List<String> COMMON_KEYS = List.of("name", "type", "target", "interval", "timeout",
            "failureThreshold", "recoveryThreshold", "channels", "paused", "degradedAbove", "reminderEvery");
    private static final Map<CheckType, List<String>> TYPE_KEYS = Map.of(
            CheckType.HTTP, List.of("method", "headers", "body", "expectStatus", "maxRedirects", "keyword", "jsonPath",
                    "jsonValue", "caFile"),
            CheckType.DNS, List.of("recordType", "expect", "expectRcode", "resolver"),
            CheckType.TLS, List.of("warnDays", "criticalDays", "serverName", "caFile"),
            CheckType.TCP, List.of(),
            CheckType.SIP, List.of("transport", "expectStatus"));
    private static final List<String> HTTP_METHODS = List.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS");
    public static final List<String> DNS_RECORD_TYPES = List.of("A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "SRV",
            "PTR", "CAA");
    public static final List<String> DNS_RCODES = List.of("NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED");
    private static final Map<ChannelType, List<String>> CHANNEL_KEYS = Map.of(
            ChannelType.WEBHOOK, List.of("name", "type", "url", "secret", "headers"),
            ChannelType.TELEGRAM, List.of("name", "type", "botToken", "chatId", "apiUrl"),
            ChannelType.EMAIL, List.of("name", "type", "host", "port", "security", "username", "password", "from", "to",
                    "caFile"));
    private static final List<String> EMAIL_SECURITY = List.of("starttls", "tls", "none");
    private static final List<String> WINDOW_KEYS = List.of("name", "start", "duration", "repeat", "monitors");
    private static final List<String> FILE_KEYS = List.of("channels", "monitors", "maintenance");
    // RFC 9110 §5.1: a field name is a token
    private static final Pattern HEADER_NAME = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");
    private static final Pattern MAIL_ADDRESS = Pattern.compile("[^@\\s<>]+@[^@\\s<>]+");

    private DefinitionReader() {
    }

    // ---- monitors -------------------------------------------------------------------------------

    public static MonitorDefinition monitor(JsonNode node) {
        Fields f = new Fields(node);
        String name = name(f);
        String typeText = f.requiredText("type", "one of " + CheckType.wireNames());
        CheckType type = CheckType.fromWire(typeText.toLowerCase(Locale.ROOT)).orElseThrow(() ->
                DefinitionException.invalid("type", "\"" + typeText + "\" is not a check type; expected one of "
                        + CheckType.wireNames()));
        List<String> allowed = new ArrayList<>(COMMON_KEYS);
        allowed.addAll(TYPE_KEYS.get(type));
        f.refuseUnknown(allowed, type.wireName() + " monitors");
        String target = f.requiredText("target", switch (type) {
            case HTTP -> "a URL, e.g. https://shop.example.org/health";
            case DNS -> "a domain name, e.g. example.org";
            case TLS, TCP -> "host:port, e.g. shop.example.org:443";
            case SIP -> "a SIP URI, e.g. sip:panel@10.0.0.5:5060";
        }).strip();
        try {
            Targets.validate(type, target);
        } catch (IllegalArgumentException e) {
            throw DefinitionException.invalid("target", e.getMessage());
        }
        Duration interval = f.duration("interval", MonitorDefinition.DEFAULT_INTERVAL);
        if (interval.compareTo(MIN_INTERVAL) < 0) {
            throw DefinitionException.invalid("interval", DurationText.format(interval) + " is below the 1s minimum");
        }
        if (interval.compareTo(Duration.ofDays(1)) > 0) {
            throw DefinitionException.invalid("interval", DurationText.format(interval) + " is above the 1d maximum");
        }
        Duration timeout = f.duration("timeout", MonitorDefinition.DEFAULT_TIMEOUT);
        if (timeout.compareTo(Duration.ofMillis(100)) < 0 || timeout.compareTo(MAX_TIMEOUT) > 0) {
            throw DefinitionException.invalid("timeout", DurationText.format(timeout) + " is outside 100ms-5m");
        }
        int failureThreshold = f.integer("failureThreshold", MonitorDefinition.DEFAULT_FAILURE_THRESHOLD, 1, 100);
        int recoveryThreshold = f.integer("recoveryThreshold", MonitorDefinition.DEFAULT_RECOVERY_THRESHOLD, 1, 100);
        List<String> channels = f.stringList("channels");
        for (int i = 0; i < channels.size(); i++) {
            if (!NAME.matcher(channels.get(i)).matches()) {
                throw DefinitionException.invalid("channels[" + i + "]", "\"" + channels.get(i) + "\" is not a channel name");
            }
        }
        channels = List.copyOf(new LinkedHashSet<>(channels));
        boolean paused = f.bool("paused", false);
        Duration degradedAbove = f.duration("degradedAbove", null);
        if (degradedAbove != null && (degradedAbove.isZero() || degradedAbove.compareTo(timeout) >= 0)) {
            throw DefinitionException.invalid("degradedAbove", DurationText.format(degradedAbove)
                    + " must be above 0 and below the timeout (" + DurationText.format(timeout) + ")");
        }
        Duration reminderEvery = f.duration("reminderEvery", null);
        if (reminderEvery != null && !reminderEvery.isZero() && reminderEvery.compareTo(Duration.ofMinutes(1)) < 0) {
            throw DefinitionException.invalid("reminderEvery", DurationText.format(reminderEvery)
                    + " is below 1m (0s turns reminders off)");
        }
        CheckOptions options = switch (type) {
            case HTTP -> http(f);
            case DNS -> dns(f);
            case TLS -> tls(f);
            case TCP -> new CheckOptions.Tcp();
            case SIP -> sip(f, target);
        };
        return new MonitorDefinition(name, type, target, interval, timeout, failureThreshold, recoveryThreshold, channels,
                paused, degradedAbove, reminderEvery, options);
    }

    /**
     * Headers a webhook's HTTP client writes itself (the JDK's restricted set, which it refuses to
     * take from a caller, so every delivery failed) and the other hop-by-hop and framing headers
     * (RFC 9110 §7.6.1, RFC 9112 §6: a Transfer-Encoding beside the client's Content-Length makes
     * a request that proxies read two ways).
     */
    private static final Set<String> WEBHOOK_HEADERS_SET_BY_THE_CLIENT = Set.of("connection", "content-length", "expect",
            "host", "upgrade", "transfer-encoding", "te", "trailer", "keep-alive", "proxy-connection",
            // the signature the channel's secret makes: a second one would contradict it
            "x-switchboard-signature", "x-switchboard-timestamp");

    /**
     * The {@code headers} map as stored: each name an RFC 9110 §5.1 token and, with
     * {@code oneLine}, each value one line. Stored definitions are read by this too, so rules added
     * later belong in {@link #requireInputRules}.
     */
    private static Map<String, String> headers(Fields f, boolean oneLine) {
        Map<String, String> headers = f.stringMap("headers");
        for (Map.Entry<String, String> h : headers.entrySet()) {
            if (!HEADER_NAME.matcher(h.getKey()).matches()) {
                throw DefinitionException.invalid("headers", "\"" + h.getKey() + "\" is not a header name");
            }
            if (oneLine && (h.getValue().indexOf('\r') >= 0 || h.getValue().indexOf('\n') >= 0)) {
                throw DefinitionException.invalid("headers." + h.getKey(), "a header value is one line");
            }
        }
        return headers;
    }

    /**
     * Rules a monitor written now (API, import) must meet beyond what reading it checks: added in
     * later versions, they are not applied to stored monitors, which earlier versions took and
     * which go on working (or failing) as before instead of vanishing from the catalogue.
     */
    public static void requireInputRules(MonitorDefinition monitor) {
        try {
            Targets.validateInput(monitor.type(), monitor.target());
        } catch (IllegalArgumentException e) {
            throw DefinitionException.invalid("target", e.getMessage());
        }
        if (monitor.options() instanceof CheckOptions.Http http) {
            headerValues(http.headers());
            credentialsOnce(monitor.target(), http.headers());
        }
        if (monitor.options() instanceof CheckOptions.Dns dns) {
            dnsExpectValues(dns);
        }
        caFileIsAbsolute(caFileOf(monitor));
    }

    private static final Pattern IPV4_ANSWER = Pattern.compile(
            "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}\\.?");
    private static final Pattern ONE_NAME = Pattern.compile("\\S+");
    private static final Pattern MX_ANSWER = Pattern.compile("\\d{1,5} \\S+");
    private static final Pattern SRV_ANSWER = Pattern.compile("\\d{1,5} \\d{1,5} \\d{1,5} \\S+");

    /**
     * Each {@code expect} value of a dns monitor can be an answer of its record type as DnsCheck
     * compares them: an A answer is an IPv4 address written as Java writes it (four numbers 0-255,
     * no leading zeros); an AAAA answer is compared as an IPv6 address, so any form of one is taken
     * ({@code ::1} and {@code 0:0:0:0:0:0:0:1} are the same); CNAME, NS and PTR answers are one
     * name, MX answers a preference and a name ({@code 10 mail.example.org}), SRV answers priority,
     * weight, port and target. TXT, SOA and CAA values are left as written: nothing certain can be
     * said of them. Stored monitors are not held to this (an earlier version took any text).
     */
    private static void dnsExpectValues(CheckOptions.Dns dns) {
        List<String> expect = dns.expectValues();
        for (int i = 0; i < expect.size(); i++) {
            String value = expect.get(i);
            String text = value.strip();
            String problem = switch (dns.recordType()) {
                case "A" -> IPV4_ANSWER.matcher(text).matches() ? null
                        : "is not an IPv4 address, which an A record holds (e.g. 192.0.2.10)";
                case "AAAA" -> isIpv6Literal(value) ? null
                        : "is not an IPv6 address, which an AAAA record holds (e.g. 2001:db8::10)";
                case "CNAME", "NS", "PTR" -> ONE_NAME.matcher(text).matches() ? null
                        : "is not a host name, which a " + dns.recordType() + " record holds (e.g. host.example.org)";
                case "MX" -> MX_ANSWER.matcher(text).matches() ? null
                        : "is not a preference and a host name, as an MX record is answered (e.g. 10 mail.example.org)";
                case "SRV" -> SRV_ANSWER.matcher(text).matches() ? null
                        : "is not a priority, weight, port and target, as an SRV record is answered (e.g. 10 5 5061 sip.example.org)";
                default -> null;
            };
            if (problem != null) {
                throw DefinitionException.invalid("expect[" + i + "]", "\"" + value + "\" " + problem);
            }
        }
    }

    /** An IPv6 literal as DnsCheck reads an AAAA expect value; read without asking DNS (only hex digits, colons and dots). */
    private static boolean isIpv6Literal(String value) {
        if (!value.contains(":") || !value.matches("[0-9A-Fa-f:.]+")) {
            return false;
        }
        try {
            // starting with a hex digit or a colon and holding a colon, it is parsed as a literal, never looked up
            java.net.InetAddress.getByName(value);
            return true;
        } catch (java.net.UnknownHostException | IllegalArgumentException e) {
            return false;
        }
    }

    /**
     * What the API (on a node) checks beyond {@link #requireInputRules}: that a {@code caFile} can
     * be read here. An import run on another machine (an operator's, against the cluster's store)
     * is held only to the path being absolute: the file belongs on the nodes, not there.
     */
    public static void requireFilesHere(MonitorDefinition monitor) {
        caFileReadable(caFileOf(monitor));
    }

    /** As {@link #requireFilesHere(MonitorDefinition)}, for a channel. */
    public static void requireFilesHere(ChannelDefinition channel) {
        if (channel.settings() instanceof ChannelDefinition.ChannelSettings.Email email) {
            caFileReadable(email.caFile());
        }
    }

    private static String caFileOf(MonitorDefinition monitor) {
        return switch (monitor.options()) {
            case CheckOptions.Http http -> http.caFile();
            case CheckOptions.Tls tls -> tls.caFile();
            default -> null;
        };
    }

    /** As {@link #requireInputRules(MonitorDefinition)}, for a channel. */
    public static void requireInputRules(ChannelDefinition channel) {
        if (channel.settings() instanceof ChannelDefinition.ChannelSettings.Webhook webhook) {
            for (String header : webhook.headers().keySet()) {
                if (WEBHOOK_HEADERS_SET_BY_THE_CLIENT.contains(header.toLowerCase(Locale.ROOT))) {
                    throw DefinitionException.invalid("headers", "\"" + header + "\" is set by the node itself;"
                            + " leave it out");
                }
            }
            headerValues(webhook.headers());
        }
        requireCredentialsOnce(channel);
        if (channel.settings() instanceof ChannelDefinition.ChannelSettings.Email email) {
            caFileIsAbsolute(email.caFile());
        }
        // @BotFather's tokens are the bot's number, a colon and a secret; the reading above takes
        // looser text, so that channels stored before this rule still load
        if (channel.settings() instanceof ChannelDefinition.ChannelSettings.Telegram telegram
                && !telegram.botToken().equals(MASK) && !telegram.botToken().matches("\\d{1,20}:[A-Za-z0-9_-]{1,200}")) {
            throw DefinitionException.invalid("botToken", "is not a bot token (the bot's number, a colon and letters,"
                    + " as @BotFather gives it, e.g. 123456:ABC-DEF…)");
        }
    }

    /**
     * A user and password in the URL are sent as Basic authentication ({@link UrlCredentials}), so
     * an {@code Authorization} header beside them gives the credentials twice, one of them unused;
     * it is refused rather than one silently winning. Stored definitions that have both send the
     * header, as they did before user information was sent.
     */
    public static void requireCredentialsOnce(ChannelDefinition channel) {
        // part of requireInputRules, and asked again once a webhook URL sent back masked
        // (https://host/***) has been replaced by the stored one, whose user information it hid
        if (channel.settings() instanceof ChannelDefinition.ChannelSettings.Webhook webhook) {
            credentialsOnce(webhook.url(), webhook.headers());
        }
    }

    private static void credentialsOnce(String url, Map<String, String> headers) {
        String header = UrlCredentials.authorizationHeader(headers);
        if (header == null) {
            return;
        }
        java.net.URI uri;
        try {
            uri = new java.net.URI(url);
        } catch (java.net.URISyntaxException e) {
            return; // reading it refused it already
        }
        if (UrlCredentials.present(uri)) {
            throw DefinitionException.invalid("headers." + header, "credentials given twice: in the URL (user:password@)"
                    + " and in an Authorization header; keep one");
        }
    }

    /**
     * A {@code caFile} written now is an absolute path: a relative one would be resolved against
     * each node's working directory, which an import run from a shell does not share.
     */
    private static void caFileIsAbsolute(String caFile) {
        if (caFile == null) {
            return;
        }
        java.nio.file.Path path;
        try {
            path = java.nio.file.Path.of(caFile);
        } catch (java.nio.file.InvalidPathException e) {
            throw DefinitionException.invalid("caFile", "\"" + caFile + "\" is not a file path");
        }
        if (!path.isAbsolute()) {
            throw DefinitionException.invalid("caFile", "\"" + caFile + "\" is not an absolute path");
        }
    }

    /**
     * A {@code caFile} given through a node's API is a readable file of PEM certificates there:
     * without this a missing or wrong file was taken, and every check then failed with "cannot
     * read caFile" (every node that may check the monitor needs the same file).
     */
    private static void caFileReadable(String caFile) {
        if (caFile == null) {
            return;
        }
        caFileIsAbsolute(caFile);
        try {
            CaFile.read(caFile);
        } catch (CaFile.Unreadable e) {
            throw DefinitionException.invalid("caFile", e.getMessage());
        }
    }

    /**
     * Header values are one line of visible ASCII, spaces and tabs (RFC 9110 §5.5): a CR or LF would
     * split the request and the log lines that quote it, and both HTTP clients refuse anything else
     * (OkHttp all but tab and 0x20-0x7E, the JDK's above U+00FF) on every check or delivery.
     */
    private static void headerValues(Map<String, String> headers) {
        for (Map.Entry<String, String> h : headers.entrySet()) {
            String value = h.getValue();
            for (int i = 0; i < value.length(); i++) {
                char c = value.charAt(i);
                if (c == '\r' || c == '\n') {
                    throw DefinitionException.invalid("headers." + h.getKey(), "a header value is one line");
                }
                if ((c < 0x20 && c != '\t') || c >= 0x7F) {
                    throw DefinitionException.invalid("headers." + h.getKey(), "a header value is visible ASCII, spaces and"
                            + " tabs (U+" + String.format("%04X", (int) c) + " at character " + i + ")");
                }
            }
        }
    }

    private static CheckOptions.Http http(Fields f) {
        String method = f.text("method", CheckOptions.Http.DEFAULT_METHOD).toUpperCase(Locale.ROOT);
        if (!HTTP_METHODS.contains(method)) {
            throw DefinitionException.invalid("method", "\"" + method + "\" is not one of " + HTTP_METHODS);
        }
        Map<String, String> headers = headers(f, true);
        String body = f.text("body", null);
        if (body != null && (method.equals("GET") || method.equals("HEAD"))) {
            throw DefinitionException.invalid("body", "a " + method + " request carries no body; use POST, PUT or PATCH");
        }
        StatusSet expect = f.statusSet("expectStatus", StatusSet.SUCCESS, 100, 599);
        int maxRedirects = f.integer("maxRedirects", CheckOptions.Http.DEFAULT_MAX_REDIRECTS, 0, 20);
        String keyword = f.text("keyword", null);
        if (keyword != null && keyword.isEmpty()) {
            throw DefinitionException.invalid("keyword", "must not be empty");
        }
        String jsonPath = f.text("jsonPath", null);
        if (jsonPath != null) {
            try {
                JsonPath.compile(jsonPath);
            } catch (InvalidPathException | IllegalArgumentException e) {
                throw DefinitionException.invalid("jsonPath", "\"" + jsonPath + "\" is not a JSONPath: " + e.getMessage());
            }
        }
        String jsonValue = f.text("jsonValue", null);
        if (jsonValue != null && jsonPath == null) {
            throw DefinitionException.invalid("jsonValue", "needs jsonPath: the value of which field?");
        }
        return new CheckOptions.Http(method, headers, body, expect, maxRedirects, keyword, jsonPath, jsonValue,
                f.text("caFile", null));
    }

    private static CheckOptions.Dns dns(Fields f) {
        String recordType = f.text("recordType", "A").toUpperCase(Locale.ROOT);
        if (!DNS_RECORD_TYPES.contains(recordType)) {
            throw DefinitionException.invalid("recordType", "\"" + recordType + "\" is not one of " + DNS_RECORD_TYPES);
        }
        String rcode = f.text("expectRcode", "NOERROR").toUpperCase(Locale.ROOT);
        if (!DNS_RCODES.contains(rcode)) {
            throw DefinitionException.invalid("expectRcode", "\"" + rcode + "\" is not one of " + DNS_RCODES);
        }
        List<String> expect = f.stringList("expect");
        if (!expect.isEmpty() && !rcode.equals("NOERROR")) {
            throw DefinitionException.invalid("expect", "answers are expected only with expectRcode NOERROR");
        }
        String resolver = f.text("resolver", null);
        if (resolver != null) {
            try {
                Targets.HostAndPort hp = Targets.hostAndPort(resolver, 53);
                if (!Targets.isIpLiteral(hp.host())) {
                    throw new IllegalArgumentException("the resolver is an IP address (with an optional port), e.g. 9.9.9.9 or"
                            + " [2620:fe::fe]:53");
                }
            } catch (IllegalArgumentException e) {
                throw DefinitionException.invalid("resolver", e.getMessage());
            }
        }
        return new CheckOptions.Dns(recordType, expect, rcode, resolver);
    }

    private static CheckOptions.Tls tls(Fields f) {
        int warn = f.integer("warnDays", CheckOptions.Tls.DEFAULT_WARN_DAYS, 0, 3650);
        int critical = f.integer("criticalDays", CheckOptions.Tls.DEFAULT_CRITICAL_DAYS, 0, 3650);
        if (critical > warn) {
            throw DefinitionException.invalid("criticalDays", critical + " is above warnDays (" + warn + ")");
        }
        String serverName = f.text("serverName", null);
        if (serverName != null) {
            try {
                Targets.dnsName(serverName);
            } catch (IllegalArgumentException e) {
                throw DefinitionException.invalid("serverName", "\"" + serverName + "\" is not a host name");
            }
        }
        return new CheckOptions.Tls(warn, critical, serverName, f.text("caFile", null));
    }

    private static CheckOptions.Sip sip(Fields f, String target) {
        SipUri uri = Targets.sipUri(target);
        String fromUri = uri.param("transport");
        String transport = f.text("transport", fromUri == null ? "udp" : fromUri).toLowerCase(Locale.ROOT);
        if (!transport.equals("udp") && !transport.equals("tcp")) {
            throw DefinitionException.invalid("transport", "\"" + transport + "\" is not udp or tcp");
        }
        StatusSet expect = f.statusSet("expectStatus", null, 100, 699);
        return new CheckOptions.Sip(transport, expect);
    }

    // ---- channels -------------------------------------------------------------------------------

    public static ChannelDefinition channel(JsonNode node) {
        Fields f = new Fields(node);
        String name = name(f);
        String typeText = f.requiredText("type", "one of " + ChannelType.wireNames());
        ChannelType type = ChannelType.fromWire(typeText.toLowerCase(Locale.ROOT)).orElseThrow(() ->
                DefinitionException.invalid("type", "\"" + typeText + "\" is not a channel type; expected one of "
                        + ChannelType.wireNames()));
        f.refuseUnknown(CHANNEL_KEYS.get(type), type.wireName() + " channels");
        ChannelDefinition.ChannelSettings settings = switch (type) {
            case WEBHOOK -> {
                String url = f.requiredText("url", "an http:// or https:// URL");
                httpUrl("url", url);
                Map<String, String> headers = headers(f, false);
                String secret = f.text("secret", null);
                if (secret != null && secret.isEmpty()) {
                    throw DefinitionException.invalid("secret", "must not be empty; leave it out for unsigned requests");
                }
                yield new ChannelDefinition.ChannelSettings.Webhook(url, secret, headers);
            }
            case TELEGRAM -> {
                String token = f.requiredText("botToken", "the token @BotFather gave, e.g. 123456:ABC-DEF…");
                if (!token.equals(MASK) && !token.matches("[A-Za-z0-9:_-]{5,200}")) {
                    throw DefinitionException.invalid("botToken", "is not a bot token (digits, a colon and letters)");
                }
                String chatId = f.requiredText("chatId", "a chat id such as -1001234567890 or @channelname");
                if (!chatId.matches("-?\\d{1,20}|@[A-Za-z0-9_]{3,64}")) {
                    throw DefinitionException.invalid("chatId", "\"" + chatId + "\" is not a chat id (a number) or @channelname");
                }
                String apiUrl = f.text("apiUrl", ChannelDefinition.ChannelSettings.Telegram.DEFAULT_API_URL);
                httpUrl("apiUrl", apiUrl);
                yield new ChannelDefinition.ChannelSettings.Telegram(token, chatId, stripSlash(apiUrl));
            }
            case EMAIL -> {
                String host = f.requiredText("host", "the SMTP server, e.g. smtp.example.org");
                try {
                    Targets.hostAndPort(host, 25);
                } catch (IllegalArgumentException e) {
                    throw DefinitionException.invalid("host", "\"" + host + "\" is not a host name or address");
                }
                String security = f.text("security", "starttls").toLowerCase(Locale.ROOT);
                if (!EMAIL_SECURITY.contains(security)) {
                    throw DefinitionException.invalid("security", "\"" + security + "\" is not one of " + EMAIL_SECURITY);
                }
                int port = f.integer("port", defaultSmtpPort(security), 1, 65535);
                String username = f.text("username", null);
                String password = f.text("password", null);
                if (password != null && username == null) {
                    throw DefinitionException.invalid("password", "a password needs a username");
                }
                if (password != null && security.equals("none") && !isLoopback(host)) {
                    // SMTP AUTH PLAIN/LOGIN is the password in base64 (RFC 4954 §4): without TLS anyone
                    // on the way reads it. A relay on this host is the one place it stays local.
                    throw DefinitionException.invalid("security", "\"none\" would send the password to " + host
                            + " in clear text; use starttls or tls (none with a password only to a relay on"
                            + " this host: localhost, 127.0.0.1, [::1])");
                }
                String from = f.requiredText("from", "the sender address, e.g. monitor@example.org");
                if (!MAIL_ADDRESS.matcher(from).matches()) {
                    throw DefinitionException.invalid("from", "\"" + from + "\" is not an e-mail address");
                }
                List<String> to = f.has("to") && f.node("to").isTextual() ? List.of(f.node("to").asText())
                        : f.stringList("to");
                if (to.isEmpty()) {
                    throw DefinitionException.invalid("to", "is required: one address or a list");
                }
                for (int i = 0; i < to.size(); i++) {
                    if (!MAIL_ADDRESS.matcher(to.get(i)).matches()) {
                        throw DefinitionException.invalid("to[" + i + "]", "\"" + to.get(i) + "\" is not an e-mail address");
                    }
                }
                yield new ChannelDefinition.ChannelSettings.Email(host, port, security, username, password, from, to,
                        f.text("caFile", null));
            }
        };
        return new ChannelDefinition(name, settings);
    }

    /** Whether an SMTP host (with or without a port) names this host's loopback, by name or address. */
    static boolean isLoopback(String host) {
        String name = Targets.hostAndPort(host, 25).host().toLowerCase(Locale.ROOT);
        if (name.startsWith("[") && name.endsWith("]")) {
            name = name.substring(1, name.length() - 1);
        }
        if (name.equals("localhost")) {
            return true; // other names are not trusted to resolve to this host (RFC 6761 is not every resolver's)
        }
        if (!name.matches("[0-9.]+|[0-9a-f:.]*:[0-9a-f:.]*")) {
            return false; // a name other than localhost: not resolved here (it may not resolve the same later)
        }
        try {
            return java.net.InetAddress.getByName(name).isLoopbackAddress(); // a literal: no lookup
        } catch (java.net.UnknownHostException | SecurityException e) {
            return false;
        }
    }

    public static int defaultSmtpPort(String security) {
        return switch (security) {
            case "tls" -> 465;   // RFC 8314 §3.3, implicit TLS submission
            case "starttls" -> 587; // RFC 6409 §3.1, submission with STARTTLS (RFC 3207)
            default -> 25;
        };
    }

    private static void httpUrl(String field, String url) {
        try {
            Targets.httpUri(url);
        } catch (IllegalArgumentException e) {
            throw DefinitionException.invalid(field, e.getMessage().replace("an http target", "it"));
        }
    }

    private static String stripSlash(String url) {
        return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    // ---- maintenance windows --------------------------------------------------------------------

    public static MaintenanceWindow maintenance(JsonNode node) {
        Fields f = new Fields(node);
        String name = name(f);
        f.refuseUnknown(WINDOW_KEYS, "maintenance windows");
        String startText = f.requiredText("start", "an ISO-8601 instant, e.g. 2025-06-01T02:00:00Z");
        Instant start;
        try {
            start = Instant.parse(startText);
        } catch (DateTimeParseException e) {
            throw DefinitionException.invalid("start", "\"" + startText + "\" is not an ISO-8601 instant such as"
                    + " 2025-06-01T02:00:00Z");
        }
        Duration duration = f.duration("duration", null);
        if (duration == null) {
            throw DefinitionException.invalid("duration", "is required, e.g. 2h");
        }
        String repeat = f.text("repeat", "none").toLowerCase(Locale.ROOT);
        if (!MaintenanceWindow.REPEATS.contains(repeat)) {
            throw DefinitionException.invalid("repeat", "\"" + repeat + "\" is not one of " + MaintenanceWindow.REPEATS);
        }
        long max = repeat.equals("daily") ? Duration.ofDays(1).toMillis()
                : repeat.equals("weekly") ? Duration.ofDays(7).toMillis() : Duration.ofDays(366).toMillis();
        if (duration.isZero() || duration.toMillis() > max) {
            throw DefinitionException.invalid("duration", DurationText.format(duration) + " must be above 0 and at most "
                    + DurationText.format(Duration.ofMillis(max)) + (repeat.equals("none") ? "" : " for a " + repeat + " window"));
        }
        List<String> monitors = f.stringList("monitors");
        for (int i = 0; i < monitors.size(); i++) {
            if (!NAME.matcher(monitors.get(i)).matches()) {
                throw DefinitionException.invalid("monitors[" + i + "]", "\"" + monitors.get(i) + "\" is not a monitor name");
            }
        }
        return new MaintenanceWindow(name, start, duration, repeat, List.copyOf(new LinkedHashSet<>(monitors)));
    }

    // ---- the monitor file -----------------------------------------------------------------------

    /**
     * The whole file: {@code channels}, {@code monitors} and {@code maintenance} lists. Names must be
     * unique within each list and a monitor's channels must be listed in the file or, when
     * {@code knownChannels} says so, exist already.
     */
    public static Catalog catalog(JsonNode root, Set<String> knownChannels) {
        if (root == null || root.isNull() || root.isMissingNode()) {
            return Catalog.empty();
        }
        if (!root.isObject()) {
            throw DefinitionException.invalid(null, "the file must hold a block with channels, monitors and maintenance");
        }
        Fields file = new Fields(root);
        file.refuseUnknown(FILE_KEYS, "monitor files");
        List<ChannelDefinition> channels = new ArrayList<>();
        Set<String> channelNames = new LinkedHashSet<>();
        forEachItem(root, "channels", (path, item) -> {
            ChannelDefinition channel = at(path, item, () -> channel(item));
            if (!channelNames.add(channel.name())) {
                throw DefinitionException.invalid(named(path, item) + ".name", "channel " + channel.name() + " is defined twice");
            }
            channels.add(channel);
        });
        List<MonitorDefinition> monitors = new ArrayList<>();
        Set<String> monitorNames = new LinkedHashSet<>();
        forEachItem(root, "monitors", (path, item) -> {
            MonitorDefinition monitor = at(path, item, () -> monitor(item));
            if (!monitorNames.add(monitor.name())) {
                throw DefinitionException.invalid(named(path, item) + ".name", "monitor " + monitor.name() + " is defined twice");
            }
            for (String channel : monitor.channels()) {
                if (!channelNames.contains(channel) && !knownChannels.contains(channel)) {
                    throw new DefinitionException(DefinitionException.Kind.UNKNOWN_REFERENCE, named(path, item) + ".channels",
                            "no channel " + channel + (channelNames.isEmpty() ? "" : "; the file defines " + channelNames));
                }
            }
            monitors.add(monitor);
        });
        List<MaintenanceWindow> windows = new ArrayList<>();
        Set<String> windowNames = new LinkedHashSet<>();
        forEachItem(root, "maintenance", (path, item) -> {
            MaintenanceWindow window = at(path, item, () -> maintenance(item));
            if (!windowNames.add(window.name())) {
                throw DefinitionException.invalid(named(path, item) + ".name",
                        "maintenance window " + window.name() + " is defined twice");
            }
            windows.add(window);
        });
        return new Catalog(channels, monitors, windows);
    }

    private interface ItemReader {
        void read(String path, JsonNode item);
    }

    private static void forEachItem(JsonNode root, String key, ItemReader reader) {
        JsonNode list = root.get(key);
        if (list == null || list.isNull()) {
            return;
        }
        if (!list.isArray()) {
            throw DefinitionException.invalid(key, "must be a list (items start with \"- \")");
        }
        for (int i = 0; i < list.size(); i++) {
            reader.read(key + "[" + i + "]", list.get(i));
        }
    }

    private static <T> T at(String path, JsonNode item, java.util.function.Supplier<T> read) {
        try {
            return read.get();
        } catch (DefinitionException e) {
            throw e.under(named(path, item));
        }
    }

    /** Where an entry of the file is, named when it has a name: {@code monitors[0] (shop)}. */
    private static String named(String path, JsonNode item) {
        JsonNode name = item == null ? null : item.get("name");
        return name != null && name.isTextual() ? path + " (" + io.switchboard.platform.http.QuotedValue.of(name.asText()) + ")" : path;
    }

    private static String name(Fields f) {
        String name = f.requiredText("name", "letters, digits, . _ -, up to 64");
        if (!NAME.matcher(name).matches()) {
            throw DefinitionException.invalid("name", "\"" + io.switchboard.platform.http.QuotedValue.of(name) + "\" is not a name: 1-64 letters, digits, . _ -,"
                    + " starting with a letter or digit");
        }
        return name;
    }

    /** Typed access to an object's fields with errors that name the field. */
    static final class Fields {
        private final JsonNode node;

        Fields(JsonNode node) {
            if (node == null || !node.isObject()) {
                throw DefinitionException.invalid(null, "expected a block of keys, got "
                        + (node == null || node.isNull() ? "nothing" : node.getNodeType().name().toLowerCase(Locale.ROOT)));
            }
            this.node = node;
        }

        boolean has(String key) {
            JsonNode v = node.get(key);
            return v != null && !v.isNull();
        }

        JsonNode node(String key) {
            return node.get(key);
        }

        void refuseUnknown(List<String> allowed, String what) {
            Iterator<String> names = node.fieldNames();
            while (names.hasNext()) {
                String key = names.next();
                if (!allowed.contains(key)) {
                    throw DefinitionException.invalid(key, "unknown key; " + what + " have " + allowed);
                }
            }
        }

        String requiredText(String key, String expected) {
            String value = text(key, null);
            if (value == null || value.isBlank()) {
                throw DefinitionException.invalid(key, "is required: " + expected);
            }
            return value;
        }

        String text(String key, String fallback) {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) {
                return fallback;
            }
            if (v.isTextual() || v.isNumber() || v.isBoolean()) {
                return v.asText();
            }
            throw DefinitionException.invalid(key, "expected text, got " + kind(v));
        }

        int integer(String key, int fallback, int min, int max) {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) {
                return fallback;
            }
            long value;
            if (v.isIntegralNumber()) {
                if (!v.canConvertToLong()) {
                    // asLong would wrap it into range
                    throw DefinitionException.invalid(key, v.asText() + " is outside " + min + "-" + max);
                }
                value = v.asLong();
            } else if (v.isTextual() && v.asText().strip().matches("-?\\d{1,10}")) {
                value = Long.parseLong(v.asText().strip());
            } else {
                throw DefinitionException.invalid(key, "expected a whole number, got " + describe(v));
            }
            if (value < min || value > max) {
                throw DefinitionException.invalid(key, value + " is outside " + min + "-" + max);
            }
            return (int) value;
        }

        boolean bool(String key, boolean fallback) {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) {
                return fallback;
            }
            if (v.isBoolean()) {
                return v.asBoolean();
            }
            if (v.isTextual() && (v.asText().equals("true") || v.asText().equals("false"))) {
                return Boolean.parseBoolean(v.asText());
            }
            throw DefinitionException.invalid(key, "expected true or false, got " + describe(v));
        }

        Duration duration(String key, Duration fallback) {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) {
                return fallback;
            }
            if (!v.isTextual()) {
                throw DefinitionException.invalid(key, "expected a duration with a unit such as 30s, got " + describe(v)
                        + " (a bare number's unit would be a guess)");
            }
            try {
                return DurationText.parse(v.asText());
            } catch (IllegalArgumentException e) {
                throw DefinitionException.invalid(key, e.getMessage());
            }
        }

        List<String> stringList(String key) {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) {
                return List.of();
            }
            if (!v.isArray()) {
                throw DefinitionException.invalid(key, "expected a list, e.g. [a, b], got " + describe(v));
            }
            List<String> out = new ArrayList<>();
            for (int i = 0; i < v.size(); i++) {
                JsonNode item = v.get(i);
                if (!(item.isTextual() || item.isNumber())) {
                    throw DefinitionException.invalid(key + "[" + i + "]", "expected text, got " + describe(item));
                }
                out.add(item.asText());
            }
            return out;
        }

        Map<String, String> stringMap(String key) {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) {
                return Map.of();
            }
            if (!v.isObject()) {
                throw DefinitionException.invalid(key, "expected a block of name: value pairs, got " + describe(v));
            }
            Map<String, String> out = new LinkedHashMap<>();
            v.fields().forEachRemaining(e -> {
                JsonNode value = e.getValue();
                if (!(value.isTextual() || value.isNumber() || value.isBoolean())) {
                    throw DefinitionException.invalid(key + "." + e.getKey(), "expected text, got " + describe(value));
                }
                out.put(e.getKey(), value.asText());
            });
            return out;
        }

        StatusSet statusSet(String key, StatusSet fallback, int min, int max) {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) {
                return fallback;
            }
            List<String> items = v.isArray() ? stringList(key) : List.of(text(key, ""));
            try {
                return StatusSet.parse(items, min, max);
            } catch (IllegalArgumentException e) {
                throw DefinitionException.invalid(key, e.getMessage());
            }
        }

        private static String describe(JsonNode v) {
            if (v.isNumber() && !Double.isFinite(v.asDouble())) {
                // YAML reads 1e400 as a double too large to hold, which would be shown as "Infinity"
                return "a number too large to read";
            }
            return v.isValueNode() ? v.toString() : kind(v);
        }

        private static String kind(JsonNode v) {
            return v.isArray() ? "a list" : v.isObject() ? "a block of keys" : v.getNodeType().name().toLowerCase(Locale.ROOT);
        }
    }
}
