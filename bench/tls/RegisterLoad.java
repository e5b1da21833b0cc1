import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * REGISTER with digest authentication over TLS at a fixed rate, for bench/sip-register.sh
 * --transport tls: the same load for Kamailio's tls module and Switchboard's tls listener.
 * <p>
 * Why not SIPp: Debian bookworm's sip-tester is built without TLS, its sources cannot be fetched
 * here, and trixie's sip-tester 3.7.3 (built with wolfSSL) fails every TLS connection against both
 * servers ("SSL_connect failed ... SSL_ERROR_WANT_READ", then "Unable to send TLS message"; SIPp's
 * issue 719 reports the same). This is a small open-loop generator with no dependency beyond
 * the JDK ({@code java RegisterLoad.java ...}, or compiled once as the script does).
 * <p>
 * One registration is REGISTER → 401 → REGISTER with {@code Authorization} (MD5, RFC 2617 with
 * {@code qop=auth} when offered, as both servers do for SIPp) → 200, for the users
 * {@code u00000}… in turn. Registrations are started on a fixed schedule (rate × duration of them,
 * no more); the latency of each is measured from its scheduled start, so a server that falls
 * behind shows it in p99 rather than in a slower schedule; {@code service_p50_ms}/{@code service_p99_ms}
 * are the same registrations from their first REGISTER sent, i.e. without the wait for a free
 * connection. Modes:
 * <ul>
 *   <li>{@code reuse}: {@code --connections} TLS connections opened first, each carrying one
 *       registration at a time;</li>
 *   <li>{@code newconn}: a new TCP connection and a full TLS handshake for every registration
 *       (the session is invalidated after use, so nothing is resumed), closed when it is done:
 *       the rate it sustains is the server's handshakes per second.</li>
 * </ul>
 * The server's certificate is verified against {@code --ca} and the name 127.0.0.1. Every
 * read has a timeout; the run ends by {@code duration + --drain} seconds at the latest. With
 * {@code --warmup S} the same load runs S seconds first, unmeasured (its figures prefixed
 * {@code warmup }), then a line {@code measuring} marks the start of the measured part. Prints one
 * line of {@code key=value} figures; exit 0 when every registration got its 200, else 1 (2 for bad
 * arguments).
 */
public final class RegisterLoad {
    private static final Pattern PARAM = Pattern.compile("(\\w+)=(?:\"([^\"]*)\"|([^,\\s]+))");
    private static final int MAX_IN_FLIGHT = 5000;
    /** put in the queue of due registrations after the last one: the connection taking it stops */
    private static final long ALL_SCHEDULED = Long.MIN_VALUE;
    /** the port in every Contact: not the connection's, which changes with each connection */
    private static final int CONTACT_PORT = 5061;

    private final String host;
    private final int port;
    private final SSLContext tls;
    private final int users;
    private final String password;
    private final int readTimeoutMs;
    private final AtomicInteger nextUser = new AtomicInteger();
    private final AtomicLong ok = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong handshakes = new AtomicLong();
    private final AtomicLong reconnects = new AtomicLong();
    private final Map<String, AtomicLong> failures = new ConcurrentHashMap<>();
    private final AtomicLongArray latencyMicros;
    /**
     * The same registrations from the first REGISTER sent to the 200: the server's share. What
     * {@link #latencyMicros} has beyond it is queueing here, for a free connection (each carries
     * one registration at a time, so at most connections ÷ service time registrations per second).
     */
    private final AtomicLongArray serviceMicros;
    private final AtomicInteger recorded = new AtomicInteger();
    /** how long opening the kept connections took (reuse), before the schedule started */
    private long connectMillis;

    private RegisterLoad(String host, int port, SSLContext tls, int users, String password, int readTimeoutMs, int total) {
        this.host = host;
        this.port = port;
        this.tls = tls;
        this.users = users;
        this.password = password;
        this.readTimeoutMs = readTimeoutMs;
        this.latencyMicros = new AtomicLongArray(total);
        this.serviceMicros = new AtomicLongArray(total);
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = new ConcurrentHashMap<>(Map.of("mode", "reuse", "connections", "20", "users", "10000",
                "password", "secret", "timeout", "10", "drain", "15", "warmup", "0"));
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                usage("bad argument: " + args[i]);
            }
            opt.put(args[i].substring(2), args[++i]);
        }
        for (String required : List.of("target", "rate", "duration", "ca")) {
            if (!opt.containsKey(required)) {
                usage("--" + required + " is required");
            }
        }
        String[] target = opt.get("target").split(":");
        int rate = positive(opt, "rate", 200_000);
        int duration = positive(opt, "duration", 600);
        int connections = positive(opt, "connections", 10_000);
        int timeout = positive(opt, "timeout", 120);
        int drain = positive(opt, "drain", 600);
        int warmup = opt.get("warmup").equals("0") ? 0 : positive(opt, "warmup", 600);
        String mode = opt.get("mode");
        if (!mode.equals("reuse") && !mode.equals("newconn")) {
            usage("--mode reuse or newconn");
        }
        long total = (long) rate * duration;
        if (total > 10_000_000 || (long) rate * warmup > 10_000_000) {
            usage("rate × duration (or rate × warmup) over 10,000,000");
        }
        SSLContext tls = context(Path.of(opt.get("ca")));
        int users = positive(opt, "users", 1_000_000);
        if (warmup > 0) {
            // the same load, unmeasured, so that the measured part meets a compiled JVM (its TLS
            // and crypto code runs interpreted at first, many times slower than the servers')
            RegisterLoad warm = new RegisterLoad(target[0], Integer.parseInt(target[1]), tls, users, opt.get("password"),
                    timeout * 1000, rate * warmup);
            int rc = warm.run(mode, rate, warmup, connections, drain, rate * warmup, "warmup ");
            System.out.println("warm-up exit " + rc);
        }
        // the caller starts measuring the server here
        System.out.println("measuring");
        System.out.flush();
        RegisterLoad load = new RegisterLoad(target[0], Integer.parseInt(target[1]), tls, users, opt.get("password"),
                timeout * 1000, (int) total);
        System.exit(load.run(mode, rate, duration, connections, drain, (int) total, ""));
    }

    private int run(String mode, int rate, int duration, int connections, int drainSeconds, int total, String prefix)
            throws Exception {
        // reuse: the kept connections are opened (one full handshake each, one after another) before
        // the schedule starts. The schedule used to start 200 ms after the call, before them: when
        // the handshakes took longer, the first registrations were already late when the
        // connections came up (0.7-2.4 s for 50 here), and that backlog, not the server's answers,
        // made p99 and failed probes against either server
        List<Connection> opened = new ArrayList<>();
        long connecting = System.nanoTime();
        if (mode.equals("reuse")) {
            for (int c = 0; c < connections; c++) {
                try {
                    opened.add(new Connection(connect()));
                } catch (IOException e) {
                    fail("connect: " + e.getMessage());
                    opened.forEach(Connection::close);
                    print(prefix, mode, rate, duration, total, 0, System.nanoTime(), System.nanoTime());
                    return 1;
                }
            }
        }
        connectMillis = (System.nanoTime() - connecting) / 1_000_000;
        long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200);
        long deadline = start + TimeUnit.SECONDS.toNanos(duration + drainSeconds);
        long intervalNanos = 1_000_000_000L / rate;
        List<Thread> threads = new ArrayList<>();
        AtomicInteger started = new AtomicInteger();
        if (mode.equals("reuse")) {
            // room for every registration and one end mark per connection
            BlockingQueue<Long> due = new ArrayBlockingQueue<>(total + connections);
            for (int c = 0; c < connections; c++) {
                Connection connection = opened.get(c);
                // a platform thread per kept connection: it blocks in the socket's read, where a
                // virtual thread would park and be woken by the poller for every response (twice
                // per registration), which cost the generator more CPU than the TLS itself
                threads.add(Thread.ofPlatform().daemon().name("connection-" + c).start(() -> {
                    try (connection) {
                        Long at;
                        // stops at the deadline even with registrations left queued: a warm-up that fell
                        // behind must not go on loading the server during the measured run after it
                        while (System.nanoTime() < deadline
                                && (at = due.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) != null
                                && at != ALL_SCHEDULED) {
                            if (!connection.usable) {
                                // the server closed it (or it broke): open another, as a client would
                                try {
                                    connection.replace(connect());
                                    reconnects.incrementAndGet();
                                } catch (IOException e) {
                                    fail("connection lost, reconnect failed: " + e.getClass().getSimpleName());
                                    continue;
                                }
                            }
                            register(connection, at);
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }));
            }
            for (int i = 0; i < total; i++) {
                long at = start + i * intervalNanos;
                sleepUntil(at);
                due.add(at);
                started.incrementAndGet();
            }
            // one end mark per connection, after every registration (FIFO): each connection stops
            // when the schedule is done instead of waiting out the drain time for more. It used to
            // wait, so every run lasted duration + drain (25 s for a 10 s probe) and the script,
            // which divides CPU by the run's wall time, reported both servers' CPU (and the
            // generator's) at about 10/25 of what they used under load
            for (int c = 0; c < connections; c++) {
                due.add(ALL_SCHEDULED);
            }
        } else {
            Semaphore inFlight = new Semaphore(MAX_IN_FLIGHT);
            for (int i = 0; i < total; i++) {
                long at = start + i * intervalNanos;
                sleepUntil(at);
                if (!inFlight.tryAcquire()) {
                    fail("over " + MAX_IN_FLIGHT + " registrations in flight");
                    continue;
                }
                started.incrementAndGet();
                threads.add(Thread.ofVirtual().start(() -> {
                    try (Connection connection = new Connection(connect())) {
                        register(connection, at);
                    } catch (IOException e) {
                        fail("connect: " + e.getClass().getSimpleName() + " " + e.getMessage());
                    } finally {
                        inFlight.release();
                    }
                }));
            }
        }
        long sent = System.nanoTime();
        for (Thread t : threads) {
            long left = deadline - System.nanoTime();
            if (left <= 0 || !t.join(java.time.Duration.ofNanos(left))) {
                break;
            }
        }
        long unfinished = total - ok.get() - failed.get();
        if (unfinished > 0) {
            failures.computeIfAbsent("unfinished at the deadline", k -> new AtomicLong()).addAndGet(unfinished);
        }
        print(prefix, mode, rate, duration, total, started.get(), start, sent);
        return ok.get() == total ? 0 : 1;
    }

    private void print(String prefix, String mode, int rate, int duration, int total, int started, long start, long sent) {
        int n = Math.min(recorded.get(), total);
        long[] sorted = new long[n];
        long[] service = new long[n];
        for (int i = 0; i < n; i++) {
            sorted[i] = latencyMicros.get(i);
            service[i] = serviceMicros.get(i);
        }
        Arrays.sort(sorted);
        Arrays.sort(service);
        double seconds = Math.max(1e-3, (sent - start) / 1e9);
        System.out.printf(Locale.ROOT, prefix + "mode=%s rate=%d duration=%d total=%d started=%d ok=%d failed=%d offered_rate=%.1f"
                        + " p50_ms=%s p99_ms=%s service_p50_ms=%s service_p99_ms=%s handshakes=%d reconnects=%d connect_ms=%d%n", mode, rate,
                duration, total, started, ok.get(), total - ok.get(), started / seconds, percentile(sorted, 0.50),
                percentile(sorted, 0.99), percentile(service, 0.50), percentile(service, 0.99), handshakes.get(),
                reconnects.get(), connectMillis);
        failures.forEach((reason, count) -> System.out.println(prefix + "failure " + count.get() + "x " + reason));
    }

    private static String percentile(long[] sorted, double p) {
        if (sorted.length == 0) {
            return "-";
        }
        int i = (int) Math.ceil(sorted.length * p) - 1;
        return String.format(Locale.ROOT, "%.3f", sorted[Math.max(0, i)] / 1000.0);
    }

    // ---------------------------------------------------------------- one registration

    private void register(Connection c, long scheduledAt) {
        String user = userName(Math.floorMod(nextUser.getAndIncrement(), users));
        String callId = Long.toHexString(ThreadLocalRandom.current().nextLong()) + "@bench";
        String uri = "sip:" + host + ":" + port;
        long sentAt = System.nanoTime();
        try {
            c.send(request(c, user, callId, 1, uri, null));
            Response challenge = c.read(callId, 1);
            if (challenge.status != 401) {
                throw new Refused("first REGISTER answered " + challenge.status);
            }
            String authenticate = challenge.header("www-authenticate");
            if (authenticate == null) {
                throw new Refused("401 without WWW-Authenticate");
            }
            c.send(request(c, user, callId, 2, uri, authorization(authenticate, user, uri)));
            Response registered = c.read(callId, 2);
            if (registered.status != 200) {
                throw new Refused("authenticated REGISTER answered " + registered.status);
            }
            int slot = recorded.getAndIncrement();
            if (slot < latencyMicros.length()) {
                long now = System.nanoTime();
                latencyMicros.set(slot, (now - scheduledAt) / 1000);
                serviceMicros.set(slot, (now - sentAt) / 1000);
            }
            ok.incrementAndGet();
        } catch (Refused e) {
            // an error answer: counted, but the connection is fine (responses are matched by
            // Call-ID and CSeq, so a stray one is skipped) and carries the next registration
            fail(e.getMessage());
        } catch (IOException | RuntimeException e) {
            c.usable = false; // closed, timed out or garbled: the next registration reconnects
            fail(e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }

    /** A final response other than the one expected: the registration fails, the connection stays. */
    private static final class Refused extends Exception {
        Refused(String message) {
            super(message, null, false, false);
        }
    }

    private String request(Connection c, String user, String callId, int cseq, String uri, String authorization) {
        String local = "127.0.0.1:" + c.socket.getLocalPort();
        StringBuilder m = new StringBuilder()
                .append("REGISTER ").append(uri).append(" SIP/2.0\r\n")
                .append("Via: SIP/2.0/TLS ").append(local).append(";branch=z9hG4bK")
                .append(Long.toHexString(ThreadLocalRandom.current().nextLong())).append("\r\n")
                .append("From: <sip:").append(user).append('@').append(host).append(">;tag=")
                .append(Integer.toHexString(ThreadLocalRandom.current().nextInt())).append("\r\n")
                .append("To: <sip:").append(user).append('@').append(host).append(">\r\n")
                .append("Call-ID: ").append(callId).append("\r\n")
                .append("CSeq: ").append(cseq).append(" REGISTER\r\n")
                // one Contact per user whatever the connection, as SIPp's fixed local port gives the UDP
                // bench: a registration replaces the user's binding instead of adding one per
                // connection (which piles up across probes until the registrar's contact limit)
                .append("Contact: <sip:").append(user).append("@127.0.0.1:").append(CONTACT_PORT).append(";transport=tls>\r\n")
                .append("Expires: 3600\r\nMax-Forwards: 70\r\nUser-Agent: switchboard-bench-tls\r\n");
        if (authorization != null) {
            m.append("Authorization: ").append(authorization).append("\r\n");
        }
        return m.append("Content-Length: 0\r\n\r\n").toString();
    }

    /** RFC 2617 §3.2.2 (RFC 3261 §22.4): MD5, with qop=auth when the challenge offers it. */
    private String authorization(String challenge, String user, String uri) {
        Map<String, String> p = new ConcurrentHashMap<>();
        Matcher m = PARAM.matcher(challenge.replaceFirst("(?i)^\\s*Digest\\s+", ""));
        while (m.find()) {
            p.put(m.group(1).toLowerCase(Locale.ROOT), m.group(2) != null ? m.group(2) : m.group(3));
        }
        String realm = p.getOrDefault("realm", "");
        String nonce = p.getOrDefault("nonce", "");
        String ha1 = md5(user + ":" + realm + ":" + password);
        String ha2 = md5("REGISTER:" + uri);
        StringBuilder a = new StringBuilder("Digest username=\"").append(user).append("\", realm=\"").append(realm)
                .append("\", nonce=\"").append(nonce).append("\", uri=\"").append(uri).append("\", algorithm=MD5");
        String qop = p.get("qop");
        if (qop != null && Arrays.asList(qop.split("\\s*,\\s*")).contains("auth")) {
            String cnonce = Long.toHexString(ThreadLocalRandom.current().nextLong());
            a.append(", qop=auth, nc=00000001, cnonce=\"").append(cnonce).append("\", response=\"")
                    .append(md5(ha1 + ":" + nonce + ":00000001:" + cnonce + ":auth:" + ha2)).append('"');
        } else {
            a.append(", response=\"").append(md5(ha1 + ":" + nonce + ":" + ha2)).append('"');
        }
        if (p.containsKey("opaque")) {
            a.append(", opaque=\"").append(p.get("opaque")).append('"');
        }
        return a.toString();
    }

    /** u00000 … u99999, as String.format("u%05d") but without parsing a format per registration */
    static String userName(int n) {
        String digits = Integer.toString(n);
        return digits.length() >= 5 ? "u" + digits : "u" + "00000".substring(digits.length()) + digits;
    }

    private static final ThreadLocal<MessageDigest> MD5 = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("MD5");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    });

    private static String md5(String text) {
        return HexFormat.of().formatHex(MD5.get().digest(text.getBytes(StandardCharsets.UTF_8)));
    }

    private void fail(String reason) {
        failed.incrementAndGet();
        failures.computeIfAbsent(reason.length() > 120 ? reason.substring(0, 120) : reason, k -> new AtomicLong())
                .incrementAndGet();
    }

    // ---------------------------------------------------------------- TLS connections

    private SSLSocket connect() throws IOException {
        Socket raw = new Socket();
        raw.setTcpNoDelay(true);
        raw.connect(new InetSocketAddress(host, port), readTimeoutMs);
        SSLSocket socket = (SSLSocket) tls.getSocketFactory().createSocket(raw, host, port, true);
        SSLParameters params = socket.getSSLParameters();
        params.setProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
        // RFC 5922 §7: the certificate must name the host dialed (here an IP address entry)
        params.setEndpointIdentificationAlgorithm("HTTPS");
        if (!Character.isDigit(host.charAt(0))) {
            params.setServerNames(List.of(new SNIHostName(host)));
        }
        socket.setSSLParameters(params);
        socket.setSoTimeout(readTimeoutMs);
        socket.startHandshake();
        handshakes.incrementAndGet();
        return socket;
    }

    private static SSLContext context(Path caFile) throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(caFile)) {
            int i = 0;
            for (var cert : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                trust.setCertificateEntry("ca" + i++, (X509Certificate) cert);
            }
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        return context;
    }

    private final class Connection implements AutoCloseable {
        private static final int MAX_HEAD = 65_536;
        SSLSocket socket;
        OutputStream out;
        InputStream in;
        /** bytes read from the socket and not consumed yet: buffer[from, to) */
        private byte[] buffer = new byte[16_384];
        private int from;
        private int to;
        volatile boolean usable = true;

        Connection(SSLSocket socket) throws IOException {
            use(socket);
        }

        private void use(SSLSocket s) throws IOException {
            this.socket = s;
            this.out = s.getOutputStream();
            this.in = s.getInputStream();
            this.from = 0;
            this.to = 0;
            this.usable = true;
        }

        /** closes the broken socket, carries on over a new one */
        void replace(SSLSocket s) throws IOException {
            close();
            use(s);
        }

        void send(String message) throws IOException {
            out.write(message.getBytes(StandardCharsets.UTF_8));
            out.flush();
        }

        /**
         * The final response to the request with this Call-ID and CSeq (1xx and responses to other
         * requests, e.g. a second answer to an earlier one, skipped), framed by Content-Length
         * (RFC 3261 §18.3). Reads the socket in chunks and scans them: reading it a byte at a time
         * (each a locked call) cost more than the rest of the generator.
         */
        Response read(String callId, int cseq) throws IOException {
            while (true) {
                // keep-alive CRLFs between messages (RFC 5626 §3.5.1)
                while (true) {
                    while (from < to && (buffer[from] == '\r' || buffer[from] == '\n')) {
                        from++;
                    }
                    if (from < to) {
                        break;
                    }
                    fill();
                }
                int end;
                int scanned = from;
                while ((end = headEnd(scanned)) < 0) {
                    if (to - from > MAX_HEAD) {
                        throw new IOException("response head over 64 KiB");
                    }
                    scanned = Math.max(from, to - 3);
                    fill();
                }
                Response r = new Response(new String(buffer, from, end - from, StandardCharsets.UTF_8));
                from = end;
                String length = r.header("content-length");
                long body = length == null ? 0 : Long.parseLong(length.strip());
                while (body > 0) {
                    if (from == to) {
                        fill();
                    }
                    int skip = (int) Math.min(body, to - from);
                    from += skip;
                    body -= skip;
                }
                if (r.status >= 200 && callId.equals(r.header("call-id")) && cseqNumber(r.header("cseq")) == cseq) {
                    return r;
                }
            }
        }

        /** the index just past the CRLFCRLF that ends a head starting at {@code from}, searched from {@code at}; -1 if none yet */
        private int headEnd(int at) {
            for (int i = at; i + 3 < to; i++) {
                if (buffer[i] == '\r' && buffer[i + 1] == '\n' && buffer[i + 2] == '\r' && buffer[i + 3] == '\n') {
                    return i + 4;
                }
            }
            return -1;
        }

        /** reads more bytes after {@code to}, moving what is unconsumed to the front (or growing the buffer) first */
        private void fill() throws IOException {
            if (from == to) {
                from = 0;
                to = 0;
            } else if (to == buffer.length) {
                if (from > 0) {
                    System.arraycopy(buffer, from, buffer, 0, to - from);
                    to -= from;
                    from = 0;
                } else {
                    buffer = Arrays.copyOf(buffer, buffer.length * 2);
                }
            }
            int n = in.read(buffer, to, buffer.length - to);
            if (n < 0) {
                throw new IOException("connection closed by the server");
            }
            to += n;
        }

        @Override
        public void close() {
            try {
                socket.getSession().invalidate(); // no resumption: each new connection is a full handshake
                socket.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    private static long cseqNumber(String cseq) {
        if (cseq == null) {
            return -1;
        }
        try {
            return Long.parseLong(cseq.strip().split("\\s+")[0]);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** A response's status and the headers the generator reads (lower-case names, the first of each). */
    private record Response(int status, Map<String, String> headers) {
        private static final java.util.Set<String> READ = java.util.Set.of("content-length", "call-id", "cseq",
                "www-authenticate");

        Response(String head) {
            this(Integer.parseInt(head.substring(8, 11)), headers(head));
        }

        private static Map<String, String> headers(String head) {
            Map<String, String> found = new java.util.HashMap<>(8);
            int line = head.indexOf("\r\n") + 2;
            while (line > 1 && line < head.length()) {
                int next = head.indexOf("\r\n", line);
                if (next < 0) {
                    next = head.length();
                }
                int colon = head.indexOf(':', line);
                if (colon > line && colon < next) {
                    String name = head.substring(line, colon).strip().toLowerCase(Locale.ROOT);
                    if (READ.contains(name)) {
                        found.putIfAbsent(name, head.substring(colon + 1, next).strip());
                    }
                }
                line = next + 2;
            }
            return found;
        }

        String header(String name) {
            return headers.get(name);
        }
    }

    // ---------------------------------------------------------------- arguments

    private static void sleepUntil(long nanoTime) throws InterruptedException {
        long left = nanoTime - System.nanoTime();
        if (left > 0) {
            TimeUnit.NANOSECONDS.sleep(left);
        }
    }

    private static int positive(Map<String, String> opt, String key, int max) {
        try {
            int v = Integer.parseInt(opt.get(key));
            if (v >= 1 && v <= max) {
                return v;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        usage("--" + key + " must be 1.." + max);
        return 0;
    }

    private static void usage(String problem) {
        System.err.println("RegisterLoad: " + problem);
        System.err.println("usage: java RegisterLoad.java --target 127.0.0.1:PORT --ca CA.pem --rate N --duration S"
                + " [--mode reuse|newconn] [--connections N] [--users N] [--password P] [--timeout S] [--drain S]"
                + " [--warmup S]");
        System.exit(2);
    }
}
