package io.switchboard.monitor.check;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.monitor.support.Defs;
import io.switchboard.monitor.support.LoopbackHttp;
import io.switchboard.monitor.support.SwappableIdentity;
import io.switchboard.monitor.support.TestCertificates;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HttpCheckTest {
    static LoopbackHttp server;
    static final HttpCheck check = new HttpCheck(new CertificateTrust(), Clock.systemUTC());

    @BeforeAll
    static void start() throws Exception {
        server = new LoopbackHttp()
                .answer("/health", 200, "all good")
                .answer("/broken", 503, "maintenance")
                .answer("/json", 200, "{\"status\":\"ok\",\"db\":{\"up\":true},\"queue\":{\"depth\":3}}")
                .redirect("/old", 301, "/hop")
                .redirect("/hop", 302, "/health")
                .redirect("/loop", 302, "/loop")
                .redirect("/nowhere", 302, "")
                .on("/slow", exchange -> {
                    try {
                        Thread.sleep(1500);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    LoopbackHttp.respond(exchange, 200, "late");
                })
                .on("/slower", exchange -> {
                    try {
                        Thread.sleep(4000);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    LoopbackHttp.respond(exchange, 200, "much later");
                })
                .on("/echo", exchange -> LoopbackHttp.respond(exchange, 201, "created"));
        startOther();
    }

    @AfterAll
    static void stop() {
        server.close();
        if (other != null) {
            other.close();
        }
    }

    /** Another origin (another port), for redirects that leave the first. */
    static LoopbackHttp other;

    static void startOther() throws Exception {
        other = new LoopbackHttp().on("/landing", exchange -> LoopbackHttp.respond(exchange, 200, "landed"));
        server.redirect("/to-other", 302, other.url("/landing"))
                .redirect("/same-origin", 302, "/echo-same")
                .on("/echo-same", exchange -> LoopbackHttp.respond(exchange, 200, "here"))
                .redirect("/temporary", 307, "/posted")
                .redirect("/permanent", 308, "/posted")
                .redirect("/see-other", 303, "/posted")
                .redirect("/found", 302, "/posted")
                .on("/posted", exchange -> LoopbackHttp.respond(exchange, 200, "ok"));
    }

    private static String monitor(String target, String extra) {
        return "name: web\ntype: http\ntarget: " + target + "\ntimeout: 3s\n" + extra;
    }

    @Test
    void aHealthyPageIsUpWithItsTimingPhases() throws Exception {
        CheckResult r = check.run(Defs.monitor(monitor(server.url("/health"), "")));
        assertThat(r.status()).isEqualTo(CheckStatus.UP);
        assertThat(r.error()).isNull();
        assertThat(r.details()).containsEntry("status", 200);
        @SuppressWarnings("unchecked")
        Map<String, Object> phases = (Map<String, Object>) r.details().get("phases");
        assertThat(phases).containsKeys("dnsMs", "connectMs", "tlsMs", "firstByteMs", "totalMs");
        assertThat((Double) phases.get("connectMs")).isGreaterThanOrEqualTo(0.0);
        assertThat(phases.get("tlsMs")).isNull();
        assertThat(r.worked()).anySatisfy(w -> assertThat(w).contains("answered HTTP 200"));
    }

    @Test
    void anUnexpectedStatusIsDownInPlainWords() throws Exception {
        CheckResult r = check.run(Defs.monitor(monitor(server.url("/broken"), "")));
        assertThat(r.status()).isEqualTo(CheckStatus.DOWN);
        assertThat(r.error()).isEqualTo("the server answered HTTP 503 (Service Unavailable); expected 200-299");
        assertThat(r.worked()).anySatisfy(w -> assertThat(w).contains("connection to port " + server.port() + " was accepted"));
    }

    @Test
    void expectedStatusesAreConfigurable() throws Exception {
        CheckResult r = check.run(Defs.monitor(monitor(server.url("/broken"), "expectStatus: [503, 2xx]\n")));
        assertThat(r.status()).isEqualTo(CheckStatus.UP);
    }

    @Test
    void redirectsAreFollowedAndTheChainRecorded() throws Exception {
        CheckResult r = check.run(Defs.monitor(monitor(server.url("/old"), "")));
        assertThat(r.status()).isEqualTo(CheckStatus.UP);
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> chain = (List<Map<String, Object>>) r.details().get("redirects");
        assertThat(chain).extracting(s -> s.get("status")).containsExactly(301, 302, 200);
        assertThat(chain).extracting(s -> s.get("url")).containsExactly(server.url("/old"), server.url("/hop"), server.url("/health"));
        assertThat(r.details()).containsEntry("finalUrl", server.url("/health"));
    }

    @Test
    void tooManyRedirectsAreDown() throws Exception {
        CheckResult r = check.run(Defs.monitor(monitor(server.url("/loop"), "maxRedirects: 3\n")));
        assertThat(r.status()).isEqualTo(CheckStatus.DOWN);
        assertThat(r.error()).startsWith("more than 3 redirects: " + server.url("/loop") + " → ");
        CheckResult capped = check.run(Defs.monitor(monitor(server.url("/old"), "maxRedirects: 1\n")));
        assertThat(capped.error()).startsWith("more than 1 redirects");
    }

    @Test
    void withoutFollowingARedirectIsTheAnswer() throws Exception {
        CheckResult r = check.run(Defs.monitor(monitor(server.url("/old"), "maxRedirects: 0\nexpectStatus: [301]\n")));
        assertThat(r.status()).isEqualTo(CheckStatus.UP);
        assertThat(r.details()).containsEntry("status", 301);
    }

    @Test
    void keywordAndJsonPathConditions() throws Exception {
        assertThat(check.run(Defs.monitor(monitor(server.url("/health"), "keyword: good\n"))).status()).isEqualTo(CheckStatus.UP);
        CheckResult missing = check.run(Defs.monitor(monitor(server.url("/health"), "keyword: bad\n")));
        assertThat(missing.status()).isEqualTo(CheckStatus.DOWN);
        assertThat(missing.error()).isEqualTo("the page does not contain \"bad\"");

        assertThat(check.run(Defs.monitor(monitor(server.url("/json"), "jsonPath: $.status\njsonValue: ok\n"))).status())
                .isEqualTo(CheckStatus.UP);
        assertThat(check.run(Defs.monitor(monitor(server.url("/json"), "jsonPath: $.db.up\n"))).status()).isEqualTo(CheckStatus.UP);
        CheckResult wrong = check.run(Defs.monitor(monitor(server.url("/json"), "jsonPath: $.queue.depth\njsonValue: \"0\"\n")));
        assertThat(wrong.error()).isEqualTo("$.queue.depth is \"3\", expected \"0\"");
        CheckResult absent = check.run(Defs.monitor(monitor(server.url("/json"), "jsonPath: $.cache\n")));
        assertThat(absent.error()).isEqualTo("the answer has no $.cache");
        CheckResult notJson = check.run(Defs.monitor(monitor(server.url("/health"), "jsonPath: $.status\n")));
        assertThat(notJson.status()).isEqualTo(CheckStatus.DOWN);
    }

    @Test
    void aSlowAnswerPastTheTimeoutIsDownAndBelowItDegraded() throws Exception {
        long begin = System.nanoTime();
        CheckResult timedOut = check.run(Defs.monitor("name: web\ntype: http\ntarget: " + server.url("/slower") + "\ntimeout: 500ms\n"));
        assertThat(Duration.ofNanos(System.nanoTime() - begin)).isLessThan(Duration.ofMillis(3000));
        assertThat(timedOut.status()).isEqualTo(CheckStatus.DOWN);
        assertThat(timedOut.error()).contains("no answer").contains("within 500 ms");
        @SuppressWarnings("unchecked")
        Map<String, Object> phases = (Map<String, Object>) timedOut.details().get("phases");
        assertThat(phases).as("no byte of an answer came: no time to first byte").containsEntry("firstByteMs", null);

        CheckResult slow = check.run(Defs.monitor(monitor(server.url("/slow"), "degradedAbove: 1s\n")));
        assertThat(slow.status()).isEqualTo(CheckStatus.DEGRADED);
        assertThat(slow.error()).matches("answered in \\d+ ms, slower than the 1 s threshold");
    }

    @Test
    void aRefusedConnectionSaysTheHostIsReachable() throws Exception {
        int closed;
        try (var socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            closed = socket.getLocalPort();
        }
        CheckResult r = check.run(Defs.monitor(monitor("http://127.0.0.1:" + closed + "/", "")));
        assertThat(r.status()).isEqualTo(CheckStatus.DOWN);
        assertThat(r.error()).isEqualTo("nothing accepted the connection on 127.0.0.1 port " + closed
                + " (connection refused: no service listens there)");
        assertThat(r.worked()).containsExactly("the host 127.0.0.1 is reachable (it answered, refusing the connection)");
    }

    @Test
    void methodHeadersAndBodyAreSent() throws Exception {
        CheckResult r = check.run(Defs.monitor(monitor(server.url("/echo"),
                "method: POST\nheaders: {X-Probe: 'yes', Content-Type: text/plain}\nbody: ping\nexpectStatus: [201]\n")));
        assertThat(r.status()).isEqualTo(CheckStatus.UP);
        LoopbackHttp.Received received = server.received("/echo").getLast();
        assertThat(received.method()).isEqualTo("POST");
        assertThat(received.header("X-Probe")).isEqualTo("yes");
        assertThat(received.body()).isEqualTo("ping");
    }

    @Test
    void credentialHeadersStayWithTheirOrigin() throws Exception {
        String headers = "headers: {Authorization: 'Bearer t0ken', Cookie: 'session=1', X-Trace: keep}\n";
        CheckResult away = check.run(Defs.monitor(monitor(server.url("/to-other"), headers)));
        assertThat(away.status()).isEqualTo(CheckStatus.UP);
        LoopbackHttp.Received first = server.received("/to-other").getLast();
        assertThat(first.header("Authorization")).isEqualTo("Bearer t0ken");
        LoopbackHttp.Received landed = other.received("/landing").getLast();
        // RFC 9110 §15.4: credentials are not handed to another origin; other headers still go
        assertThat(landed.header("Authorization")).isNull();
        assertThat(landed.header("Cookie")).isNull();
        assertThat(landed.header("X-Trace")).isEqualTo("keep");

        check.run(Defs.monitor(monitor(server.url("/same-origin"), headers)));
        assertThat(server.received("/echo-same").getLast().header("Authorization")).isEqualTo("Bearer t0ken");
    }

    @Test
    void redirectsKeepOrChangeTheMethodAsTheStatusSays() throws Exception {
        String post = "method: POST\nheaders: {Content-Type: text/plain}\nbody: the-body\n";
        for (String path : List.of("/temporary", "/permanent")) {
            int before = server.received("/posted").size();
            assertThat(check.run(Defs.monitor(monitor(server.url(path), post))).status()).as(path).isEqualTo(CheckStatus.UP);
            LoopbackHttp.Received again = server.received("/posted").get(before);
            // RFC 9110 §15.4.8 and §15.4.9: the same method and the same body
            assertThat(again.method()).as(path).isEqualTo("POST");
            assertThat(again.body()).as(path).isEqualTo("the-body");
            assertThat(again.header("Content-Type")).as(path).startsWith("text/plain");
        }
        for (String path : List.of("/see-other", "/found")) {
            int before = server.received("/posted").size();
            assertThat(check.run(Defs.monitor(monitor(server.url(path), post))).status()).as(path).isEqualTo(CheckStatus.UP);
            LoopbackHttp.Received again = server.received("/posted").get(before);
            // §15.4.4 (303), and §15.4.3 for a POST answered 302: fetched with GET, no body
            assertThat(again.method()).as(path).isEqualTo("GET");
            assertThat(again.body()).as(path).isEmpty();
        }
        int before = server.received("/posted").size();
        check.run(Defs.monitor(monitor(server.url("/found"), "method: PUT\nbody: put-body\n")));
        assertThat(server.received("/posted").get(before).method()).isEqualTo("PUT");
        assertThat(server.received("/posted").get(before).body()).isEqualTo("put-body");
    }

    @Test
    void aPasswordInTheTargetIsMaskedInTheChain() throws Exception {
        String target = "http://ops:s3cret@127.0.0.1:" + server.port() + "/old";
        CheckResult r = check.run(Defs.monitor(monitor(target, "")));
        assertThat(r.status()).isEqualTo(CheckStatus.UP);
        assertThat(r.details().toString()).doesNotContain("s3cret").contains("ops:***@");
        CheckResult loop = check.run(Defs.monitor(monitor("http://ops:s3cret@127.0.0.1:" + server.port() + "/loop",
                "maxRedirects: 2\n")));
        assertThat(loop.error()).doesNotContain("s3cret").contains("ops:***@");
    }

    /** A path that answers 200 to Basic authentication with this user and password (RFC 7617), 401 otherwise. */
    static void protect(LoopbackHttp on, String path, String user, String password, List<String> requestLines) {
        String expected = "Basic " + java.util.Base64.getEncoder().encodeToString((user + ":" + password)
                .getBytes(java.nio.charset.StandardCharsets.UTF_8));
        on.on(path, exchange -> {
            requestLines.add(exchange.getRequestURI().toString());
            if (expected.equals(exchange.getRequestHeaders().getFirst("Authorization"))) {
                LoopbackHttp.respond(exchange, 200, "welcome");
            } else {
                exchange.getResponseHeaders().add("WWW-Authenticate", "Basic realm=\"ops\", charset=\"UTF-8\"");
                LoopbackHttp.respond(exchange, 401, "who are you");
            }
        });
    }

    /**
     * A user and password in the target are sent as Basic authentication, as curl sends them: each
     * percent-decoded (%40 is @, %C3%A9 the UTF-8 of é), the request itself without them.
     */
    @Test
    void aUserAndPasswordInTheTargetAreSentAsBasicAuthentication() throws Exception {
        List<String> requestLines = new java.util.concurrent.CopyOnWriteArrayList<>();
        protect(server, "/private", "ops", "p@ssé", requestLines);
        CheckResult r = check.run(Defs.monitor(monitor("http://ops:p%40ss%C3%A9@127.0.0.1:" + server.port() + "/private", "")));
        assertThat(r.status()).as("%s", r.error()).isEqualTo(CheckStatus.UP);
        String sent = server.received("/private").getLast().header("Authorization");
        assertThat(sent).isEqualTo("Basic " + java.util.Base64.getEncoder().encodeToString(
                "ops:p@ssé".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        assertThat(requestLines.getLast()).isEqualTo("/private");
        // neither the password nor the header's value is kept in what the check records
        assertThat(r.details().toString() + r.worked()).doesNotContain("p%40ss").doesNotContain(sent.substring(6))
                .contains("ops:***@");

        CheckResult wrong = check.run(Defs.monitor(monitor("http://ops:wrong@127.0.0.1:" + server.port() + "/private", "")));
        assertThat(wrong.status()).isEqualTo(CheckStatus.DOWN);
        assertThat(wrong.error()).isEqualTo("the server answered HTTP 401 (Unauthorized); expected 200-299");
        assertThat(wrong.error() + wrong.details() + wrong.worked()).doesNotContain("wrong@");
    }

    /** The URL's credentials go where an Authorization header goes: to the target's origin, not to another. */
    @Test
    void aUserAndPasswordInTheTargetStayWithItsOrigin() throws Exception {
        String basic = "Basic " + java.util.Base64.getEncoder().encodeToString("ops:pw".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        CheckResult away = check.run(Defs.monitor(monitor("http://ops:pw@127.0.0.1:" + server.port() + "/to-other", "")));
        assertThat(away.status()).isEqualTo(CheckStatus.UP);
        assertThat(server.received("/to-other").getLast().header("Authorization")).isEqualTo(basic);
        assertThat(other.received("/landing").getLast().header("Authorization")).isNull();

        check.run(Defs.monitor(monitor("http://ops:pw@127.0.0.1:" + server.port() + "/same-origin", "")));
        assertThat(server.received("/echo-same").getLast().header("Authorization")).isEqualTo(basic);

        // a monitor stored before both were refused together keeps sending its own header, as it did
        check.run(Defs.monitor(monitor("http://ops:pw@127.0.0.1:" + server.port() + "/echo-same",
                "headers: {authorization: 'Bearer t0ken'}\n")));
        assertThat(server.received("/echo-same").getLast().headers().entrySet().stream()
                .filter(e -> e.getKey().equalsIgnoreCase("Authorization")).flatMap(e -> e.getValue().stream()).toList())
                .containsExactly("Bearer t0ken");
    }

    /** A caFile the check cannot read fails it saying so once, and why ("cannot use caFile: cannot read caFile" before). */
    @Test
    void aCaFileThatCannotBeReadFailsTheCheckSayingWhy(@TempDir Path dir) throws Exception {
        Path missing = dir.resolve("missing.pem");
        CheckResult r = check.run(Defs.monitor(monitor("https://127.0.0.1:1/health", "caFile: " + missing + "\n")));
        assertThat(r.status()).isEqualTo(CheckStatus.DOWN);
        assertThat(r.error()).isEqualTo("the check cannot read caFile " + missing + ": no such file");
    }

    @Test
    void aRenewedCertificateIsSeenAtTheNextCheck(@TempDir Path dir) throws Exception {
        TestCertificates.Identity ca = TestCertificates.authority("Renewal CA");
        Path caFile = TestCertificates.writePem(dir.resolve("ca.pem"), ca.certificate());
        SwappableIdentity identity = new SwappableIdentity(TestCertificates.server(ca, Instant.now().plus(Duration.ofDays(90)),
                "127.0.0.1"));
        // TLS 1.2: the server keeps sessions by id and resumes one the client offers (RFC 5246 §7.3)
        try (LoopbackHttp https = new LoopbackHttp(identity.context(), "TLSv1.2").answer("/health", 200, "ok")) {
            String definition = monitor(https.url("/health"), "caFile: " + caFile + "\n");
            assertThat(check.run(Defs.monitor(definition)).status()).isEqualTo(CheckStatus.UP);
            // the server now presents a certificate for another name: a resumed session would not show it
            identity.swap(TestCertificates.server(ca, Instant.now().plus(Duration.ofDays(90)), "elsewhere.example.org"));
            CheckResult after = check.run(Defs.monitor(definition));
            assertThat(after.status()).isEqualTo(CheckStatus.DOWN);
            assertThat(after.error()).contains("secure connection (TLS)");
            @SuppressWarnings("unchecked")
            Map<String, Object> phases = (Map<String, Object>) after.details().get("phases");
            assertThat(phases).containsKey("tlsMs");
        }
    }

    @Test
    void everyHttpsCheckIsAFullHandshake(@TempDir Path dir) throws Exception {
        TestCertificates.Identity ca = TestCertificates.authority("Session CA");
        Path caFile = TestCertificates.writePem(dir.resolve("ca.pem"), ca.certificate());
        java.util.List<String> sessions = new java.util.concurrent.CopyOnWriteArrayList<>();
        TestCertificates.Identity identity = TestCertificates.server(ca, Instant.now().plus(Duration.ofDays(90)), "127.0.0.1");
        try (LoopbackHttp https = new LoopbackHttp(identity.serverContext(), "TLSv1.2").on("/health", exchange -> {
            sessions.add(java.util.HexFormat.of().formatHex(((com.sun.net.httpserver.HttpsExchange) exchange).getSSLSession().getId()));
            LoopbackHttp.respond(exchange, 200, "ok");
        })) {
            for (int i = 0; i < 3; i++) {
                assertThat(check.run(Defs.monitor(monitor(https.url("/health"), "caFile: " + caFile + "\n"))).status())
                        .isEqualTo(CheckStatus.UP);
            }
            // RFC 5246 §7.3: a resumed session would skip the certificate; each check is a first visitor's handshake
            assertThat(sessions).hasSize(3).doesNotHaveDuplicates();
        }
    }

    @Test
    void httpsMeasuresTheTlsPhaseAndTrustsACaFile(@TempDir Path dir) throws Exception {
        TestCertificates.Identity ca = TestCertificates.authority("Test CA");
        TestCertificates.Identity identity = TestCertificates.server(ca, Instant.now().plus(Duration.ofDays(90)), "127.0.0.1");
        try (LoopbackHttp https = new LoopbackHttp(identity.serverContext()).answer("/health", 200, "ok")) {
            CheckResult untrusted = check.run(Defs.monitor(monitor(https.url("/health"), "")));
            assertThat(untrusted.status()).isEqualTo(CheckStatus.DOWN);
            assertThat(untrusted.error()).contains("secure connection (TLS)").contains("not trusted");

            Path caFile = TestCertificates.writePem(dir.resolve("ca.pem"), ca.certificate());
            CheckResult trusted = check.run(Defs.monitor(monitor(https.url("/health"), "caFile: " + caFile + "\n")));
            assertThat(trusted.status()).isEqualTo(CheckStatus.UP);
            @SuppressWarnings("unchecked")
            Map<String, Object> phases = (Map<String, Object>) trusted.details().get("phases");
            assertThat((Double) phases.get("tlsMs")).isGreaterThan(0.0);
            assertThat(trusted.worked()).anySatisfy(w -> assertThat(w).startsWith("the secure connection (TLS"));
        }
    }
}
