// Chat load generator for bench/chat.sh (run by hand, never by the test suite).
//
//   java bench/chat/ChatLoad.java --base http://127.0.0.1:18090 --server-pid PID \
//        --people 1000 --chats 100 --rates 500,1000,2000 --seconds 20
//
// Signs up --people people, puts them in --chats groups of equal size, opens one stream
// (WebSocket /api/v1/stream) per person, then for each rate sends messages at that total rate
// (POST /api/v1/chats/{id}/messages from a random member of a random chat) for --seconds and
// measures every delivery on every stream: delivered messages per second and send-to-receive
// latency (the sender's clock is the receiver's: one process). Server CPU comes from
// /proc/PID/stat, this process's own from the JVM. One line of results per rate on stdout,
// tab-separated, after a header line; progress on stderr. Only the JDK is needed.
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class ChatLoad {
    static String base = "http://127.0.0.1:18090";
    static long serverPid = -1;
    static int people = 1000;
    static int chats = 100;
    static int seconds = 20;
    static int warmupSeconds = 10;
    static int maxInFlight = 512;
    static List<Integer> rates = List.of(500, 1000, 2000);
    /** Without streams only the sending side is measured (the API and the commit), nothing is delivered. */
    static boolean streams = true;

    static final Pattern ACCESS = Pattern.compile("\"accessToken\":\"([^\"]+)\"");
    static final Pattern USER_ID = Pattern.compile("\"user\":\\{\"id\":\"([^\"]+)\"");
    static final Pattern CHAT_ID = Pattern.compile("^\\{\"id\":\"([^\"]+)\"");

    /** Latency histogram: 10 µs steps to 10 ms, 1 ms steps to 1 s, 100 ms steps to 60 s. */
    static final class Histogram {
        final AtomicLongArray counts = new AtomicLongArray(1000 + 990 + 590 + 1);

        void record(long nanos) {
            long micros = nanos / 1000;
            int bucket;
            if (micros < 10_000) {
                bucket = (int) (micros / 10);
            } else if (micros < 1_000_000) {
                bucket = 1000 + (int) ((micros - 10_000) / 1000);
            } else if (micros < 60_000_000) {
                bucket = 1990 + (int) ((micros - 1_000_000) / 100_000);
            } else {
                bucket = counts.length() - 1;
            }
            counts.incrementAndGet(bucket);
        }

        static double upperMillis(int bucket) {
            if (bucket < 1000) {
                return (bucket + 1) * 0.01;
            } else if (bucket < 1990) {
                return 10 + (bucket - 1000 + 1);
            }
            return 1000 + (bucket - 1990 + 1) * 100.0;
        }

        long total() {
            long t = 0;
            for (int i = 0; i < counts.length(); i++) {
                t += counts.get(i);
            }
            return t;
        }

        double percentile(double p) {
            long total = total();
            if (total == 0) {
                return Double.NaN;
            }
            long rank = (long) Math.ceil(total * p);
            long seen = 0;
            for (int i = 0; i < counts.length(); i++) {
                seen += counts.get(i);
                if (seen >= rank) {
                    return upperMillis(i);
                }
            }
            return upperMillis(counts.length() - 1);
        }
    }

    record Person(String id, String token) {
    }

    static volatile int currentStep = -1;
    static volatile Histogram histogram = new Histogram();
    static final AtomicLong delivered = new AtomicLong();
    static final AtomicLong otherFrames = new AtomicLong();
    static final AtomicLong closedStreams = new AtomicLong();

    public static void main(String[] args) throws Exception {
        for (int i = 0; i < args.length; i += 2) {
            String value = args[i + 1];
            switch (args[i]) {
                case "--base" -> base = value;
                case "--server-pid" -> serverPid = Long.parseLong(value);
                case "--people" -> people = Integer.parseInt(value);
                case "--chats" -> chats = Integer.parseInt(value);
                case "--seconds" -> seconds = Integer.parseInt(value);
                case "--warmup" -> warmupSeconds = Integer.parseInt(value);
                case "--max-in-flight" -> maxInFlight = Integer.parseInt(value);
                case "--streams" -> streams = Boolean.parseBoolean(value);
                case "--rates" -> rates = java.util.Arrays.stream(value.split(",")).map(String::strip).map(Integer::parseInt).toList();
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (people % chats != 0) {
            throw new IllegalArgumentException("--people must be a multiple of --chats");
        }
        ExecutorService io = Executors.newFixedThreadPool(4);
        // HTTP/1.1 with keep-alive, as a browser or an app talks to the API; the JDK client's default
        // (HTTP/2 by h2c upgrade) would add an upgrade attempt to every new connection.
        HttpClient api = HttpClient.newBuilder().executor(io).version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();

        log("signing up " + people + " people");
        String run = Long.toString(System.currentTimeMillis() % 1_000_000_000L, 36);
        List<Person> everyone = new ArrayList<>();
        Semaphore setup = new Semaphore(32);
        List<CompletableFuture<Person>> signUps = new ArrayList<>();
        for (int i = 0; i < people; i++) {
            String body = "{\"username\":\"b" + run + "p" + i + "\",\"password\":\"bench-password-" + i + "\"}";
            setup.acquire();
            signUps.add(api.sendAsync(post("/api/v1/auth/sign-up", null, body), HttpResponse.BodyHandlers.ofString())
                    .whenComplete((r, e) -> setup.release())
                    .thenApply(r -> {
                        if (r.statusCode() != 201) {
                            throw new IllegalStateException("sign-up answered " + r.statusCode() + ": " + r.body());
                        }
                        return new Person(find(USER_ID, r.body()), find(ACCESS, r.body()));
                    }));
        }
        for (CompletableFuture<Person> f : signUps) {
            everyone.add(f.join());
        }
        int perChat = people / chats;
        log("creating " + chats + " chats of " + perChat);
        String[] chatIds = new String[chats];
        for (int c = 0; c < chats; c++) {
            StringBuilder members = new StringBuilder();
            for (int m = 1; m < perChat; m++) {
                members.append(m == 1 ? "" : ",").append('"').append(everyone.get(c * perChat + m).id()).append('"');
            }
            HttpResponse<String> created = api.send(post("/api/v1/chats", everyone.get(c * perChat).token(),
                    "{\"members\":[" + members + "],\"title\":\"bench " + c + "\"}"), HttpResponse.BodyHandlers.ofString());
            if (created.statusCode() != 201) {
                throw new IllegalStateException("creating a chat answered " + created.statusCode() + ": " + created.body());
            }
            chatIds[c] = find(CHAT_ID, created.body());
        }

        log("opening " + people + " streams");
        List<HttpClient> streamClients = new ArrayList<>();
        ExecutorService streamIo = Executors.newFixedThreadPool(2);
        for (int i = 0; i < 4; i++) {
            streamClients.add(HttpClient.newBuilder().executor(streamIo).build());
        }
        CountDownLatch synced = new CountDownLatch(streams ? people : 0);
        List<WebSocket> sockets = new ArrayList<>();
        String wsBase = base.replace("http://", "ws://");
        for (int i = 0; streams && i < people; i++) {
            WebSocket socket = streamClients.get(i % streamClients.size()).newWebSocketBuilder()
                    .buildAsync(URI.create(wsBase + "/api/v1/stream?access_token=" + everyone.get(i).token()), new Receiver(synced))
                    .get(30, TimeUnit.SECONDS);
            socket.sendText("{\"type\":\"hello\"}", true);
            sockets.add(socket);
        }
        if (!synced.await(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException(synced.getCount() + " streams did not sync within 60 s");
        }

        log("warming up for " + warmupSeconds + " s at " + rates.getFirst() + "/s");
        runStep(api, everyone, chatIds, perChat, rates.getFirst(), warmupSeconds, -1);

        System.out.println("rate\tsent_per_s\tsend_errors\tdelivered_per_s\texpected_per_s\tp50_ms\tp99_ms\tp999_ms\tserver_cpu_pct\tloadgen_cpu_pct\tdelivered_per_server_core\tstreams_closed");
        for (int step = 0; step < rates.size(); step++) {
            int rate = rates.get(step);
            log("rate " + rate + "/s for " + seconds + " s");
            runStep(api, everyone, chatIds, perChat, rate, seconds, step);
        }
        for (WebSocket socket : sockets) {
            socket.abort();
        }
        io.shutdownNow();
        streamIo.shutdownNow();
        System.exit(0);
    }

    static void runStep(HttpClient api, List<Person> everyone, String[] chatIds, int perChat, int rate, int duration, int step)
            throws Exception {
        Histogram measured = new Histogram();
        histogram = measured;
        currentStep = step;
        long deliveredBefore = delivered.get();
        long serverBefore = serverCpuNanos();
        long selfBefore = selfCpuNanos();
        AtomicLong sent = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        Semaphore inFlight = new Semaphore(maxInFlight);
        long start = System.nanoTime();
        long end = start + TimeUnit.SECONDS.toNanos(duration);
        long issued = 0;
        while (true) {
            long now = System.nanoTime();
            if (now >= end) {
                break;
            }
            long due = (now - start) * rate / 1_000_000_000L;
            while (issued < due) {
                if (!inFlight.tryAcquire()) {
                    break;
                }
                issued++;
                int chat = ThreadLocalRandom.current().nextInt(chatIds.length);
                Person sender = everyone.get(chat * perChat + ThreadLocalRandom.current().nextInt(perChat));
                String body = "{\"text\":\"b:" + step + ":" + System.nanoTime() + "\"}";
                api.sendAsync(post("/api/v1/chats/" + chatIds[chat] + "/messages", sender.token(), body),
                                HttpResponse.BodyHandlers.discarding())
                        .whenComplete((r, e) -> {
                            inFlight.release();
                            if (e == null && r.statusCode() == 201) {
                                sent.incrementAndGet();
                            } else {
                                errors.incrementAndGet();
                            }
                        });
            }
            Thread.sleep(1);
        }
        long elapsed = System.nanoTime() - start;
        // let the messages in flight arrive before reading the counters
        inFlight.acquire(maxInFlight);
        inFlight.release(maxInFlight);
        Thread.sleep(1000);
        long serverCpu = serverCpuNanos() - serverBefore;
        long selfCpu = selfCpuNanos() - selfBefore;
        long got = delivered.get() - deliveredBefore;
        if (step < 0) {
            return;
        }
        double secondsElapsed = elapsed / 1e9;
        double wall = secondsElapsed + 1;
        double serverPct = serverCpu < 0 ? Double.NaN : 100.0 * serverCpu / (wall * 1e9);
        double selfPct = 100.0 * selfCpu / (wall * 1e9);
        double deliveredPerS = got / secondsElapsed;
        System.out.printf("%d\t%.0f\t%d\t%.0f\t%.0f\t%.2f\t%.2f\t%.2f\t%.0f\t%.0f\t%.0f\t%d%n", rate, sent.get() / secondsElapsed,
                errors.get(), deliveredPerS, sent.get() * (double) perChat / secondsElapsed, measured.percentile(0.50),
                measured.percentile(0.99), measured.percentile(0.999), serverPct, selfPct,
                Double.isNaN(serverPct) || serverPct == 0 ? Double.NaN : got / (serverCpu / 1e9), closedStreams.get());
        System.out.flush();
    }

    static final class Receiver implements WebSocket.Listener {
        private final CountDownLatch synced;
        private final StringBuilder partial = new StringBuilder();

        Receiver(CountDownLatch synced) {
            this.synced = synced;
        }

        @Override
        public void onOpen(WebSocket webSocket) {
            webSocket.request(1);
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            long now = System.nanoTime();
            partial.append(data);
            if (last) {
                String frame = partial.toString();
                partial.setLength(0);
                int at = frame.indexOf("\"text\":\"b:");
                if (at >= 0) {
                    int stepStart = at + 10;
                    int colon = frame.indexOf(':', stepStart);
                    int quote = frame.indexOf('"', colon);
                    int step = Integer.parseInt(frame.substring(stepStart, colon));
                    long sentAt = Long.parseLong(frame.substring(colon + 1, quote));
                    delivered.incrementAndGet();
                    if (step == currentStep) {
                        histogram.record(now - sentAt);
                    }
                } else if (frame.startsWith("{\"type\":\"synced\"")) {
                    synced.countDown();
                } else {
                    otherFrames.incrementAndGet();
                }
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            closedStreams.incrementAndGet();
            log("a stream closed: " + statusCode + " " + reason);
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            closedStreams.incrementAndGet();
        }
    }

    static HttpRequest post(String path, String token, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return b.build();
    }

    static String find(Pattern pattern, String text) {
        Matcher m = pattern.matcher(text);
        if (!m.find()) {
            throw new IllegalStateException("no " + pattern + " in " + text);
        }
        return m.group(1);
    }

    /** utime+stime of the server process from /proc, in nanoseconds; -1 when unknown. */
    static long serverCpuNanos() {
        if (serverPid <= 0) {
            return -1;
        }
        try {
            String stat = Files.readString(Path.of("/proc/" + serverPid + "/stat"));
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            long ticks = Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
            return ticks * 10_000_000L; // USER_HZ is 100 on Linux
        } catch (Exception e) {
            return -1;
        }
    }

    static long selfCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    static void log(String line) {
        System.err.println(java.time.LocalTime.now().withNano(0) + " " + line);
    }
}
