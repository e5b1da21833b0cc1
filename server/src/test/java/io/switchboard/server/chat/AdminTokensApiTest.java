package io.switchboard.server.chat;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.switchboard.server.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Operators list and revoke admin tokens, through the API and the CLI, on a running node. */
class AdminTokensApiTest {
    @TempDir
    Path dataDir;
    ChatNode node;

    @AfterEach
    void stop() {
        if (node != null) {
            node.close();
        }
    }

    record Run(int code, String out, String err) {
    }

    Run cli(String... args) {
        String[] all = java.util.stream.Stream.concat(java.util.Arrays.stream(args),
                java.util.stream.Stream.of("--data-dir", dataDir.toString())).toArray(String[]::new);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.execute(Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), all);
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    HttpResponse<String> api(String method, String path, String token) throws Exception {
        return node.call(method, path, token, null, Map.of());
    }

    @Test
    void tokensAreListedWithLabelsNeverShownAndRevokedAtOnce() throws Exception {
        node = new ChatNode(dataDir, Map.of());
        String first = node.adminToken();
        Run created = cli("admin", "token", "--label", "ci pipeline");
        assertThat(created.code()).as(created.err()).isZero();
        String ci = created.out().strip();

        HttpResponse<String> listed = api("GET", "/api/v1/admin-tokens", first);
        assertThat(listed.statusCode()).isEqualTo(200);
        assertThat(listed.body()).doesNotContain(first).doesNotContain(ci);
        JsonNode tokens = ChatNode.json(listed).get("adminTokens");
        assertThat(tokens).hasSize(2);
        assertThat(tokens.get(0).get("label").asText()).isEqualTo("first start");
        assertThat(tokens.get(0).get("current").asBoolean()).isTrue();
        assertThat(tokens.get(1).get("label").asText()).isEqualTo("ci pipeline");
        assertThat(tokens.get(1).get("current").asBoolean()).isFalse();
        String ciId = tokens.get(1).get("id").asText();

        Run list = cli("admin", "token", "list");
        assertThat(list.code()).isZero();
        assertThat(list.out()).contains(ciId + "\t").contains("\tci pipeline").contains("\tfirst start")
                .doesNotContain(ci).doesNotContain(first);

        // revoked through the API: refused on the very next request
        assertThat(api("GET", "/api/v1/admin-tokens", ci).statusCode()).isEqualTo(200);
        assertThat(api("DELETE", "/api/v1/admin-tokens/" + ciId, first).statusCode()).isEqualTo(204);
        assertThat(api("GET", "/api/v1/admin-tokens", ci).statusCode()).isEqualTo(401);
        assertThat(api("DELETE", "/api/v1/admin-tokens/" + ciId, first).statusCode()).isEqualTo(404);
        assertThat(api("DELETE", "/api/v1/admin-tokens/" + ciId + "?force=maybe", first).statusCode()).isEqualTo(400);
        assertThat(api("GET", "/api/v1/admin-tokens", null).statusCode()).isEqualTo(401);

        // the last token stays unless forced, through the API and the CLI alike
        String firstId = tokens.get(0).get("id").asText();
        HttpResponse<String> last = api("DELETE", "/api/v1/admin-tokens/" + firstId, first);
        assertThat(last.statusCode()).isEqualTo(409);
        assertThat(ChatNode.json(last).get("detail").asText()).contains("last one", "?force=true");
        Run refused = cli("admin", "token", "revoke", firstId);
        assertThat(refused.code()).isEqualTo(2);
        assertThat(refused.err().strip()).startsWith("switchboard: admin token " + firstId + " is the last one")
                .contains("--force").doesNotContain("\n");
        assertThat(cli("admin", "token", "revoke", "0123456789ab").code()).isEqualTo(2);
        assertThat(cli("admin", "token", "revoke").code()).isEqualTo(2);
        // the token itself given for its id: never echoed back (a revoked one is unknown now)
        Run byToken = cli("admin", "token", "revoke", ci);
        assertThat(byToken.code()).isEqualTo(2);
        assertThat(byToken.err()).startsWith("switchboard: no admin token " + ciId).doesNotContain(ci);

        // revoked through the CLI on the running node's store: refused at once
        Run revoked = cli("admin", "token", "revoke", firstId, "--force");
        assertThat(revoked.code()).as(revoked.err()).isZero();
        assertThat(revoked.out()).contains("revoked admin token " + firstId + " (first start)");
        assertThat(api("GET", "/api/v1/admin-tokens", first).statusCode()).isEqualTo(401);
        assertThat(cli("admin", "token", "list").out()).contains("no admin tokens");
    }
}
