package io.switchboard.monitor.report;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.monitor.definition.CheckType;
import io.switchboard.monitor.support.LoopbackHttp;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The template's reports, and the model's rewrite with its fallback on timeout and error. */
class ReportsTest {
    static final ReportFacts FACTS = new ReportFacts("shop", CheckType.HTTP, "https://shop.example.org/health",
            Duration.ofSeconds(30), Instant.parse("2025-06-01T10:00:00Z"), 4,
            "the server answered HTTP 503 (Service Unavailable); expected 200-299",
            List.of("the name shop.example.org resolved to 192.0.2.10", "the connection to port 443 was accepted",
                    "the secure connection (TLS, TLSv1.3) was set up"),
            Instant.parse("2025-06-01T09:59:30Z"), List.of("the tls check shop-cert of the same host is up"),
            Instant.parse("2025-06-01T10:02:00Z"), null, null, ZoneId.of("UTC"));
    static LoopbackHttp llm;

    @BeforeAll
    static void start() throws Exception {
        llm = new LoopbackHttp()
                .answer("/ok/chat/completions", 200, "{\"choices\":[{\"message\":{\"role\":\"assistant\","
                        + "\"content\":\"The shop's website is not working since 10:00 UTC.\"}}]}")
                .answer("/error/chat/completions", 500, "{\"error\":\"overloaded\"}")
                .answer("/garbage/chat/completions", 200, "<html>not json</html>")
                .answer("/empty/chat/completions", 200, "{\"choices\":[{\"message\":{\"content\":\"   \"}}]}")
                .answer("/cut/chat/completions", 200, "{\"choices\":[{\"message\":{\"content\":\"The Shop website is not working"
                        + " since\"},\"finish_reason\":\"length\"}]}")
                .answer("/spaced/chat/completions", 200, "{\"choices\":[{\"message\":{\"content\":\"The API gateway has not"
                        + " answered since 10:00 UTC.\"},\"finish_reason\":\"stop\"}]}")
                .answer("/nameless/chat/completions", 200, "{\"choices\":[{\"message\":{\"content\":\"I am sorry, I cannot help"
                        + " with that.\"},\"finish_reason\":\"stop\"}]}")
                .on("/endless/chat/completions", exchange -> {
                    // a body that never ends: the rewriter reads a bounded part and gives up at its timeout
                    exchange.sendResponseHeaders(200, 0);
                    byte[] chunk = new byte[8192];
                    java.util.Arrays.fill(chunk, (byte) ' ');
                    long until = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                    try (var out = exchange.getResponseBody()) {
                        while (System.nanoTime() < until) {
                            out.write(chunk);
                        }
                    } catch (java.io.IOException e) {
                        // the client hung up
                    }
                })
                .on("/slow/chat/completions", exchange -> {
                    try {
                        Thread.sleep(3000);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    LoopbackHttp.respond(exchange, 200, "{\"choices\":[{\"message\":{\"content\":\"too late\"}}]}");
                });
    }

    @AfterAll
    static void stop() {
        llm.close();
    }

    @Test
    void theDownReportSaysWhatSinceHowManyWhatWorksAndLastSuccess() {
        Report report = ReportTemplate.down(FACTS);
        assertThat(report.text()).isEqualTo("""
                shop is DOWN.
                What is wrong: The server answered HTTP 503 (Service Unavailable); expected 200-299.
                Since: 2025-06-01 10:00:00 UTC (2 min ago); 4 checks in a row failed, checked every 30 s.
                What still works: The name shop.example.org resolved to 192.0.2.10; the connection to port 443 was accepted; \
                the secure connection (TLS, TLSv1.3) was set up; the tls check shop-cert of the same host is up.
                Last success: 2025-06-01 09:59:30 UTC.
                Checked: the web address https://shop.example.org/health (http check).""");
        assertThat(report.subject()).isEqualTo("shop is DOWN: the server answered HTTP 503 (Service Unavailable); expected 200-299");
        assertThat(ReportTemplate.down(FACTS)).isEqualTo(report);
        // with failureThreshold 1 one failed check is no row
        ReportFacts once = new ReportFacts(FACTS.monitor(), FACTS.type(), FACTS.target(), FACTS.interval(), FACTS.since(), 1,
                FACTS.whatIsWrong(), FACTS.stillWorks(), FACTS.lastSuccess(), List.of(), FACTS.now(), null, null, FACTS.zone());
        assertThat(ReportTemplate.down(once).text()).contains("(2 min ago); 1 check failed, checked every 30 s.");
    }

    @Test
    void recoveryAndReminder() {
        ReportFacts resolved = new ReportFacts(FACTS.monitor(), FACTS.type(), FACTS.target(), FACTS.interval(), FACTS.since(), 9,
                FACTS.whatIsWrong(), FACTS.stillWorks(), FACTS.lastSuccess(), List.of(), FACTS.now(),
                Instant.parse("2025-06-01T10:05:00Z"), "the check passed in 84 ms, HTTP 200", ZoneId.of("Europe/Berlin"));
        assertThat(ReportTemplate.recovered(resolved).text()).isEqualTo("""
                shop is UP again: the check passed in 84 ms, HTTP 200.
                It was down for 5 min, from 2025-06-01 12:00:00 CEST to 2025-06-01 12:05:00 CEST; 9 checks failed.
                What was wrong: The server answered HTTP 503 (Service Unavailable); expected 200-299.
                Checked: the web address https://shop.example.org/health (http check).""");
        // what was wrong is why it went down, not a blip just before it passed again (that one too)
        ReportFacts blip = new ReportFacts("cert", CheckType.TLS, "127.0.0.1:8443", FACTS.interval(), FACTS.since(), 9,
                "nothing accepted the connection", List.of(), FACTS.lastSuccess(), List.of(), FACTS.now(),
                Instant.parse("2025-06-01T10:05:00Z"), "the check passed in 12 ms", ZoneId.of("UTC"),
                "the certificate expires in 2 days (on 2025-06-03T10:00:00Z)");
        assertThat(ReportTemplate.recovered(blip).text()).contains("""
                What was wrong: The certificate expires in 2 days (on 2025-06-03T10:00:00Z).
                The last failed check: Nothing accepted the connection.
                """);
        ReportFacts same = new ReportFacts(FACTS.monitor(), FACTS.type(), FACTS.target(), FACTS.interval(), FACTS.since(), 9,
                FACTS.whatIsWrong(), FACTS.stillWorks(), FACTS.lastSuccess(), List.of(), FACTS.now(),
                Instant.parse("2025-06-01T10:05:00Z"), "the check passed in 84 ms, HTTP 200", ZoneId.of("Europe/Berlin"),
                FACTS.whatIsWrong());
        assertThat(ReportTemplate.recovered(same).text()).isEqualTo(ReportTemplate.recovered(resolved).text());
        assertThat(ReportTemplate.reminder(FACTS).subject()).isEqualTo("shop is still DOWN (2 min)");
    }

    @Test
    void aModelRewritesTheReportAndIsAskedAsChatCompletions() throws Exception {
        IncidentReports reports = new IncidentReports(new ReportRewriter(llm.url("/ok"), "tiny-model", "sk-test", Duration.ofSeconds(2)), 4);
        Report report = reports.down(FACTS);
        assertThat(report.text()).isEqualTo("The shop's website is not working since 10:00 UTC.");
        assertThat(report.source()).isEqualTo("llm:tiny-model");
        LoopbackHttp.Received request = llm.received("/ok/chat/completions").getLast();
        assertThat(request.header("Authorization")).isEqualTo("Bearer sk-test");
        JsonNode body = new ObjectMapper().readTree(request.body());
        assertThat(body.path("model").asText()).isEqualTo("tiny-model");
        assertThat(body.path("messages").path(0).path("role").asText()).isEqualTo("system");
        assertThat(body.path("messages").path(1).path("content").asText()).isEqualTo(ReportTemplate.down(FACTS).text());
    }

    @Test
    void aRewriteMayNameTheMonitorInWords() {
        ReportFacts gateway = new ReportFacts("api-gateway", FACTS.type(), FACTS.target(), FACTS.interval(), FACTS.since(),
                FACTS.failedChecks(), FACTS.whatIsWrong(), FACTS.stillWorks(), FACTS.lastSuccess(), FACTS.otherChecks(),
                FACTS.now(), null, null, ZoneId.of("UTC"));
        Report report = new IncidentReports(new ReportRewriter(llm.url("/spaced"), "m", null, Duration.ofSeconds(2)), 4).down(gateway);
        assertThat(report.source()).as("'the API gateway' names api-gateway").isEqualTo("llm:m");
    }

    @Test
    void aTimeoutFallsBackToTheTemplateInTime() {
        IncidentReports reports = new IncidentReports(new ReportRewriter(llm.url("/slow"), "m", null, Duration.ofMillis(500)), 4);
        long begin = System.nanoTime();
        Report report = reports.down(FACTS);
        assertThat(Duration.ofNanos(System.nanoTime() - begin)).isLessThan(Duration.ofMillis(2500));
        assertThat(report).isEqualTo(ReportTemplate.down(FACTS));
    }

    @Test
    void anEndlessAnswerIsReadBoundedAndFallsBackInTime() {
        IncidentReports reports = new IncidentReports(new ReportRewriter(llm.url("/endless"), "m", null, Duration.ofSeconds(2)), 4);
        long begin = System.nanoTime();
        Report report = reports.down(FACTS);
        assertThat(report.source()).isEqualTo("template");
        assertThat(Duration.ofNanos(System.nanoTime() - begin)).isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void rewritesAreBoundedAndABusyRewriterMeansTheTemplateAtOnce() throws Exception {
        IncidentReports reports = new IncidentReports(new ReportRewriter(llm.url("/slow"), "m", null, Duration.ofSeconds(10)), 1);
        int before = llm.received("/slow/chat/completions").size();
        Thread first = Thread.ofVirtual().start(() -> reports.down(FACTS));
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20))
                .until(() -> llm.received("/slow/chat/completions").size() > before);
        // the one permit is taken by the rewrite in flight: this report is the template's, without asking
        Report second = reports.down(FACTS);
        assertThat(second).isEqualTo(ReportTemplate.down(FACTS));
        assertThat(llm.received("/slow/chat/completions")).hasSize(before + 1);
        first.join(Duration.ofSeconds(30));
    }

    @Test
    void errorsAndUnusableAnswersFallBackToTheTemplate() throws Exception {
        // a text cut at the model's length limit, and one that no longer says which monitor it is about
        for (String path : List.of("/error", "/garbage", "/empty", "/cut", "/nameless")) {
            Report report = new IncidentReports(new ReportRewriter(llm.url(path), "m", null, Duration.ofSeconds(2)), 4).down(FACTS);
            assertThat(report.source()).as(path).isEqualTo("template");
        }
        int closed;
        try (var socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            closed = socket.getLocalPort();
        }
        Report unreachable = new IncidentReports(new ReportRewriter("http://127.0.0.1:" + closed + "/v1", "m", null,
                Duration.ofSeconds(2)), 4).down(FACTS);
        assertThat(unreachable.source()).isEqualTo("template");
    }
}
