package io.switchboard.platform.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.junit.jupiter.api.Test;

/** A failure inside Jetty (outside Javalin's handlers) is a problem document that shows nothing of the exception. */
class JettyProblemErrorHandlerTest {
    @Test
    void anInternalFailureShowsNoClassNamesOrMessages() throws Exception {
        ObjectMapper json = new ObjectMapper();
        Server server = new Server();
        ServerConnector connector = new ServerConnector(server);
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        server.addConnector(connector);
        server.setHandler(new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                throw new IllegalStateException("jdbc:postgresql://db/prod password=hunter2");
            }
        });
        server.setErrorHandler(new JettyProblemErrorHandler(json, new ProblemResponses(json, new SimpleMeterRegistry())));
        server.start();
        try {
            HttpResponse<String> answer = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + connector.getLocalPort() + "/anything"))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(answer.statusCode()).isEqualTo(500);
            assertThat(answer.headers().firstValue("content-type")).hasValueSatisfying(
                    type -> assertThat(type).startsWith("application/problem+json"));
            JsonNode problem = json.readTree(answer.body());
            assertThat(problem.get("status").asInt()).isEqualTo(500);
            assertThat(answer.body()).doesNotContain("hunter2", "IllegalStateException", "postgresql");
        } finally {
            server.stop();
        }
    }
}
