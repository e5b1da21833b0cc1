package io.switchboard.server.clients;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/**
 * baresip 1.0.0 (Debian {@code baresip-core}) as a real phone in tests, one process per account,
 * driven over its {@code ctrl_tcp} module: netstring-framed JSON, commands
 * {@code {"command":"dial","params":"sip:…","token":"1"}} answered by {@code {"response":true,"ok":…,
 * "token":"1"}}, and events {@code {"event":true,"type":"CALL_ESTABLISHED",…}}.
 * <p>
 * What it takes to run it unattended: a private config directory ({@code baresip -f DIR}); SIP
 * and RTP on 127.0.0.1 only ({@code net_interface}); the node as outbound proxy, otherwise it sends
 * its INVITE to the callee's domain on port 5060; an {@code aufile} audio source long enough for
 * the call (the built-in sine source fails with 8 kHz codecs) and a player that needs no sound
 * card ({@code aubridge}). The SIP port is picked by the OS; the control port is picked free here
 * (retried when another process took it first). {@link #close()} ends the process by its PID.
 * <p>
 * With {@link MediaProfile#WEBRTC} it speaks a browser's media: its {@code dtls_srtp} module as
 * media encryption ({@code UDP/TLS/RTP/SAVPF}, fingerprint, {@code a=setup}), its {@code ice}
 * module as media NAT traversal (ICE credentials, host candidates, no STUN server) and
 * {@code rtcp_mux yes}. Chromium accepts its offers and answers; as the browsers in the tests
 * gather no candidate, ICE never starts and no media flows (baresip logs "ICE not supported by
 * peer" and its audio never starts).
 */
public final class Baresip implements AutoCloseable {
    public static final PeerBinary BINARY = new PeerBinary("baresip", "BARESIP_BIN", "baresip-core");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<Path> MODULE_DIRS = List.of(Path.of("/usr/lib/baresip/modules"),
            Path.of("/usr/local/lib/baresip/modules"));
    private static final Duration START_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(5);

    public enum Transport { UDP, TCP, TLS }

    private final String user;
    private final Path dir;
    private final Process process;
    private final Socket control;
    private final BlockingQueue<JsonNode> events = new LinkedBlockingQueue<>();
    private final BlockingQueue<JsonNode> responses = new LinkedBlockingQueue<>();
    private final List<JsonNode> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final AtomicInteger tokens = new AtomicInteger();

    private Baresip(String user, Path dir, Process process, Socket control) {
        this.user = user;
        this.dir = dir;
        this.process = process;
        this.control = control;
        Thread.ofPlatform().daemon().name("baresip-" + user).start(this::readControl);
    }

    /**
     * Starts baresip for one account and connects to its control port; it registers on its own.
     *
     * @param dir        an empty directory for its config, tone file and log
     * @param node       the node's SIP address, used as registrar and outbound proxy
     * @param autoAnswer answer incoming calls at once (the callee), else let them ring
     */
    public static Baresip start(Path dir, String user, String password, String domain, InetSocketAddress node,
                                Transport transport, boolean autoAnswer) throws IOException, InterruptedException {
        return start(dir, user, password, domain, node, transport, autoAnswer, MediaProfile.RTP);
    }

    /** As {@link #start(Path, String, String, String, InetSocketAddress, Transport, boolean)}, with the media to speak. */
    public static Baresip start(Path dir, String user, String password, String domain, InetSocketAddress node,
                                Transport transport, boolean autoAnswer, MediaProfile media)
            throws IOException, InterruptedException {
        return start(dir, user, password, domain, node, transport, autoAnswer, media, null);
    }

    /**
     * @param caFile for {@link Transport#TLS}: the PEM file of the CA baresip verifies the node's
     *               certificate with ({@code sip_cafile})
     */
    public static Baresip start(Path dir, String user, String password, String domain, InetSocketAddress node,
                                Transport transport, boolean autoAnswer, MediaProfile media, Path caFile)
            throws IOException, InterruptedException {
        BINARY.assumeAvailable();
        Files.createDirectories(dir);
        Path tone = ToneFile.write(dir.resolve("tone.wav"), 60);
        String t = transport.name().toLowerCase(java.util.Locale.ROOT);
        String proxy = "sip:" + node.getAddress().getHostAddress() + ":" + node.getPort() + ";transport=" + t;
        Files.writeString(dir.resolve("accounts"), "<sip:" + user + "@" + domain + ";transport=" + t + ">;auth_pass="
                + password + ";outbound=\"" + proxy + "\";regint=600;answermode=" + (autoAnswer ? "auto" : "manual")
                + ";audio_codecs=PCMU,PCMA" + (media == MediaProfile.WEBRTC ? ";mediaenc=dtls_srtp;medianat=ice" : "")
                + "\n");
        IOException last = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            int controlPort = PeerBinary.freeTcpPort();
            Files.writeString(dir.resolve("config"), config(tone, user, controlPort, media)
                    + (caFile == null ? "" : "sip_cafile\t" + caFile + "\n"));
            Path log = dir.resolve("baresip.log");
            Process process = new ProcessBuilder(BINARY.path().toString(), "-f", dir.toString())
                    .directory(dir.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .start();
            Socket control;
            try {
                control = connect(process, controlPort);
            } catch (IOException e) {
                last = e;
                stop(process);
                continue;
            }
            // Between freeTcpPort() and baresip's bind another process may have taken the port:
            // then this connection reaches it, not our baresip. Only a reply naming this account counts.
            Baresip phone = new Baresip(user, dir, process, control);
            String info;
            try {
                info = phone.reginfo();
            } catch (AssertionError | IOException e) {
                info = "no reply: " + e.getMessage();
            }
            if (info.contains("sip:" + user + "@")) {
                return phone;
            }
            last = new IOException("control port " + controlPort + " answered for another account: " + info);
            phone.close();
        }
        throw new IOException("baresip for " + user + " did not open its control port; log " + dir.resolve("baresip.log")
                + ":\n" + tail(dir.resolve("baresip.log")), last);
    }

    private static String config(Path tone, String user, int controlPort, MediaProfile media) {
        Path modules = MODULE_DIRS.stream().filter(Files::isDirectory).findFirst().orElse(MODULE_DIRS.get(0));
        boolean webRtc = media == MediaProfile.WEBRTC;
        return String.join("\n",
                "poll_method\tepoll",
                "sip_listen\t127.0.0.1:0",
                "net_interface\t127.0.0.1",
                "call_local_timeout\t30",
                "call_max_calls\t4",
                "audio_source\taufile," + tone,
                "audio_player\taubridge," + user,
                "audio_alert\taubridge," + user,
                "rtcp_mux\t" + (webRtc ? "yes" : "no"),
                "module_path\t" + modules,
                "module\tg711.so",
                "module\taufile.so",
                "module\taubridge.so",
                webRtc ? "module\tice.so" : "",
                webRtc ? "module\tdtls_srtp.so" : "",
                "module_tmp\taccount.so",
                "module_app\tmenu.so",
                "module_app\tctrl_tcp.so",
                "ctrl_tcp_listen\t127.0.0.1:" + controlPort,
                "");
    }

    private static Socket connect(Process process, int port) throws IOException, InterruptedException {
        long end = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < end) {
            if (!process.isAlive()) {
                throw new IOException("baresip exited with " + process.exitValue());
            }
            Socket socket = new Socket();
            try {
                socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 500);
                return socket;
            } catch (IOException notYet) {
                socket.close();
                Thread.sleep(50);
            }
        }
        throw new IOException("no control port 127.0.0.1:" + port + " after " + START_TIMEOUT);
    }

    public String user() {
        return user;
    }

    /** Waits until the registration succeeded (the {@code reginfo} command reports it OK). */
    public void awaitRegistered(Duration timeout) throws InterruptedException, IOException {
        long end = System.nanoTime() + timeout.toNanos();
        String info = "";
        while (System.nanoTime() < end) {
            info = reginfo();
            if (Pattern.compile("\\sOK\\s").matcher(info).find()) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("baresip " + user + " not registered after " + timeout + ": " + info + "\n" + describe());
    }

    /** The {@code reginfo} text, colour codes removed: "> sip:alice@example.org   OK   Expires 600s". */
    private String reginfo() throws IOException, InterruptedException {
        return command("reginfo", null).path("data").asText().replaceAll("\u001B\\[[;0-9]*m", "");
    }

    /** Calls {@code uri} (through the outbound proxy). */
    public void dial(String uri) throws IOException, InterruptedException {
        JsonNode r = command("dial", uri);
        if (!r.path("ok").asBoolean()) {
            throw new AssertionError("baresip " + user + " refused to dial " + uri + ": " + r + "\n" + describe());
        }
    }

    /** Hangs up the current call. */
    public void hangup() throws IOException, InterruptedException {
        command("hangup", null);
    }

    /** Sends a command and waits for its response. */
    public JsonNode command(String command, String params) throws IOException, InterruptedException {
        String token = Integer.toString(tokens.incrementAndGet());
        ObjectNode request = JSON.createObjectNode().put("command", command).put("token", token);
        if (params != null) {
            request.put("params", params);
        }
        byte[] body = JSON.writeValueAsBytes(request);
        synchronized (control) {
            OutputStream out = control.getOutputStream();
            out.write((body.length + ":").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.write(',');
            out.flush();
        }
        long end = System.nanoTime() + COMMAND_TIMEOUT.toNanos();
        while (true) {
            long left = end - System.nanoTime();
            JsonNode response = left <= 0 ? null : responses.poll(left, TimeUnit.NANOSECONDS);
            if (response == null) {
                throw new AssertionError("baresip " + user + ": no response to " + command + " within "
                        + COMMAND_TIMEOUT + "\n" + describe());
            }
            if (token.equals(response.path("token").asText())) {
                return response;
            }
        }
    }

    /**
     * Waits for the next event of this type (events before it are passed over), e.g.
     * {@code CALL_ESTABLISHED}, {@code CALL_CLOSED}, {@code CALL_INCOMING}.
     */
    public JsonNode awaitEvent(String type, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = end - System.nanoTime();
            JsonNode event = left <= 0 ? null : events.poll(left, TimeUnit.NANOSECONDS);
            if (event == null) {
                throw new AssertionError("baresip " + user + ": no " + type + " within " + timeout + "\n" + describe());
            }
            if (type.equals(event.path("type").asText())) {
                return event;
            }
        }
    }

    /** Events and responses seen, and the end of baresip's log, for assertion messages. */
    public String describe() {
        StringBuilder b = new StringBuilder("--- baresip ").append(user).append(" (").append(dir).append(") ---\n");
        for (JsonNode n : seen) {
            b.append(n.has("event") ? "event " + n.path("type").asText() + " " + n.path("param").asText()
                    : "response " + n).append('\n');
        }
        return b.append(tail(dir.resolve("baresip.log"))).toString();
    }

    private void readControl() {
        try (InputStream in = new BufferedInputStream(control.getInputStream())) {
            while (true) {
                int length = 0;
                int c;
                while ((c = in.read()) != ':') {
                    if (c < '0' || c > '9') {
                        return; // closed, or not a netstring
                    }
                    length = length * 10 + (c - '0');
                }
                byte[] body = in.readNBytes(length);
                if (body.length < length || in.read() != ',') {
                    return;
                }
                JsonNode message = JSON.readTree(body);
                if (message.path("event").asBoolean() || !message.path("ok").asBoolean()) {
                    seen.add(message); // events and failed commands, for describe()
                }
                (message.path("event").asBoolean() ? events : responses).add(message);
            }
        } catch (IOException e) {
            // the control connection closed: baresip ended
        }
    }

    /**
     * Ends baresip at once by its PID with SIGKILL, as a crash or a pulled plug would: it sends
     * nothing, not even its un-REGISTER, so its binding stays at the registrar and its SIP port
     * is closed. {@link #close()} afterwards has nothing left to stop.
     */
    public void kill() throws InterruptedException {
        process.destroyForcibly(); // SIGKILL (Process#destroyForcibly on Linux)
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            throw new AssertionError("baresip " + user + " (PID " + process.pid() + ") still runs after SIGKILL");
        }
        try {
            control.close();
        } catch (IOException ignored) {
            // it is gone either way
        }
    }

    /** Ends baresip by its PID: SIGTERM (it unregisters and exits), then SIGKILL after 3 s. */
    @Override
    public void close() {
        try {
            control.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        stop(process);
    }

    private static void stop(Process process) {
        process.destroy();
        try {
            if (!process.waitFor(3, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(3, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    static String tail(Path log) {
        try {
            byte[] all = Files.readAllBytes(log);
            String text = new String(all, StandardCharsets.ISO_8859_1)
                    .replaceAll("\u001B\\[[;0-9]*m", "")              // colour codes
                    .replaceAll("(\\[\\d+:\\d\\d:\\d\\d\\] audio=[^\\[]*)+", "[audio meter]\n"); // its live meter
            return text.length() > 8000 ? "...\n" + text.substring(text.length() - 8000) : text;
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}
