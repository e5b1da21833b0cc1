package io.switchboard.monitor.check;

import com.jayway.jsonpath.JsonPath;
import com.jayway.jsonpath.PathNotFoundException;
import io.switchboard.monitor.definition.CheckOptions;
import io.switchboard.monitor.definition.DurationText;
import io.switchboard.monitor.definition.MonitorDefinition;
import io.switchboard.monitor.definition.Redaction;
import io.switchboard.monitor.definition.UrlCredentials;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import okhttp3.Call;
import okhttp3.Connection;
import okhttp3.ConnectionPool;
import okhttp3.EventListener;
import okhttp3.Handshake;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * HTTP(S) check on OkHttp: one request per hop on a fresh connection (no pooling, and no TLS
 * session resumption, so every check measures name lookup, connect and a full TLS handshake like
 * a first visitor, and sees the certificate the server has now), redirects followed by hand so the
 * chain is recorded, the final status matched against {@code expectStatus}, then the body's
 * keyword or JSONPath condition. Phases come from OkHttp's {@link EventListener}.
 *
 * <p>Redirects follow RFC 9110 §15.4: 307 and 308 repeat the request with the same method and body
 * (§15.4.8, §15.4.9); 303 turns it into a GET (§15.4.4); 301 and 302 turn a POST into a GET, as
 * browsers do (§15.4.2, §15.4.3), and keep other methods. Credential headers the monitor sets
 * (Authorization, Cookie, tokens, see {@link Redaction#isCredentialHeader}) are not sent to another
 * origin (§15.4, the user agent removes them "where there are security implications"). A user and
 * password in the target are sent as Basic authentication ({@link UrlCredentials}), a credential
 * header like these: to the target's origin only. URLs in details and errors have their password
 * masked.
 */
public final class HttpCheck implements Check {
    static final int MAX_BODY = 1 << 20;
    private static final String USER_AGENT = "Switchboard-Monitor/1.0";

    private final OkHttpClient base;
    private final CertificateTrust trust;
    private final Clock clock;
    private final Map<String, OkHttpClient> withCaFile = new ConcurrentHashMap<>();

    public HttpCheck(CertificateTrust trust, Clock clock) {
        this.trust = trust;
        this.clock = clock;
        this.base = new OkHttpClient.Builder()
                .followRedirects(false)
                .followSslRedirects(false)
                .retryOnConnectionFailure(false)
                .proxy(Proxy.NO_PROXY)
                // the monitor's timeout bounds each call as a whole (Call.timeout); no per-step limits below it
                .connectTimeout(Duration.ZERO)
                .readTimeout(Duration.ZERO)
                .writeTimeout(Duration.ZERO)
                .eventListenerFactory(call -> {
                    Phases phases = call.request().tag(Phases.class);
                    return phases == null ? EventListener.NONE : phases;
                })
                .build();
    }

    @Override
    public CheckResult run(MonitorDefinition monitor) {
        CheckOptions.Http options = (CheckOptions.Http) monitor.options();
        Instant startedAt = clock.instant();
        long begin = System.nanoTime();
        long deadline = begin + monitor.timeout().toNanos();
        Map<String, Object> details = new LinkedHashMap<>();
        List<String> worked = new ArrayList<>();
        List<Map<String, Object>> chain = new ArrayList<>();
        details.put("redirects", chain);
        Phases total = new Phases();
        URI url = URI.create(monitor.target());
        String method = options.method();
        byte[] body = options.body() == null ? null : options.body().getBytes(StandardCharsets.UTF_8);
        Map<String, String> headers = options.headers();
        String basic = UrlCredentials.basicAuthorization(url);
        if (basic != null && UrlCredentials.authorizationHeader(headers) == null) {
            // the URL's user and password, as Basic authentication (RFC 7617); a credential header
            // like any other, so a redirect to another origin drops it below. A monitor stored with an
            // Authorization header of its own too (refused when written now) keeps sending that one.
            headers = new LinkedHashMap<>(headers);
            headers.put(UrlCredentials.HEADER, basic);
        }
        OkHttpClient client;
        try {
            client = client(options.caFile());
        } catch (IOException e) {
            // CertificateTrust says it all: "cannot read caFile /x/ca.pem: no such file"
            return CheckResult.down(startedAt, 0, "the check " + e.getMessage(), worked, details);
        } catch (GeneralSecurityException e) {
            return CheckResult.down(startedAt, 0, "the check cannot use caFile " + options.caFile() + ": " + e.getMessage(),
                    worked, details);
        }
        // Each check gets a connection pool of its own: connections are never reused (every check
        // measures a first visitor's DNS, connect and TLS), and OkHttp looks for a reusable
        // connection by scanning its pool, in-use connections included. One shared pool made every
        // call scan all checks in flight: at 2,000 concurrent checks that scan was a fifth of the
        // node's CPU (JFR, bench/monitor.sh raw run).
        client = client.newBuilder().connectionPool(new ConnectionPool(0, 1, TimeUnit.SECONDS)).build();
        for (int hop = 0; ; hop++) {
            long remaining = deadline - System.nanoTime();
            if (remaining <= 0) {
                return down(startedAt, begin, "no final answer within " + DurationText.spoken(monitor.timeout())
                        + " (" + chain.size() + " redirect" + (chain.size() == 1 ? "" : "s") + " followed)", worked, details, total);
            }
            Phases phases = new Phases();
            Request request = request(url, method, body, headers, phases);
            Call call = client.newCall(request);
            call.timeout().timeout(remaining, TimeUnit.NANOSECONDS);
            int status;
            String reason;
            String location;
            byte[] answer;
            try (Response response = call.execute()) {
                status = response.code();
                reason = response.message();
                location = response.header("Location");
                answer = read(response);
                phases.bodyEnd = System.nanoTime();
                details.put("protocol", response.protocol().toString());
            } catch (IOException e) {
                total.add(phases);
                phases.explain(worked, url);
                FailureText.noteReachable(e, url.getHost(), worked);
                return down(startedAt, begin, FailureText.of(e, url.getHost(), port(url), monitor.timeout()), worked,
                        details, total);
            }
            total.add(phases);
            if (hop == 0) {
                phases.explain(worked, url);
            }
            Map<String, Object> step = new LinkedHashMap<>();
            step.put("url", shown(url));
            step.put("status", status);
            step.put("ms", phases.millis(phases.callStart, phases.bodyEnd));
            boolean redirect = status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
            if (redirect && options.maxRedirects() > 0) {
                chain.add(step);
                if (location == null) {
                    return down(startedAt, begin, "the server answered " + status + " (a redirect) without saying where to"
                            + " (no Location header)", worked, details, total);
                }
                if (hop >= options.maxRedirects()) {
                    return down(startedAt, begin, "more than " + options.maxRedirects() + " redirects: "
                            + String.join(" → ", chain.stream().map(s -> String.valueOf(s.get("url"))).toList()), worked, details, total);
                }
                // RFC 9110 §10.2.2: Location may be relative to the request's URI
                HttpUrl next = HttpUrl.get(url.toString()).resolve(location);
                if (next == null) {
                    return down(startedAt, begin, "the server redirected to \"" + Redaction.target(location)
                            + "\", which is not a web address", worked, details, total);
                }
                URI nextUrl = next.uri();
                boolean asGet = switch (status) {
                    case 303 -> !method.equals("HEAD");        // RFC 9110 §15.4.4: fetch the other resource with GET
                    case 301, 302 -> method.equals("POST");    // §15.4.2, §15.4.3: "MAY change ... from POST to GET"
                    default -> false;                          // 307, 308 (§15.4.8, §15.4.9): same method, same body
                };
                if (asGet) {
                    method = "GET";
                    body = null;
                    headers = without(headers, name -> name.equalsIgnoreCase("Content-Type")
                            || name.equalsIgnoreCase("Content-Length"));
                }
                if (!sameOrigin(url, nextUrl)) {
                    // RFC 9110 §15.4: credentials set for one origin are not handed to another
                    headers = without(headers, Redaction::isCredentialHeader);
                }
                url = nextUrl;
                continue;
            }
            details.put("status", status);
            details.put("finalUrl", shown(url));
            if (!chain.isEmpty()) {
                chain.add(step);
            }
            if (!options.expectStatus().contains(status)) {
                return down(startedAt, begin, "the server answered HTTP " + status + (reason.isEmpty() ? "" : " (" + reason + ")")
                        + "; expected " + options.expectStatus(), worked, details, total);
            }
            worked.add("the server answered HTTP " + status + (chain.isEmpty() ? "" : " after " + (chain.size() - 1)
                    + " redirect" + (chain.size() == 2 ? "" : "s")));
            String condition = bodyProblem(options, answer);
            if (condition != null) {
                return down(startedAt, begin, condition, worked, details, total);
            }
            long latency = total.totalMillis(begin);
            details.put("phases", total.asMap(begin));
            if (monitor.degradedAbove() != null && latency > monitor.degradedAbove().toMillis()) {
                return new CheckResult(CheckStatus.DEGRADED, startedAt, latency, "answered in " + latency + " ms, slower than the "
                        + DurationText.spoken(monitor.degradedAbove()) + " threshold", worked, details);
            }
            return new CheckResult(CheckStatus.UP, startedAt, latency, null, worked, details);
        }
    }

    private static CheckResult down(Instant startedAt, long begin, String error, List<String> worked,
                                    Map<String, Object> details, Phases total) {
        details.put("phases", total.asMap(begin));
        return CheckResult.down(startedAt, total.totalMillis(begin), error, worked, details);
    }

    private static Request request(URI url, String method, byte[] body, Map<String, String> headers, Phases phases) {
        // without its user information, which OkHttp would keep (and write into an absolute-form
        // request line): the target's goes as the Authorization header, a Location's nowhere
        Request.Builder builder = new Request.Builder().url(UrlCredentials.withoutUserInfo(url).toString()).tag(Phases.class, phases)
                .header("User-Agent", USER_AGENT);
        headers.forEach(builder::header);
        if (body != null) {
            String type = headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase("Content-Type"))
                    .map(Map.Entry::getValue).findFirst().orElse("application/json");
            builder.method(method, RequestBody.create(body, MediaType.parse(type)));
        } else if (requiresBody(method)) {
            builder.method(method, RequestBody.create(new byte[0], null));
        } else {
            builder.method(method, null);
        }
        return builder.build();
    }

    private static Map<String, String> without(Map<String, String> headers, Predicate<String> dropped) {
        Map<String, String> kept = new LinkedHashMap<>();
        headers.forEach((name, value) -> {
            if (!dropped.test(name)) {
                kept.put(name, value);
            }
        });
        return kept;
    }

    /** RFC 6454 §4: scheme, host and port. */
    static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme()) && a.getHost().equalsIgnoreCase(b.getHost()) && port(a) == port(b);
    }

    /** A URL as details and errors show it: a password in it masked. */
    private static String shown(URI url) {
        return Redaction.target(url.toString());
    }

    private static boolean requiresBody(String method) {
        return method.equals("POST") || method.equals("PUT") || method.equals("PATCH");
    }

    private static byte[] read(Response response) throws IOException {
        try (InputStream in = response.body().byteStream()) {
            return in.readNBytes(MAX_BODY);
        }
    }

    static String bodyProblem(CheckOptions.Http options, byte[] body) {
        String text = null;
        if (options.keyword() != null) {
            text = new String(body, StandardCharsets.UTF_8);
            if (!text.contains(options.keyword())) {
                return "the page does not contain \"" + options.keyword() + "\"" + (body.length >= MAX_BODY
                        ? " (in its first " + (MAX_BODY >> 20) + " MiB)" : "");
            }
        }
        if (options.jsonPath() != null) {
            text = text != null ? text : new String(body, StandardCharsets.UTF_8);
            Object value;
            try {
                value = JsonPath.read(text, options.jsonPath());
            } catch (PathNotFoundException e) {
                return "the answer has no " + options.jsonPath();
            } catch (RuntimeException e) {
                return "the answer is not the JSON expected (" + options.jsonPath() + " cannot be read: "
                        + firstLine(e.getMessage()) + ")";
            }
            if (value instanceof List<?> list && list.size() == 1) {
                value = list.getFirst();
            }
            if (options.jsonValue() != null) {
                String actual = String.valueOf(value);
                if (!actual.equals(options.jsonValue())) {
                    return options.jsonPath() + " is \"" + actual + "\", expected \"" + options.jsonValue() + "\"";
                }
            } else if (value == null || Boolean.FALSE.equals(value) || (value instanceof List<?> l && l.isEmpty())) {
                return options.jsonPath() + " is " + (value == null ? "null" : value instanceof List ? "empty" : "false");
            }
        }
        return null;
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "unreadable";
        }
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }

    private OkHttpClient client(String caFile) throws IOException, GeneralSecurityException {
        if (caFile == null) {
            return base;
        }
        SSLContext context = trust.sslContext(caFile);
        javax.net.ssl.X509TrustManager manager = trust.trustManager(caFile);
        // keyed by file: the trust object reloads a changed file, the client is rebuilt with it
        String key = caFile + "@" + System.identityHashCode(context);
        return withCaFile.computeIfAbsent(key, k -> base.newBuilder().sslSocketFactory(context.getSocketFactory(), manager).build());
    }

    private static int port(URI url) {
        return url.getPort() > 0 ? url.getPort() : url.getScheme().equalsIgnoreCase("https") ? 443 : 80;
    }

    /** Timestamps (System.nanoTime) of one call's phases, from OkHttp's events. */
    static final class Phases extends EventListener {
        long callStart;
        long dnsStart;
        long dnsEnd;
        long connectStart;
        long secureStart;
        long secureEnd;
        long connectEnd;
        long requestSent;
        long headersEnd;
        long bodyEnd;
        String address;
        String tlsVersion;
        // sums over the hops of a redirect chain, in nanoseconds
        long dnsNanos;
        long connectNanos;
        long tlsNanos;
        long firstByteNanos;
        /** Whether any answer's headers came: a check that timed out waiting has no first byte (null, not 0). */
        boolean sawFirstByte;
        boolean sawDns;
        boolean sawTls;

        @Override
        public void callStart(Call call) {
            callStart = System.nanoTime();
        }

        @Override
        public void dnsStart(Call call, String domainName) {
            dnsStart = System.nanoTime();
        }

        @Override
        public void dnsEnd(Call call, String domainName, List<InetAddress> addresses) {
            dnsEnd = System.nanoTime();
        }

        @Override
        public void connectStart(Call call, InetSocketAddress inetSocketAddress, Proxy proxy) {
            connectStart = System.nanoTime();
            address = inetSocketAddress.getAddress() == null ? inetSocketAddress.getHostString()
                    : inetSocketAddress.getAddress().getHostAddress();
        }

        @Override
        public void secureConnectStart(Call call) {
            secureStart = System.nanoTime();
        }

        @Override
        public void secureConnectEnd(Call call, Handshake handshake) {
            secureEnd = System.nanoTime();
            tlsVersion = handshake == null ? null : handshake.tlsVersion().javaName();
        }

        @Override
        public void connectEnd(Call call, InetSocketAddress inetSocketAddress, Proxy proxy, Protocol protocol) {
            connectEnd = System.nanoTime();
        }

        @Override
        public void connectionAcquired(Call call, Connection connection) {
            // Never resume this TLS session: the next check must do a full handshake (its TLS phase is
            // a first visitor's) and be shown the server's certificate as it is then, not the one the
            // session was made with (RFC 8446 §2.2: a resumed handshake sends no certificate).
            if (connection.socket() instanceof SSLSocket tls) {
                tls.getSession().invalidate();
            }
        }

        @Override
        public void requestHeadersStart(Call call) {
            if (requestSent == 0) {
                requestSent = System.nanoTime();
            }
        }

        @Override
        public void responseHeadersEnd(Call call, Response response) {
            headersEnd = System.nanoTime();
        }

        void add(Phases hop) {
            if (hop.dnsEnd > 0) {
                dnsNanos += hop.dnsEnd - hop.dnsStart;
                sawDns = true;
            }
            if (hop.connectStart > 0) {
                long tcpEnd = hop.secureStart > 0 ? hop.secureStart : hop.connectEnd;
                if (tcpEnd > 0) {
                    connectNanos += tcpEnd - hop.connectStart;
                }
            }
            if (hop.secureEnd > 0) {
                tlsNanos += hop.secureEnd - hop.secureStart;
                sawTls = true;
                tlsVersion = hop.tlsVersion;
            }
            if (hop.headersEnd > 0 && hop.requestSent > 0) {
                firstByteNanos += hop.headersEnd - hop.requestSent;
                sawFirstByte = true;
            }
            if (address == null) {
                address = hop.address;
            }
        }

        long totalMillis(long begin) {
            return Math.max(0, (System.nanoTime() - begin) / 1_000_000);
        }

        Map<String, Object> asMap(long begin) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("dnsMs", sawDns ? round(dnsNanos) : null);
            out.put("connectMs", round(connectNanos));
            out.put("tlsMs", sawTls ? round(tlsNanos) : null);
            out.put("firstByteMs", sawFirstByte ? round(firstByteNanos) : null);
            out.put("totalMs", totalMillis(begin));
            return out;
        }

        private static double round(long nanos) {
            return Math.round(nanos / 10_000.0) / 100.0;
        }

        long millis(long from, long to) {
            return from == 0 || to == 0 ? 0 : (to - from) / 1_000_000;
        }

        /** The steps of this call that completed, in words. */
        void explain(List<String> worked, URI url) {
            if (dnsEnd > 0) {
                worked.add("the name " + url.getHost() + " resolved" + (address == null ? "" : " to " + address));
            }
            if (connectEnd > 0 || secureStart > 0) {
                worked.add("the connection to port " + port(url) + " was accepted");
            }
            if (secureEnd > 0) {
                worked.add("the secure connection (TLS" + (tlsVersion == null ? "" : ", " + tlsVersion) + ") was set up");
            }
        }
    }
}
