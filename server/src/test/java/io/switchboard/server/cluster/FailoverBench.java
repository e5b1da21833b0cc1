package io.switchboard.server.cluster;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;
import org.junit.jupiter.api.io.TempDir;

/**
 * The benchmark behind {@code bench/failover.sh}, on the same harness as the failover tests. It is
 * never part of the suite: the class name matches none of Surefire's test patterns, and it runs
 * only when {@code SWITCHBOARD_BENCH=failover} (the script sets it and names the class with
 * {@code -Dtest}). It prints its figures and writes them to {@code FAILOVER_OUT}.
 *
 * <p>Part 1, failover: a three-node cluster under the mixed load of the failover test; one node is
 * killed with {@code kill -9}. Reported: time from the kill to the first success and to the last
 * failure of chat sends through HAProxy, to the first resumed stream, to the re-registration of
 * every phone the kill disconnected, and until every monitor was checked again; chat send latency
 * p50/p99 before and after the kill; acknowledged, lost and duplicated messages.
 *
 * <p>Part 2, what the cluster costs: the same saturating load through HAProxy against one node and
 * against three nodes sharing this machine — chat deliveries per second (senders without pause,
 * every message fanned out to every reader's stream) and REGISTER per second over TCP (every phone
 * re-registering without pause on its connection) — and the ratio three / one.
 *
 * <p>Settings (environment): {@code FAILOVER_PORT_BASE} (23100), {@code FAILOVER_BEFORE_SECONDS}
 * and {@code FAILOVER_AFTER_SECONDS} (20, 30), {@code FAILOVER_COST_SECONDS} (20),
 * {@code FAILOVER_COST_WARMUP_SECONDS} (half the step, at least 5),
 * {@code FAILOVER_MONITORS} (200), {@code FAILOVER_PHONES} (12), {@code FAILOVER_COST_PHONES} (120),
 * {@code FAILOVER_COST_CHATS} (32), {@code FAILOVER_COST_ROUNDS} (1: one node then three, once),
 * {@code FAILOVER_COST_SIZES} ({@code 1,3}), {@code FAILOVER_PARTS}
 * ({@code failover,cost}), {@code FAILOVER_NODE_JVM} (node JVM options, space-separated).
 */
@EnabledIfEnvironmentVariable(named = "SWITCHBOARD_BENCH", matches = "failover")
class FailoverBench {
    private final int base = intEnv("FAILOVER_PORT_BASE", 23100);
    private final int before = intEnv("FAILOVER_BEFORE_SECONDS", 20);
    private final int after = intEnv("FAILOVER_AFTER_SECONDS", 30);
    private final int costSeconds = intEnv("FAILOVER_COST_SECONDS", 20);
    private final int costWarmup = intEnv("FAILOVER_COST_WARMUP_SECONDS", Math.max(5, costSeconds / 2));
    /** At most this much more warm-up while the nodes' JIT compilers are still busy (see {@link #warmUp}). */
    private final int costMaxExtraWarmup = intEnv("FAILOVER_COST_MAX_EXTRA_WARMUP_SECONDS", 300);
    private static final double JIT_SETTLED_CORES = 0.05;
    private final int monitorCount = intEnv("FAILOVER_MONITORS", 200);
    private final int phoneCount = intEnv("FAILOVER_PHONES", 12);
    // The cost steps need enough clients waiting at once to keep every node busy: each client waits
    // for its answer (a commit) before the next request, and each node commits what its own clients
    // sent as one batch, so a dozen clients spread over three nodes leave each node idle between
    // small batches, measuring commit latency rather than what the cluster costs.
    private final int costPhones = intEnv("FAILOVER_COST_PHONES", 120);
    private final int costChats = intEnv("FAILOVER_COST_CHATS", 32);
    /** How many times the cost part measures one node, then three (each round gives its own ratios). */
    private final int costRounds = intEnv("FAILOVER_COST_ROUNDS", 1);
    private final String parts = System.getenv().getOrDefault("FAILOVER_PARTS", "failover,cost");
    /** Which cluster sizes the cost part measures ("1,3"; one of them alone to profile or compare one side). */
    private final String costSizes = System.getenv().getOrDefault("FAILOVER_COST_SIZES", "1,3");
    /** When set, the nodes' store.commitDelay in the cost part ("0" for none); else the default. */
    private final String costCommitDelay = System.getenv("FAILOVER_COST_COMMIT_DELAY");
    /** When set, the nodes' bus.linger in the cost part ("0" for none); else the default. */
    private final String costBusLinger = System.getenv("FAILOVER_COST_BUS_LINGER");
    /** When set, a directory: each node records each measured cost step with JFR (settings "profile") there. */
    private final String costJfr = System.getenv("FAILOVER_COST_JFR");
    private final List<String> nodeJvm = List.of(System.getenv().getOrDefault("FAILOVER_NODE_JVM", "-Xmx512m").trim().split("\\s+"));
    /** When set, the processors each node of a cost cluster of more than one is told it has (-XX:ActiveProcessorCount). */
    private final String costSharedCpus = System.getenv("FAILOVER_COST_SHARED_CPUS");
    private final List<String> report = new ArrayList<>();

    @TempDir
    Path dir;

    private static int intEnv(String name, int fallback) {
        String value = System.getenv(name);
        return value == null || value.isBlank() ? fallback : Integer.parseInt(value.trim());
    }

    private void say(String format, Object... args) {
        String line = String.format(Locale.ROOT, format, args);
        report.add(line);
        System.out.println(line);
    }

    @Test
    void failoverAndClusterCost() throws Exception {
        ClusterUnderTest.HAPROXY.assumeAvailable();
        say("# bench/failover.sh, %s, %d cores", Instant.now(), Runtime.getRuntime().availableProcessors());
        try {
            if (parts.contains("failover")) {
                failover();
            }
            if (parts.contains("cost")) {
                if (costRounds < 1) {
                    throw new IllegalArgumentException("FAILOVER_COST_ROUNDS must be at least 1, not " + costRounds);
                }
                if (!costSizes.contains("1") && !costSizes.contains("3")) {
                    throw new IllegalArgumentException("FAILOVER_COST_SIZES is 1,3, 1 or 3, not " + costSizes);
                }
                List<Double> chatRatios = new ArrayList<>();
                List<Double> registerRatios = new ArrayList<>();
                List<Double> chatRates = new ArrayList<>();
                List<Double> registerRates = new ArrayList<>();
                for (int round = 1; round <= costRounds; round++) {
                    if (costRounds > 1) {
                        say("cost  round %d of %d", round, costRounds);
                    }
                    double[] one = costSizes.contains("1") ? cost(1, round) : null;
                    double[] three = costSizes.contains("3") ? cost(3, round) : null;
                    double[] alone = one != null ? one : three;
                    chatRates.add(alone[0]);
                    registerRates.add(alone[1]);
                    if (one != null && three != null) {
                        say("cost  chat deliveries/s: 1 node %.0f, 3 nodes %.0f, ratio %.2f", one[0], three[0], three[0] / one[0]);
                        say("cost  REGISTER/s over TCP through HAProxy: 1 node %.0f, 3 nodes %.0f, ratio %.2f", one[1], three[1],
                                three[1] / one[1]);
                        chatRatios.add(three[0] / one[0]);
                        registerRatios.add(three[1] / one[1]);
                    }
                }
                if (chatRatios.size() > 1) {
                    // the machine drifts over minutes: a ratio is taken within a round, then the median of the rounds
                    say("cost  median of %d rounds: chat ratio %.2f, REGISTER ratio %.2f (rounds: chat %s, REGISTER %s)",
                            chatRatios.size(), median(chatRatios), median(registerRatios), rounded(chatRatios), rounded(registerRatios));
                } else if (costRounds > 1 && chatRatios.isEmpty()) {
                    say("cost  median of %d rounds, %s node(s): chat deliveries/s %.0f, REGISTER/s %.0f", costRounds, costSizes,
                            median(chatRates), median(registerRates));
                }
            }
        } finally {
            String out = System.getenv("FAILOVER_OUT");
            if (out != null && !out.isBlank()) {
                Files.write(Path.of(out), report);
            }
        }
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    private static String rounded(List<Double> values) {
        return values.stream().map(v -> String.format(Locale.ROOT, "%.2f", v)).collect(Collectors.joining(", "));
    }

    private void failover() throws Exception {
        Duration interval = Duration.ofSeconds(5);
        try (ClusterUnderTest cluster = new ClusterUnderTest(dir.resolve("failover"), 3, base, Map.of(), nodeJvm);
             MonitorLoad monitors = new MonitorLoad(interval);
             ChatLoad chat = new ChatLoad(cluster.baseUrl());
             SipLoad sip = new SipLoad(cluster.sipFrontendPort(), phoneCount)) {
            cluster.start(Duration.ofSeconds(180));
            monitors.create(cluster.baseUrl(), cluster.adminToken(), monitorCount);
            chat.setUp(4, 6);
            sip.register(Duration.ofSeconds(60));
            monitors.awaitAllChecked(Duration.ofSeconds(60));
            chat.startSending(Duration.ofMillis(50), Integer.MAX_VALUE);
            sip.startCalling(Duration.ofMillis(200));
            Thread.sleep(Duration.ofSeconds(before));

            long killed = System.nanoTime();
            chat.mark();
            cluster.node(1).kill();
            Thread.sleep(Duration.ofSeconds(after));
            chat.stopSending();
            sip.stopCalling();
            chat.awaitReadersCaughtUp(Duration.ofSeconds(60));

            List<ChatLoad.Acked> acked = chat.acked();
            List<Long> failures = chat.failureTimes().stream().filter(t -> t > killed).toList();
            double lastFailure = failures.isEmpty() ? 0 : (failures.getLast() - killed) / 1e6;
            List<ClusterPhone> moved = sip.movedSince(killed);
            double firstReg = -1;
            double allReg = 0;
            for (ClusterPhone phone : moved) {
                long at = phone.registeredAfter(killed);
                double ms = at < 0 ? Double.NaN : (at - killed) / 1e6;
                firstReg = firstReg < 0 ? ms : Math.min(firstReg, ms);
                allReg = Math.max(allReg, ms);
            }
            double firstCall = sip.calls().stream().filter(c -> c.startedNanos() > killed && c.succeeded())
                    .mapToDouble(c -> (c.startedNanos() + c.setupNanos() - killed) / 1e6).min().orElse(-1);
            ChatLoad.Losses losses = chat.losses();
            say("failover  HTTP (chat send through HAProxy): first success %.0f ms after the kill, last failure %.0f ms after (%d failed attempts)",
                    chat.msToFirstAck(), lastFailure, failures.size());
            say("failover  stream resume: first stream synced again %.0f ms after the kill (%d reconnects)",
                    chat.msToFirstResume(), chat.reconnects());
            say("failover  SIP re-registration: %d phones moved, first re-registered %.0f ms, all %.0f ms after the kill;"
                    + " first answered call %.0f ms after", moved.size(), firstReg, allReg, firstCall);
            say("failover  monitors: every monitor checked again %.0f ms after the kill (interval %d s)",
                    monitors.msUntilAllCheckedAfter(killed), interval.toSeconds());
            say("failover  chat send latency before the kill p50 %.1f ms p99 %.1f ms; after p50 %.1f ms p99 %.1f ms",
                    percentile(acked, killed, false, 50), percentile(acked, killed, false, 99),
                    percentile(acked, killed, true, 50), percentile(acked, killed, true, 99));
            say("failover  messages acknowledged %d, lost %d, duplicated %d", acked.size(), losses.lost(), losses.duplicated());
        }
    }

    private static double percentile(List<ChatLoad.Acked> acked, long split, boolean afterSplit, int p) {
        double[] ms = acked.stream().filter(a -> (a.sentNanos() > split) == afterSplit)
                .mapToDouble(a -> a.latencyNanos() / 1e6).sorted().toArray();
        if (ms.length == 0) {
            return Double.NaN;
        }
        return ms[Math.min(ms.length - 1, (int) Math.ceil(p / 100.0 * ms.length) - 1)];
    }

    /** {deliveries/s, REGISTER/s} through HAProxy for a cluster of {@code size}. */
    private double[] cost(int size, int round) throws Exception {
        // every phone's connection comes through HAProxy, from one address: let them all in
        Map<String, String> env = new java.util.HashMap<>(Map.of("SWITCHBOARD_TELEPHONY_MAX_CONNECTIONS_PER_ADDRESS",
                String.valueOf(Math.max(200, costPhones + 50))));
        if (costCommitDelay != null && !costCommitDelay.isBlank()) {
            env.put("SWITCHBOARD_STORE_COMMIT_DELAY", costCommitDelay.trim());
        }
        if (costBusLinger != null && !costBusLinger.isBlank()) {
            env.put("SWITCHBOARD_BUS_LINGER", costBusLinger.trim());
        }
        List<String> jvm = nodeJvm;
        if (size > 1 && costSharedCpus != null && !costSharedCpus.isBlank()) {
            jvm = new ArrayList<>(nodeJvm);
            jvm.add("-XX:ActiveProcessorCount=" + costSharedCpus.trim());
            say("cost  %d node(s): each node runs with -XX:ActiveProcessorCount=%s", size, costSharedCpus.trim());
        }
        try (ClusterUnderTest cluster = new ClusterUnderTest(dir.resolve("cost" + size + "-round" + round), size, base, env, jvm);
             ChatLoad chat = new ChatLoad(cluster.baseUrl());
             SipLoad sip = new SipLoad(cluster.sipFrontendPort(), costPhones)) {
            cluster.start(Duration.ofSeconds(180));
            chat.setUp(costChats, 10);
            chat.startSending(Duration.ZERO, Integer.MAX_VALUE);
            warmUp(cluster, size + " node(s), chat");
            record(cluster, "r" + round + "-" + size + "-nodes-chat"); // before the step's samples: jcmd may take seconds
            long frames0 = chat.framesReceived();
            long sent0 = chat.acknowledged();
            NodeSample chatStart = NodeSample.of(cluster);
            MachineSample chatMachineStart = MachineSample.of(cluster);
            long t0 = System.nanoTime();
            Thread.sleep(Duration.ofSeconds(costSeconds));
            double deliveries = (chat.framesReceived() - frames0) / ((System.nanoTime() - t0) / 1e9);
            long sent = chat.acknowledged() - sent0;
            NodeSample chatEnd = NodeSample.of(cluster);
            MachineSample chatMachineEnd = MachineSample.of(cluster);
            chat.stopSending();
            say("cost  %d node(s), chat: %s", size, chatEnd.minus(chatStart).describe(sent, "message"));
            say("cost  %d node(s), chat: %s", size, chatMachineEnd.minus(chatMachineStart).describe(sent, "message"));

            sip.register(Duration.ofSeconds(60));
            AtomicLong ok = new AtomicLong();
            java.util.concurrent.atomic.AtomicBoolean counting = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.atomic.AtomicBoolean stopped = new java.util.concurrent.atomic.AtomicBoolean();
            List<Thread> loops = new ArrayList<>();
            for (ClusterPhone phone : sip.phones()) {
                loops.add(Thread.ofVirtual().start(() -> {
                    try {
                        while (!stopped.get()) {
                            int status = phone.reRegister();
                            if (status == 200 && counting.get()) {
                                ok.incrementAndGet();
                            }
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }));
            }
            warmUp(cluster, size + " node(s), REGISTER");
            record(cluster, "r" + round + "-" + size + "-nodes-register");
            NodeSample registerStart = NodeSample.of(cluster);
            MachineSample registerMachineStart = MachineSample.of(cluster);
            counting.set(true);
            Thread.sleep(Duration.ofSeconds(costSeconds));
            counting.set(false);
            NodeSample registerEnd = NodeSample.of(cluster);
            MachineSample registerMachineEnd = MachineSample.of(cluster);
            stopped.set(true);
            for (Thread loop : loops) {
                loop.join();
            }
            double registers = ok.get() / (double) costSeconds;
            say("cost  %d node(s), REGISTER: %s", size, registerEnd.minus(registerStart).describe(ok.get(), "REGISTER"));
            say("cost  %d node(s), REGISTER: %s", size,
                    registerMachineEnd.minus(registerMachineStart).describe(ok.get(), "REGISTER"));
            say("cost  %d node(s): chat deliveries/s %.0f (%d chats, %d readers), REGISTER/s %.0f (%d phones)", size,
                    deliveries, costChats, 10, registers, costPhones);
            return new double[] {deliveries, registers};
        }
    }

    /**
     * Runs the load for the warm-up, then on until the nodes' JIT compilers are done (their threads
     * under {@value #JIT_SETTLED_CORES} cores over 10 s), at most {@code costMaxExtraWarmup} more
     * seconds. Three nodes each see a third of the load, so their methods reach the compilers'
     * thresholds later: with a fixed warm-up the three-node step measured compilation (a third of
     * the nodes' CPU in one run), which a cluster that runs for days does not pay.
     */
    private void warmUp(ClusterUnderTest cluster, String step) throws InterruptedException {
        Thread.sleep(Duration.ofSeconds(costWarmup));
        int extra = 0;
        while (true) {
            double before = jitSeconds(cluster);
            long t0 = System.nanoTime();
            Thread.sleep(Duration.ofSeconds(10));
            double cores = (jitSeconds(cluster) - before) / ((System.nanoTime() - t0) / 1e9);
            // NaN (a node's /proc not read) or negative (a compiler thread ended) is not settled
            boolean settled = cores >= 0 && cores < JIT_SETTLED_CORES;
            if (settled || extra + 10 > costMaxExtraWarmup) {
                say("cost  %s: warmed up %d s, compiler threads at %.2f cores%s", step, costWarmup + extra + 10, cores,
                        settled ? "" : " (still compiling: the step includes it)");
                return;
            }
            extra += 10;
        }
    }

    private static double jitSeconds(ClusterUnderTest cluster) {
        double seconds = 0;
        for (NodeProcess node : cluster.nodes()) {
            seconds += NodeSample.compilerCpuSeconds(node.pid());
        }
        return seconds;
    }

    /**
     * Starts a JFR recording on every node for the length of a measured step (with
     * {@code FAILOVER_COST_JFR}): the recordings line up with the step whatever the set-up took,
     * so a node's CPU per message can be compared alone and in three.
     */
    private void record(ClusterUnderTest cluster, String step) throws Exception {
        if (costJfr == null || costJfr.isBlank()) {
            return;
        }
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        // a little shorter than the step: the last step's nodes are stopped as it ends, and a
        // recording still running then is never written
        long seconds = Math.max(1, costSeconds - 3);
        for (NodeProcess node : cluster.nodes()) {
            Path file = Path.of(costJfr).resolve(step + "-" + node.pid() + ".jfr");
            Process p = new ProcessBuilder(jcmd.toString(), Long.toString(node.pid()), "JFR.start", "name=" + step,
                    "settings=profile", "duration=" + seconds + "s", "filename=" + file,
                    // CPU-time samples (JDK 25): only time on a core counts, which with three nodes
                    // on two cores is what the cluster costs; execution samples also count waiting
                    "jdk.CPUTimeSample#enabled=true", "jdk.CPUTimeSample#throttle=2ms").redirectErrorStream(true).start();
            if (!p.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)) {
                p.destroyForcibly();
                say("cost  could not start JFR on node pid %d (jcmd did not answer within 20 s)", node.pid());
            }
        }
    }

    /**
     * What the whole machine spent between two moments, by part: the nodes, PostgreSQL, RabbitMQ,
     * HAProxy, this load generator and the rest, in CPU seconds from {@code /proc} (processes by
     * their command name; a process that ended meanwhile is missing). Three nodes on two cores
     * share them with everything else, so a part that grows with the nodes shows here first.
     */
    private record MachineSample(Map<String, Double> cpuSeconds, long nanos) {
        private static final List<String> PARTS = List.of("nodes", "database", "broker", "balancer", "load", "other");

        static MachineSample of(ClusterUnderTest cluster) {
            java.util.Set<Long> nodes = new java.util.HashSet<>();
            for (NodeProcess node : cluster.nodes()) {
                nodes.add(node.pid());
            }
            long self = ProcessHandle.current().pid();
            Map<String, Double> cpu = new java.util.LinkedHashMap<>();
            PARTS.forEach(part -> cpu.put(part, 0.0));
            double counted = 0;
            try (var processes = Files.newDirectoryStream(Path.of("/proc"), entry -> entry.getFileName().toString().matches("\\d+"))) {
                for (Path process : processes) {
                    try {
                        String stat = Files.readString(process.resolve("stat"));
                        String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                        double seconds = NodeSample.statCpuSeconds(stat);
                        long pid = Long.parseLong(process.getFileName().toString());
                        String part = nodes.contains(pid) ? "nodes" : pid == self ? "load"
                                : name.equals("postgres") ? "database" : name.startsWith("beam") || name.equals("epmd") ? "broker"
                                : name.equals("haproxy") ? "balancer" : null;
                        if (part != null) {
                            cpu.merge(part, seconds, Double::sum);
                            counted += seconds;
                        }
                    } catch (java.io.IOException | RuntimeException processGone) {
                        // a process that ended while being read
                    }
                }
            } catch (java.io.IOException e) {
                return new MachineSample(cpu, System.nanoTime());
            }
            cpu.put("other", machineBusySeconds() - counted);
            return new MachineSample(cpu, System.nanoTime());
        }

        /** Busy CPU seconds of the whole machine since boot (the first line of /proc/stat, less idle and iowait). */
        private static double machineBusySeconds() {
            try {
                String[] fields = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
                long busy = 0;
                for (int i = 1; i < Math.min(fields.length, 9); i++) {
                    if (i != 4 && i != 5) { // idle, iowait
                        busy += Long.parseLong(fields[i]);
                    }
                }
                return busy / 100.0;
            } catch (java.io.IOException | RuntimeException e) {
                return Double.NaN;
            }
        }

        MachineSample minus(MachineSample start) {
            Map<String, Double> spent = new java.util.LinkedHashMap<>();
            for (String part : PARTS) {
                spent.put(part, cpuSeconds.get(part) - start.cpuSeconds.get(part));
            }
            return new MachineSample(spent, nanos - start.nanos);
        }

        String describe(long operations, String what) {
            double seconds = nanos / 1e9;
            double total = cpuSeconds.values().stream().mapToDouble(Double::doubleValue).sum();
            StringBuilder parts = new StringBuilder();
            for (String part : PARTS) {
                parts.append(String.format(Locale.ROOT, "%s%s %.0f", parts.isEmpty() ? "" : ", ", part,
                        operations == 0 ? Double.NaN : cpuSeconds.get(part) * 1e6 / operations));
            }
            return String.format(Locale.ROOT, "machine used %.2f cores, %.0f µs of CPU per %s (%s)", total / seconds,
                    operations == 0 ? Double.NaN : total * 1e6 / operations, what, parts);
        }
    }

    /**
     * What the nodes spent between two moments: CPU seconds of the node processes (from
     * {@code /proc}, user + system), of which their JIT compiler threads used, and messages streams
     * replayed from the store (a stream replays when it sees a gap, which is what cross-node
     * ordering costs). The JIT figure is the compiler threads' CPU, not the JVM's compilation time
     * ({@code jvm_compilation_time_ms_total}), which is wall time and on shared cores counts the
     * time a compiler thread waited for one.
     */
    private record NodeSample(double cpuSeconds, double jitSeconds, double gcSeconds, double replayed, double busEvents,
                              double busMessages, double commits, long nanos) {
        // replayed: gaps in streams that went to the store (after the reorder wait)
        static NodeSample of(ClusterUnderTest cluster) {
            double cpu = 0;
            double jit = 0;
            double gc = 0;
            double replayed = 0;
            double busEvents = 0;
            double busMessages = 0;
            for (NodeProcess node : cluster.nodes()) {
                cpu += processCpuSeconds(node.pid());
                jit += compilerCpuSeconds(node.pid());
                gc += gcCpuSeconds(node.pid());
                String metrics = node.scrape();
                replayed += metric(metrics, "switchboard_chat_stream_gaps_total{outcome=\"replayed\"");
                busEvents += metric(metrics, "switchboard_bus_published_total");
                busMessages += metric(metrics, "switchboard_bus_messages_total");
            }
            return new NodeSample(cpu, jit, gc, replayed, busEvents, busMessages, cluster.databaseCommits(),
                    System.nanoTime());
        }

        NodeSample minus(NodeSample start) {
            return new NodeSample(cpuSeconds - start.cpuSeconds, jitSeconds - start.jitSeconds, gcSeconds - start.gcSeconds,
                    replayed - start.replayed, busEvents - start.busEvents, busMessages - start.busMessages,
                    commits - start.commits, nanos - start.nanos);
        }

        String describe(long operations, String what) {
            double seconds = nanos / 1e9;
            return String.format(Locale.ROOT,
                    "nodes used %.2f cores (JIT threads %.2f, GC threads %.2f), %.0f µs of node CPU per %s, %.0f stream gaps"
                            + " replayed from the store, %.0f bus events in %.0f messages, %.2f database commits per %s",
                    cpuSeconds / seconds, jitSeconds / seconds, gcSeconds / seconds,
                    operations == 0 ? Double.NaN : cpuSeconds * 1e6 / operations, what, replayed, busEvents, busMessages,
                    operations == 0 ? Double.NaN : commits / operations, what);
        }

        /** User + system CPU seconds from a {@code /proc/.../stat} line. */
        static double statCpuSeconds(String stat) {
            // fields after the command name (which may hold spaces) start after the last ')'
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            // utime and stime are fields 14 and 15 of the whole line, in clock ticks (USER_HZ = 100)
            return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) / 100.0;
        }

        private static double processCpuSeconds(long pid) {
            try {
                String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
                return statCpuSeconds(stat);
            } catch (Exception e) {
                return Double.NaN;
            }
        }

        /**
         * CPU seconds of the process's C1 and C2 compiler threads (their names, cut to 15
         * characters in {@code /proc}, begin "C1 CompilerThre" / "C2 CompilerThre"). With two cores
         * the JVM keeps one of each for its whole life, so no thread's time leaves the sum.
         */
        private static double compilerCpuSeconds(long pid) {
            return threadsCpuSeconds(pid, "C1 CompilerThre", "C2 CompilerThre");
        }

        /**
         * CPU seconds of the process's garbage collector threads (G1's workers "GC Thread#N", its
         * concurrent markers and refinement threads, and the VM thread that runs its pauses). On
         * shared cores a pause's parallel workers wait for each other, so this grows with the
         * number of JVMs on the machine. Workers G1 starts later join the sum then.
         */
        private static double gcCpuSeconds(long pid) {
            return threadsCpuSeconds(pid, "GC Thread#", "G1 ", "VM Thread");
        }

        private static double threadsCpuSeconds(long pid, String... namePrefixes) {
            double seconds = 0;
            try (var tasks = Files.newDirectoryStream(Path.of("/proc/" + pid + "/task"))) {
                for (Path task : tasks) {
                    try {
                        String stat = Files.readString(task.resolve("stat"));
                        String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                        for (String prefix : namePrefixes) {
                            if (name.startsWith(prefix)) {
                                seconds += statCpuSeconds(stat);
                                break;
                            }
                        }
                    } catch (java.io.IOException | RuntimeException threadGone) {
                        // a thread that ended while being read
                    }
                }
            } catch (java.io.IOException e) {
                return Double.NaN;
            }
            return seconds;
        }

        private static double metric(String text, String name) {
            double sum = 0;
            for (String line : text.split("\n")) {
                if (line.startsWith(name + " ") || line.startsWith(name + "{") || (name.contains("{") && line.startsWith(name))) {
                    sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                }
            }
            return sum;
        }
    }
}
