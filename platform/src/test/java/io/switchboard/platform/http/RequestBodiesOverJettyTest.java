package io.switchboard.platform.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.platform.config.HostPort;
import io.switchboard.platform.lifecycle.Readiness;
import io.switchboard.platform.metrics.Metrics;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Request bodies that go wrong on the wire, against the real Jetty: one that stops arriving, one
 * over the limit in chunks, one cut short by the client (its sending side closed). Each is
 * answered in plain words, counted, and the answer reaches the client.
 */
class RequestBodiesOverJettyTest {
    private static final Duration IDLE = Duration.ofSeconds(3);
    private static final ObjectMapper json = new ObjectMapper();
    private static Metrics metrics;
    private static HttpServer server;

    @BeforeAll
    static void start() {
        metrics = new Metrics();
        server = new HttpServer(new HostPort("127.0.0.1", 0), metrics, new Readiness(), Duration.ofSeconds(1));
        server.idleTimeout(IDLE);
        server.addRoutes(routes -> routes.post("/api/v1/test/notes", ctx -> ctx.json(Map.of("note",
                String.valueOf(RequestBodies.optionalText(RequestBodies.object(json, ctx), "note"))))));
        server.start();
    }

    @AfterAll
    static void stop() {
        server.stop();
        metrics.close();
    }

    private static double errors(String status) {
        var counter = metrics.registry().find("switchboard.http.errors").tag("status", status).counter();
        return counter == null ? 0 : counter.count();
    }

    private static String head(String framing) {
        return "POST /api/v1/test/notes HTTP/1.1\r\nHost: 127.0.0.1:" + server.port()
                + "\r\nContent-Type: application/json\r\n" + framing + "\r\n";
    }

    @Test
    void aBodyThatStopsArrivingIs408() throws Exception {
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout(20_000);
            OutputStream out = socket.getOutputStream();
            out.write((head("Content-Length: 100\r\n") + "{\"note\":\"hal").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            // then nothing: the idle timeout (3 s here) passes
            RawHttp answer = RawHttp.read(socket.getInputStream());
            assertThat(answer.status()).isEqualTo(408);
            assertThat(answer.body()).contains("stopped arriving").doesNotContain("Idle timeout");
            assertThat(errors("408")).isPositive();
        }
    }

    /**
     * RFC 9110 §10.1.1: a client that waits for 100 Continue before sending a body the node will
     * refuse gets the 413 instead, at once, and does not upload 2 MB for nothing.
     */
    @Test
    void aBodyDeclaredOverTheLimitWithExpectContinueIs413WithoutContinue() throws Exception {
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write(head("Content-Length: 2000000\r\nExpect: 100-continue\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            // no body is sent: it was to follow a 100
            RawHttp answer = RawHttp.read(socket.getInputStream());
            // the first line the node writes is the final answer, not HTTP/1.1 100 Continue
            assertThat(answer.status()).isEqualTo(413);
            assertThat(answer.headers().get("content-type")).startsWith("application/problem+json");
            // the client was free to send the body anyway: the connection is not kept for a next request
            assertThat(answer.headers().get("connection")).isEqualTo("close");
        }
        // a body within the limit is still asked for and read
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout(10_000);
            byte[] body = "{\"note\":\"hi\"}".getBytes(StandardCharsets.UTF_8);
            OutputStream out = socket.getOutputStream();
            out.write(head("Content-Length: " + body.length + "\r\nExpect: 100-continue\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            var in = socket.getInputStream();
            StringBuilder interim = new StringBuilder();
            while (!interim.toString().endsWith("\r\n\r\n")) {
                int b = in.read();
                assertThat(b).as("the connection closed after: " + interim).isNotNegative();
                interim.append((char) b);
            }
            assertThat(interim.toString()).startsWith("HTTP/1.1 100 ");
            out.write(body);
            out.flush();
            RawHttp answer = RawHttp.read(in);
            assertThat(answer.status()).isEqualTo(200);
            assertThat(answer.body()).contains("\"note\":\"hi\"");
        }
    }

    @Test
    void aChunkedBodyOverTheLimitIs413AndTheAnswerArrives() throws Exception {
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout(20_000);
            OutputStream out = socket.getOutputStream();
            out.write(head("Transfer-Encoding: chunked\r\n").getBytes(StandardCharsets.ISO_8859_1));
            byte[] chunk = "x".repeat(64 * 1024).getBytes(StandardCharsets.ISO_8859_1);
            out.write("1\r\n{\r\n".getBytes(StandardCharsets.ISO_8859_1));
            // 3 MB with a pause (a fifth of the idle timeout) after the first 1.25: unless the node reads the refused body to its end
            // (it does, up to 4 MB) rather than only what has come, the rest meets a closed
            // connection and the client loses the answer to a reset (RFC 9112 §9.6)
            for (int i = 0; i < 48; i++) {
                if (i == 20) {
                    out.flush();
                    Thread.sleep(IDLE.toMillis() / 5);
                }
                out.write((Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
                out.write(chunk);
                out.write("\r\n".getBytes(StandardCharsets.ISO_8859_1));
            }
            out.write("0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            RawHttp answer = RawHttp.read(socket.getInputStream());
            assertThat(answer.status()).isEqualTo(413);
            assertThat(answer.body()).contains("larger than the 1000000 bytes");
            assertThat(errors("413")).isPositive();
        }
    }

    @Test
    void aBodyCutShortIs400AndTheConnectionCloses() throws Exception {
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout(20_000);
            OutputStream out = socket.getOutputStream();
            out.write((head("Content-Length: 100\r\n") + "{\"note\":\"cut").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            socket.shutdownOutput(); // the client is done sending: the body will never be whole
            RawHttp answer = RawHttp.read(socket.getInputStream());
            assertThat(answer.status()).isEqualTo(400);
            assertThat(answer.body()).contains("ended before it was whole").doesNotContain("EOF");
            assertThat(answer.headers()).containsEntry("connection", "close");
            assertThat(errors("400")).isPositive();
        }
    }
}
