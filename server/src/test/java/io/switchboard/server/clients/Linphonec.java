package io.switchboard.server.clients;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * linphonec (Debian {@code linphone-cli}, liblinphone 5.1) as a real phone in tests, one process
 * per account, driven over its stdin with its own commands ({@code call}, {@code terminate},
 * {@code autoanswer enable}, {@code status register}) while its stdout is read line by line.
 * <p>
 * What it takes to run it unattended: its own {@code HOME} whose {@code .local/share/linphone} is
 * writable (otherwise it opens no SIP port at all); a config file ({@code -c}) with the account,
 * the node as registrar and as route for every request (otherwise it resolves the callee's domain
 * in DNS), SIP and RTP ports picked at random, video off; no sound card: {@code soundcard use
 * files} plays a tone file instead. {@link #close()} ends the process by its PID;
 * {@link #killAndRestart()} kills it (SIGKILL) and starts it again as the same device.
 * <p>
 * With {@link MediaProfile#WEBRTC} it speaks a browser's media: DTLS-SRTP as mandatory media
 * encryption, AVPF on the account ({@code UDP/TLS/RTP/SAVPF}), RTP and RTCP on one port and a NAT
 * policy with ICE and no STUN server (host candidates only). Chromium accepts its offers and
 * answers; the browsers in the tests gather no candidate, so no media flows.
 */
public final class Linphonec implements AutoCloseable {
    public static final PeerBinary BINARY = new PeerBinary("linphonec", "LINPHONEC_BIN", "linphone-cli");
    private static final Pattern REGISTERED = Pattern.compile("^registered, identity=");

    public enum Transport { UDP, TCP, TLS }

    private final String user;
    private final Path dir;
    private final Path config;
    private final Path tone;
    private final boolean autoAnswer;
    private final Process process;
    private final OutputStream stdin;
    private final List<String> lines = new CopyOnWriteArrayList<>();
    private final Object arrived = new Object();

    private Linphonec(String user, Path dir, Path config, Path tone, boolean autoAnswer, Process process) {
        this.user = user;
        this.dir = dir;
        this.config = config;
        this.tone = tone;
        this.autoAnswer = autoAnswer;
        this.process = process;
        this.stdin = process.getOutputStream();
        Thread.ofPlatform().daemon().name("linphonec-" + user).start(this::readOutput);
    }

    /**
     * Starts linphonec for one account; it registers on its own.
     *
     * @param dir        an empty directory for its HOME, config, tone file and log
     * @param node       the node's SIP address: registrar, and route for every request
     * @param autoAnswer answer incoming calls at once (the callee)
     */
    public static Linphonec start(Path dir, String user, String password, String domain, InetSocketAddress node,
                                  Transport transport, boolean autoAnswer) throws IOException {
        return start(dir, user, password, domain, node, transport, autoAnswer, MediaProfile.RTP);
    }

    /** As {@link #start(Path, String, String, String, InetSocketAddress, Transport, boolean)}, with the media to speak. */
    public static Linphonec start(Path dir, String user, String password, String domain, InetSocketAddress node,
                                  Transport transport, boolean autoAnswer, MediaProfile media) throws IOException {
        return start(dir, user, password, domain, node, transport, autoAnswer, media, null);
    }

    /**
     * As {@link #start(Path, String, String, String, InetSocketAddress, Transport, boolean, MediaProfile)},
     * with the CA that linphonec verifies the node's certificate against over {@link Transport#TLS}.
     * <p>
     * With a CA it checks the chain and the name ({@code verify_server_certs}, {@code verify_server_cn}).
     * Its TLS library (mbedTLS 2.28 through bctoolbox) matches the name against the certificate's
     * DNS names and subject CN only, never against an IP address entry: give {@code node} by a
     * name the certificate carries ({@code InetSocketAddress.createUnresolved("localhost", port)}),
     * which linphonec resolves itself ({@code /etc/hosts}).
     *
     * @param caFile the PEM file of the CA that signed the node's certificate; {@code null} for UDP and TCP
     */
    public static Linphonec start(Path dir, String user, String password, String domain, InetSocketAddress node,
                                  Transport transport, boolean autoAnswer, MediaProfile media, Path caFile)
            throws IOException {
        BINARY.assumeAvailable();
        if (transport == Transport.TLS && caFile == null) {
            throw new IllegalArgumentException("linphonec over TLS needs the CA file it verifies the node with");
        }
        Path home = dir.resolve("home");
        Files.createDirectories(home.resolve(".local/share/linphone"));
        Path tone = ToneFile.write(dir.resolve("tone.wav"), 60);
        String t = transport.name().toLowerCase(java.util.Locale.ROOT);
        String server = "sip:" + node.getHostString() + ":" + node.getPort() + ";transport=" + t;
        Path config = dir.resolve("linphonerc");
        // ports: -1 picks one at random, 0 disables the transport
        Map<String, List<String>> sections = new LinkedHashMap<>();
        sections.put("sip", new ArrayList<>(List.of(
                "sip_port=" + (transport == Transport.UDP ? -1 : 0),
                "sip_tcp_port=" + (transport == Transport.TCP ? -1 : 0),
                "sip_tls_port=" + (transport == Transport.TLS ? -1 : 0),
                "default_proxy=0")));
        if (caFile != null) {
            // RFC 5922 §7: a SIP client checks the chain and that the certificate names the host it dialed
            sections.get("sip").addAll(List.of("root_ca=" + caFile.toAbsolutePath(), "verify_server_certs=1",
                    "verify_server_cn=1"));
        }
        sections.put("rtp", new ArrayList<>(List.of("audio_rtp_port=-1", "video_rtp_port=-1")));
        sections.put("video", List.of("enabled=0", "capture=0", "display=0", "automatically_initiate=0",
                "automatically_accept=0"));
        sections.put("sound", List.of("echocancellation=0"));
        sections.put("proxy_0", new ArrayList<>(List.of(
                "reg_proxy=<" + server + ">",
                "reg_route=<" + server + ";lr>",
                "reg_identity=sip:" + user + "@" + domain,
                "reg_expires=600",
                "reg_sendregister=1",
                "publish=0",
                "dial_escape_plus=0")));
        sections.put("auth_info_0", List.of("username=" + user, "passwd=" + password, "realm=" + domain,
                "domain=" + domain));
        if (media == MediaProfile.WEBRTC) {
            sections.get("sip").addAll(List.of("media_encryption=dtls", "media_encryption_mandatory=1"));
            sections.get("rtp").add("rtcp_mux=1");
            sections.get("proxy_0").addAll(List.of("avpf=1", "nat_policy_ref=ice"));
            // ICE comes with a NAT policy; without a STUN server it offers host candidates only
            sections.put("nat_policy_0", List.of("ref=ice", "protocols=ice"));
        }
        StringBuilder text = new StringBuilder();
        sections.forEach((name, keys) -> {
            text.append('[').append(name).append("]\n");
            keys.forEach(key -> text.append(key).append('\n'));
        });
        Files.writeString(config, text);
        return launch(user, dir, config, tone, autoAnswer);
    }

    /** Runs linphonec on a config file and sets it up: plays the tone file, answers if asked to. */
    private static Linphonec launch(String user, Path dir, Path config, Path tone, boolean autoAnswer)
            throws IOException {
        ProcessBuilder builder = new ProcessBuilder(BINARY.path().toString(), "-c", config.toString())
                .directory(dir.toFile())
                .redirectErrorStream(true);
        builder.environment().put("HOME", dir.resolve("home").toString());
        Linphonec phone = new Linphonec(user, dir, config, tone, autoAnswer, builder.start());
        try {
            phone.send("soundcard use files");
            phone.send("play " + tone);
            if (autoAnswer) {
                phone.send("autoanswer enable");
            }
        } catch (IOException | RuntimeException e) {
            phone.close(); // started but cannot be driven: end it here, as the caller never gets it
            throw e;
        }
        return phone;
    }

    /**
     * Kills this linphonec by its PID with SIGKILL, as a crash or a pulled plug would (it sends
     * nothing, not even its un-REGISTER), and starts it again on the same config file, which keeps
     * what linphonec wrote there, among it the {@code [misc] uuid} it sends as {@code +sip.instance}
     * (RFC 5626 §4.1: the same across restarts). Its SIP port is picked at random again, so it
     * registers a new Contact.
     * <p>
     * liblinphone makes the uuid up at its first start and saves its config only about once a
     * second: killed right after it registered, it would come back as another device. So the
     * kill waits until the uuid is in the file, as on a phone that ran for a moment.
     *
     * @return the new linphonec; this one is ended and stays so
     */
    public Linphonec killAndRestart() throws IOException, InterruptedException {
        awaitSavedInstanceId(Duration.ofSeconds(5));
        kill();
        return launch(user, dir, config, tone, autoAnswer);
    }

    /** Ends linphonec at once by its PID with SIGKILL; its TCP connections close, its registration stays. */
    public void kill() throws InterruptedException {
        process.destroyForcibly(); // SIGKILL (Process#destroyForcibly on Linux)
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            throw new AssertionError("linphonec " + user + " (PID " + process.pid() + ") still runs after SIGKILL");
        }
    }

    /** The uuid linphonec saved in its config ({@code [misc] uuid}) and sends as {@code +sip.instance}, or null. */
    public String savedInstanceId() throws IOException {
        String section = "";
        for (String line : Files.readAllLines(config, StandardCharsets.UTF_8)) {
            String l = line.strip();
            if (l.startsWith("[")) {
                section = l;
            } else if (section.equals("[misc]") && l.startsWith("uuid=") && l.length() > "uuid=".length()) {
                return l.substring("uuid=".length());
            }
        }
        return null;
    }

    private void awaitSavedInstanceId(Duration timeout) throws IOException, InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (savedInstanceId() == null) {
            if (System.nanoTime() > end) {
                throw new AssertionError("linphonec " + user + " saved no [misc] uuid in " + config + " within "
                        + timeout + "\n" + describe());
            }
            Thread.sleep(100);
        }
    }

    public String user() {
        return user;
    }

    /** Writes one command line to linphonec's stdin. */
    public void send(String command) throws IOException {
        synchronized (stdin) {
            stdin.write((command + "\n").getBytes(StandardCharsets.UTF_8));
            stdin.flush();
        }
    }

    /** Waits until {@code status register} says registered. */
    public void awaitRegistered(Duration timeout) throws IOException, InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < end) {
            int mark = mark();
            send("status register");
            if (awaitLineOrNull(REGISTERED, mark, Duration.ofMillis(300)) != null) {
                return;
            }
        }
        throw new AssertionError("linphonec " + user + " not registered after " + timeout + "\n" + describe());
    }

    /** Calls {@code uri} (routed through the node). */
    public void call(String uri) throws IOException {
        send("call " + uri);
    }

    /** Ends the current call. */
    public void terminate() throws IOException {
        send("terminate");
    }

    /** The number of output lines so far: {@link #awaitLine} looks only at lines after a mark. */
    public int mark() {
        return lines.size();
    }

    /** Waits for an output line after {@code mark} that the pattern finds, and returns it. */
    public String awaitLine(Pattern pattern, int mark, Duration timeout) throws InterruptedException {
        String line = awaitLineOrNull(pattern, mark, timeout);
        if (line == null) {
            throw new AssertionError("linphonec " + user + ": no line matching /" + pattern + "/ within " + timeout
                    + "\n" + describe());
        }
        return line;
    }

    private String awaitLineOrNull(Pattern pattern, int mark, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        int next = mark;
        synchronized (arrived) {
            while (true) {
                for (; next < lines.size(); next++) {
                    if (pattern.matcher(lines.get(next)).find()) {
                        return lines.get(next);
                    }
                }
                long left = end - System.nanoTime();
                if (left <= 0) {
                    return null;
                }
                TimeUnit.NANOSECONDS.timedWait(arrived, left);
            }
        }
    }

    /** The output so far, for assertion messages. */
    public String describe() {
        StringBuilder b = new StringBuilder("--- linphonec ").append(user).append(" (").append(dir).append(") ---\n");
        List<String> all = List.copyOf(lines);
        for (String line : all.subList(Math.max(0, all.size() - 200), all.size())) {
            b.append(line).append('\n');
        }
        return b.toString();
    }

    private void readOutput() {
        try (InputStream in = process.getInputStream();
             OutputStream log = Files.newOutputStream(dir.resolve("linphonec.log"), // one log across restarts
                     java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND)) {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) >= 0) {
                log.write(c);
                if (c != '\n') {
                    if (c != 0 && c != '\r') {
                        line.write(c);
                    }
                    continue;
                }
                // its prompt precedes the answer to a command on the same line
                String text = line.toString(StandardCharsets.ISO_8859_1).replace("linphonec> ", "").strip();
                line.reset();
                if (!text.isEmpty()) {
                    lines.add(text);
                    synchronized (arrived) {
                        arrived.notifyAll();
                    }
                }
            }
        } catch (IOException e) {
            // the process ended
        }
    }

    /** Asks linphonec to quit (it unregisters), then ends it by its PID: SIGTERM after 3 s, SIGKILL after 5 s. */
    @Override
    public void close() {
        try {
            send("quit");
            stdin.close();
        } catch (IOException ignored) {
            // it already ended
        }
        try {
            if (!process.waitFor(3, TimeUnit.SECONDS)) {
                process.destroy();
                if (!process.waitFor(2, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(3, TimeUnit.SECONDS);
                }
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
