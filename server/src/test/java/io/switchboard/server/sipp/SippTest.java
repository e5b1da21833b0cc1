package io.switchboard.server.sipp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the harness end to end without Switchboard: sipp against a tiny UDP registrar written
 * here, and sipp's built-in UAC against its built-in UAS.
 */
@Timeout(120)
class SippTest {

    private Responder responder;

    /** Runs expected to fail keep their files; they go here so the suite leaves nothing behind. */
    @TempDir
    java.nio.file.Path tmp;

    @BeforeAll
    static void sippInstalled() {
        Sipp.assumeAvailable();
    }

    @AfterEach
    void stopResponder() {
        if (responder != null) {
            responder.close();
        }
    }

    @Test
    void registersAgainstAResponderAndCountsCalls() throws Exception {
        responder = new Responder(Responder.Mode.OK);

        Sipp.Result r = Sipp.scenario("register_noauth.xml")
                .remote(responder.address())
                .service("alice")
                .calls(20).rate(100)
                .run();

        assertThat(r.succeeded()).as(r.describe()).isTrue();
        assertThat(r.exitCode()).isZero();
        assertThat(r.successfulCalls()).as(r.describe()).isEqualTo(20);
        assertThat(r.failedCalls()).isZero();
        assertThat(r.retransmissions()).isZero();
        assertThat(r.killed()).isFalse();
        assertThat(responder.requests()).hasSize(20)
                .allSatisfy(req -> {
                    assertThat(req).startsWith("REGISTER sip:127.0.0.1:" + responder.port() + " SIP/2.0\r\n");
                    assertThat(req).contains("Contact: <sip:alice@127.0.0.1:" + r.localPort() + ">");
                });
        assertThat(r.workDir()).as("work dir of a clean run is removed").doesNotExist();
    }

    @Test
    void failedCallsAreCountedAndExplained() throws Exception {
        responder = new Responder(Responder.Mode.FORBIDDEN);

        Sipp.Result r = Sipp.scenario("register_noauth.xml")
                .remote(responder.address())
                .service("bob")
                .calls(3).rate(10)
                .workDir(tmp.resolve("forbidden"))
                .run();

        assertThat(r.exitCode()).as(r.describe()).isEqualTo(1);
        assertThat(r.succeeded()).isFalse();
        assertThat(r.successfulCalls()).isZero();
        assertThat(r.failedCalls()).isEqualTo(3);
        assertThat(r.errorLog()).contains("SIP/2.0 403 Forbidden");
        assertThat(r.describe()).contains("at least one call failed").contains("-sf register_noauth.xml");
        assertThat(r.workDir()).as("a given work dir is kept").isDirectory();
        assertThat(r.workDir().resolve("errors.log")).isRegularFile();
    }

    @Test
    void csvLinesReachTheWire() throws Exception {
        responder = new Responder(Responder.Mode.OK);

        Sipp.Result r = Sipp.scenario("register_users.xml")
                .remote(responder.address())
                .csv("u00000;", "u00001;", "u00002;")
                .calls(3).rate(50)
                .run();

        assertThat(r.succeeded()).as(r.describe()).isTrue();
        assertThat(responder.requests()).extracting(SippTest::fromUser)
                .containsExactly("u00000", "u00001", "u00002");
    }

    @Test
    void digestChallengeAnsweredWithAuPassword() throws Exception {
        responder = new Responder(Responder.Mode.DIGEST);

        Sipp.Result ok = Sipp.scenario("register_auth.xml")
                .remote(responder.address())
                .service("carol").auth("carol", Responder.PASSWORD)
                .calls(2)
                .run();
        assertThat(ok.succeeded()).as(ok.describe()).isTrue();
        assertThat(ok.successfulCalls()).isEqualTo(2);

        Sipp.Result wrong = Sipp.scenario("register_wrong_password.xml")
                .remote(responder.address())
                .service("carol").auth("carol", "not-the-password")
                .calls(1)
                .run();
        assertThat(wrong.succeeded()).as(wrong.describe()).isTrue();

        Sipp.Result wrongExpectingSuccess = Sipp.scenario("register_auth.xml")
                .remote(responder.address())
                .service("carol").auth("carol", "not-the-password")
                .calls(1)
                .workDir(tmp.resolve("wrong"))
                .run();
        assertThat(wrongExpectingSuccess.exitCode()).as(wrongExpectingSuccess.describe()).isEqualTo(1);
        assertThat(wrongExpectingSuccess.errorLog()).contains("403");
    }

    @Test
    void expireScenarioChecksTheContactExpiresInThe200() throws Exception {
        responder = new Responder(Responder.Mode.DIGEST);
        Sipp.Result honoured = Sipp.scenario("register_expire.xml")
                .remote(responder.address())
                .service("dave").auth("dave", Responder.PASSWORD)
                .calls(1)
                .run();
        assertThat(honoured.succeeded()).as(honoured.describe()).isTrue();
        responder.close();

        responder = new Responder(Responder.Mode.OK_IGNORING_EXPIRES);
        Sipp.Result ignored = Sipp.scenario("register_expire.xml")
                .remote(responder.address())
                .service("dave")
                .calls(1)
                .traceMessages(true)
                .workDir(tmp.resolve("ignored"))
                .run();
        assertThat(ignored.exitCode()).as(ignored.describe()).isEqualTo(1);
        assertThat(ignored.stats()).containsEntry("FailedRegexpDoesntMatch(C)", "1");
        assertThat(ignored.messages()).contains(";expires=3600");
    }

    @Test
    void unregisterSendsExpiresZero() throws Exception {
        responder = new Responder(Responder.Mode.DIGEST);
        Sipp.Result r = Sipp.scenario("unregister.xml")
                .remote(responder.address())
                .service("erin").auth("erin", Responder.PASSWORD)
                .calls(1)
                .run();
        assertThat(r.succeeded()).as(r.describe()).isTrue();
        assertThat(responder.requests()).hasSize(2).allSatisfy(req -> assertThat(req).contains("\r\nExpires: 0\r\n"));
    }

    @Test
    void silentPeerFailsOnReceiveTimeout() {
        int nobody = Sipp.freePort();
        long start = System.nanoTime();
        Sipp.Result r = Sipp.scenario("register_noauth.xml")
                .remote("127.0.0.1", nobody)
                .calls(1)
                .recvTimeout(Duration.ofSeconds(1))
                .workDir(tmp.resolve("silent"))
                .run();
        assertThat(r.exitCode()).as(r.describe()).isEqualTo(1);
        assertThat(r.failedCalls()).isEqualTo(1);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void builtinUacCallsBuiltinUasOverTcpAndCloseStopsTheServer() {
        try (Sipp.Running uas = Sipp.builtin("uas")
                .transport(Sipp.Transport.TCP)
                .timeout(Duration.ofSeconds(60)).timeoutIsError(false)
                .workDir(tmp.resolve("uas"))
                .start()) {
            assertThat(uas.isAlive()).isTrue();

            Sipp.Result uac = Sipp.builtin("uac")
                    .remote("127.0.0.1", uas.localPort())
                    .transport(Sipp.Transport.TCP)
                    .calls(3).rate(10)
                    .run();
            assertThat(uac.succeeded()).as(uac.describe()).isTrue();
            assertThat(uac.successfulCalls()).isEqualTo(3);

            Sipp.Result server = uas.stop(Duration.ofSeconds(10));
            assertThat(uas.isAlive()).isFalse();
            assertThat(server.killed()).as(server.describe()).isFalse();
            // the UAS scenario lingers 4 s after each BYE; a call still lingering is aborted by the stop
            assertThat(server.stats()).as(server.describe()).containsEntry("IncomingCall(C)", "3");
            assertThat(server.callsCreated()).isEqualTo(3);
        }
    }

    @Test
    void hangingSippIsKilledByPidAfterItsTimeout() {
        long start = System.nanoTime();
        // sipp's own -timeout pushed out past the Java-side limit (1 s + 5 s grace)
        Sipp.Result r = Sipp.builtin("uas")
                .timeout(Duration.ofSeconds(1))
                .args("-timeout", "120s")
                .workDir(tmp.resolve("hanging"))
                .run();
        assertThat(r.killed()).as(r.describe()).isTrue();
        assertThat(r.succeeded()).isFalse();
        assertThat(ProcessHandle.allProcesses().map(ProcessHandle::info)
                .filter(i -> i.commandLine().orElse("").contains("-p " + r.localPort() + " "))).isEmpty();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(20));
    }

    @Test
    void statsCsvIsReadByColumnName() throws IOException {
        var file = java.nio.file.Files.createTempFile("stat", ".csv");
        try {
            java.nio.file.Files.writeString(file, """
                    StartTime;SuccessfulCall(C);FailedCall(C);Retransmissions(C);
                    2026-01-01\t00:00:00.0\t1.0;0;0;0;
                    2026-01-01\t00:00:01.0\t2.0;41;2;7;
                    """);
            Map<String, String> stats = Sipp.readStats(file);
            assertThat(stats).containsEntry("SuccessfulCall(C)", "41")
                    .containsEntry("FailedCall(C)", "2")
                    .containsEntry("Retransmissions(C)", "7");
        } finally {
            java.nio.file.Files.deleteIfExists(file);
        }
    }

    private static String fromUser(String request) {
        Matcher m = Pattern.compile("\r\nFrom: <sip:([^@>]+)@").matcher(request);
        return m.find() ? m.group(1) : "?";
    }

    /**
     * A tiny UDP registrar: answers every REGISTER, echoing Via/From/To/Call-ID/CSeq, adding a To
     * tag and listing the Contact with its expiry. DIGEST mode challenges requests without
     * credentials (401, RFC 2617 digest without qop) and answers 200 for a right response,
     * 403 for a wrong one.
     */
    static final class Responder implements AutoCloseable {
        enum Mode { OK, FORBIDDEN, OK_IGNORING_EXPIRES, DIGEST }

        static final String PASSWORD = "secret";
        private static final String REALM = "sipp-selftest";

        private final Mode mode;
        private final DatagramSocket socket;
        private final Thread thread;
        private final List<String> requests = new CopyOnWriteArrayList<>();
        private final AtomicInteger tags = new AtomicInteger();
        private volatile boolean running = true;

        Responder(Mode mode) throws SocketException {
            this.mode = mode;
            this.socket = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            this.socket.setSoTimeout(200);
            this.thread = Thread.ofPlatform().daemon().name("sipp-selftest-responder").start(this::serve);
        }

        InetSocketAddress address() {
            return new InetSocketAddress("127.0.0.1", socket.getLocalPort());
        }

        int port() {
            return socket.getLocalPort();
        }

        List<String> requests() {
            return List.copyOf(requests);
        }

        private void serve() {
            byte[] buf = new byte[65_535];
            while (running) {
                DatagramPacket packet = new DatagramPacket(buf, buf.length);
                try {
                    socket.receive(packet);
                } catch (SocketTimeoutException e) {
                    continue;
                } catch (IOException e) {
                    return; // closed
                }
                String request = new String(packet.getData(), 0, packet.getLength(), StandardCharsets.UTF_8);
                if (!request.startsWith("REGISTER ")) {
                    continue;
                }
                requests.add(request);
                byte[] reply = answer(request).getBytes(StandardCharsets.UTF_8);
                try {
                    socket.send(new DatagramPacket(reply, reply.length, packet.getSocketAddress()));
                } catch (IOException e) {
                    return;
                }
            }
        }

        private String answer(String request) {
            List<String[]> headers = headers(request);
            return switch (mode) {
                case OK -> response(headers, 200, "OK", null, -1);
                case FORBIDDEN -> response(headers, 403, "Forbidden", null, -1);
                case OK_IGNORING_EXPIRES -> response(headers, 200, "OK", null, 3600);
                case DIGEST -> {
                    String authorization = first(headers, "Authorization");
                    if (authorization == null) {
                        String nonce = Long.toHexString(System.nanoTime());
                        yield response(headers, 401, "Unauthorized",
                                "WWW-Authenticate: Digest realm=\"" + REALM + "\", nonce=\"" + nonce
                                        + "\", algorithm=MD5", -1);
                    }
                    yield digestValid(authorization)
                            ? response(headers, 200, "OK", null, -1)
                            : response(headers, 403, "Forbidden", null, -1);
                }
            };
        }

        private static boolean digestValid(String authorization) {
            Map<String, String> p = new LinkedHashMap<>();
            Matcher m = Pattern.compile("(\\w+)=(?:\"([^\"]*)\"|([^,\\s]+))").matcher(authorization);
            while (m.find()) {
                p.put(m.group(1).toLowerCase(Locale.ROOT), m.group(2) != null ? m.group(2) : m.group(3));
            }
            String ha1 = md5(p.get("username") + ":" + REALM + ":" + PASSWORD);
            String ha2 = md5("REGISTER:" + p.get("uri"));
            return md5(ha1 + ":" + p.get("nonce") + ":" + ha2).equals(p.get("response"));
        }

        private String response(List<String[]> headers, int code, String reason, String extra, int forcedExpires) {
            StringBuilder b = new StringBuilder("SIP/2.0 ").append(code).append(' ').append(reason).append("\r\n");
            for (String[] h : headers) {
                if (h[0].equalsIgnoreCase("Via")) {
                    b.append("Via: ").append(h[1]).append("\r\n");
                }
            }
            b.append("From: ").append(first(headers, "From")).append("\r\n");
            String to = first(headers, "To");
            b.append("To: ").append(to);
            if (!to.contains(";tag=")) {
                b.append(";tag=resp").append(tags.incrementAndGet());
            }
            b.append("\r\n");
            b.append("Call-ID: ").append(first(headers, "Call-ID")).append("\r\n");
            b.append("CSeq: ").append(first(headers, "CSeq")).append("\r\n");
            if (extra != null) {
                b.append(extra).append("\r\n");
            }
            String contact = first(headers, "Contact");
            if (code == 200 && contact != null) {
                String expires = forcedExpires >= 0 ? Integer.toString(forcedExpires)
                        : String.valueOf(first(headers, "Expires"));
                if (!"0".equals(expires)) {
                    b.append("Contact: ").append(contact).append(";expires=").append(expires).append("\r\n");
                }
            }
            b.append("Content-Length: 0\r\n\r\n");
            return b.toString();
        }

        private static List<String[]> headers(String request) {
            List<String[]> out = new ArrayList<>();
            String head = request.split("\r\n\r\n", 2)[0];
            String[] lines = head.split("\r\n");
            for (int i = 1; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                if (colon > 0) {
                    out.add(new String[] {lines[i].substring(0, colon).trim(), lines[i].substring(colon + 1).trim()});
                }
            }
            return out;
        }

        private static String first(List<String[]> headers, String name) {
            return headers.stream().filter(h -> h[0].equalsIgnoreCase(name)).map(h -> h[1]).findFirst().orElse(null);
        }

        private static String md5(String s) {
            try {
                return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(s.getBytes(StandardCharsets.UTF_8)));
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void close() {
            running = false;
            socket.close();
            try {
                thread.join(2_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
