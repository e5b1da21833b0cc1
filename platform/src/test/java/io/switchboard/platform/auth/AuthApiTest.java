package io.switchboard.platform.auth;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.platform.config.HostPort;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.http.HttpServer;
import io.switchboard.platform.http.TrustedProxies;
import io.switchboard.platform.lifecycle.Readiness;
import io.switchboard.platform.metrics.Metrics;
import io.switchboard.platform.store.Store;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The people API over HTTP. Sign-in and sign-up refuse a request a browser sent for a page of another site. An older browser
 * is judged by its {@code Origin} against the host asked for; {@code X-Forwarded-Host} counts as
 * that host only when a trusted proxy sent the request, since a page could otherwise have its
 * visitor's request name the page's own site there. Refusals are counted with the operation's meter.
 */
class AuthApiTest {
    private static final HttpClient client = HttpClient.newHttpClient();
    private static final String EVIL = "https://evil.example";
    private static final String SIGN_IN = "{\"username\":\"nobody\",\"password\":\"some-password-1\"}";

    @TempDir
    Path dir;
    Store store;
    Metrics metrics;
    PersonAuth people;

    @BeforeEach
    void open() {
        store = Store.open(StoreSettings.sqliteIn(dir));
        store.migrate("platform");
        metrics = new Metrics();
        people = PeopleOnStore.personAuth(store, Clock.systemUTC(), metrics.registry(), 5);
    }

    @AfterEach
    void close() {
        metrics.close();
        store.close();
    }

    @Test
    void aForwardedHostFromAnyClientDoesNotMakeAnotherSiteOurs() throws Exception {
        HttpServer server = server(TrustedProxies.none());
        try {
            HttpResponse<String> answer = post(server, "/api/v1/auth/sign-in", SIGN_IN, EVIL, "evil.example");
            assertThat(answer.statusCode()).isEqualTo(403);
            assertThat(answer.body()).contains("another site");
            HttpResponse<String> signUp = post(server, "/api/v1/auth/sign-up", SIGN_IN, EVIL, "evil.example");
            assertThat(signUp.statusCode()).isEqualTo(403);
            assertThat(otherSiteRefusals("sign_ins")).isEqualTo(1.0);
            assertThat(otherSiteRefusals("sign_ups")).isEqualTo(1.0);
            assertThat(metrics.scrape()).contains("switchboard_auth_sign_ins_total{result=\"other_site\"} 1.0");
        } finally {
            server.stop();
        }
    }

    @Test
    void aTrustedProxyNamesTheHostTheBrowserAskedFor() throws Exception {
        HttpServer server = server(TrustedProxies.of(List.of("127.0.0.1", "::1")));
        try {
            HttpResponse<String> proxied = post(server, "/api/v1/auth/sign-in", SIGN_IN, "https://chat.example", "chat.example");
            assertThat(proxied.statusCode()).as(proxied.body()).isEqualTo(401); // judged on its credentials: no such user
            HttpResponse<String> otherSite = post(server, "/api/v1/auth/sign-in", SIGN_IN, EVIL, "chat.example");
            assertThat(otherSite.statusCode()).isEqualTo(403);
            assertThat(otherSiteRefusals("sign_ins")).isEqualTo(1.0);
            // a chain of proxies: the entry the trusted proxy next to the node added is the rightmost
            for (String[] chain : List.of(new String[] {"evil.example, chat.example"}, new String[] {"evil.example", "chat.example"})) {
                HttpResponse<String> chained = post(server, "/api/v1/auth/sign-in", SIGN_IN, "https://chat.example", chain);
                assertThat(chained.statusCode()).as(String.join(" | ", chain) + ": " + chained.body()).isEqualTo(401);
            }
            HttpResponse<String> leftmost = post(server, "/api/v1/auth/sign-in", SIGN_IN, "https://chat.example",
                    "chat.example, evil.example");
            assertThat(leftmost.statusCode()).as("what the client wrote to the left is not the host").isEqualTo(403);
        } finally {
            server.stop();
        }
    }

    @Test
    void theBearerSchemeWithoutATokenIsToldTheTokenIsMissing() throws Exception {
        HttpServer server = server(TrustedProxies.none());
        try {
            // GET /api/v1/me is a person's, POST /api/v1/users an admin's: both guards say the same
            for (String path : java.util.List.of("/api/v1/me", "/api/v1/users")) {
                String method = path.equals("/api/v1/me") ? "GET" : "POST";
                for (String header : java.util.List.of("Bearer", "bearer ")) {
                    HttpResponse<String> refused = client.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + path))
                            .header("Authorization", header).method(method, HttpRequest.BodyPublishers.ofString("{}")).build(),
                            HttpResponse.BodyHandlers.ofString());
                    assertThat(refused.statusCode()).as(path).isEqualTo(401);
                    assertThat(refused.headers().firstValue("Content-Type")).hasValueSatisfying(
                            type -> assertThat(type).startsWith("application/problem+json"));
                    assertThat(server.json().readTree(refused.body()).get("detail").asText()).as(path + " " + header)
                            .isEqualTo("The Authorization header has no token after Bearer: send 'Authorization: Bearer <token>'.");
                }
                HttpResponse<String> basic = client.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + path))
                        .header("Authorization", "Basic YTpi").method(method, HttpRequest.BodyPublishers.ofString("{}")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(server.json().readTree(basic.body()).get("detail").asText()).as(path)
                        .isEqualTo("The Authorization header must use the Bearer scheme.");
            }
        } finally {
            server.stop();
        }
    }

    @Test
    void aUserIdInUpperCaseIsTheSamePerson() throws Exception {
        HttpServer server = server(TrustedProxies.none());
        try {
            Person anna = people.create("anna", "anna-password-1", null, false);
            String token = people.signIn("anna", "anna-password-1", "127.0.0.1").tokens().accessToken();
            HttpResponse<String> shown = client.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/api/v1/users/"
                            + anna.id().toUpperCase(java.util.Locale.ROOT))).header("Authorization", "Bearer " + token).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(shown.statusCode()).as(shown.body()).isEqualTo(200);
            assertThat(shown.body()).contains("\"id\":\"" + anna.id() + "\"");
        } finally {
            server.stop();
        }
    }

    private HttpServer server(TrustedProxies proxies) {
        HttpServer server = new HttpServer(new HostPort("127.0.0.1", 0), metrics, new Readiness(), Duration.ofSeconds(1));
        server.trustProxies(proxies);
        server.addRoutes(new AuthApi(people, new AdminAuth(new AdminTokens(store.jdbi(), Clock.systemUTC()), people),
                server.json()));
        server.start();
        return server;
    }

    /** @param forwardedHosts X-Forwarded-Host, one header line each */
    private static HttpResponse<String> post(HttpServer server, String path, String body, String origin,
                                             String... forwardedHosts) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(server.baseUrl() + path))
                .header("Content-Type", "application/json")
                .header("Origin", origin);
        for (String forwardedHost : forwardedHosts) {
            request.header("X-Forwarded-Host", forwardedHost);
        }
        return client.send(request.POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private double otherSiteRefusals(String operation) {
        var counter = metrics.registry().find("switchboard.auth." + operation).tag("result", "other_site").counter();
        return counter == null ? 0 : counter.count();
    }
}
