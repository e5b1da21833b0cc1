package io.switchboard.server.telephony;

import com.fasterxml.jackson.databind.JsonNode;
import io.switchboard.server.Main;
import io.switchboard.telephony.numbers.RingGroup;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Numbers as an admin meets them: the API and the CLI on a running node's store, seen by the node within a second. */
class NumbersTest {
    static final String DOMAIN = "intercom.test";

    @TempDir
    static Path dataDir;
    static TelephonyNode node;

    @BeforeAll
    static void start() throws Exception {
        node = new TelephonyNode(dataDir, Map.of());
        for (String user : List.of("alice", "bob", "carol")) {
            HttpResponse<String> created = node.api("POST", "/api/v1/accounts",
                    "{\"username\":\"" + user + "\",\"password\":\"secret-" + user + "\"}");
            assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        }
    }

    @AfterAll
    static void stop() {
        if (node != null) {
            node.close();
        }
    }

    record Run(int code, String out, String err) {
    }

    /** The command line on the node's data dir. */
    static Run cli(String... args) {
        List<String> withDataDir = new ArrayList<>(List.of(args));
        withDataDir.addAll(List.of("--data-dir", dataDir.toString()));
        return run(withDataDir.toArray(String[]::new));
    }

    static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.execute(Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), args);
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static Optional<RingGroup> seen(String number) {
        return node.telephony.numbers().lookup(number, DOMAIN);
    }

    @Test
    void apiCreatesReplacesReadsAndDeletes() throws Exception {
        HttpResponse<String> created = node.api("PUT", "/api/v1/numbers/42",
                "{\"accounts\":[\"bob\",\"alice\"],\"label\":\"Flat 42\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        assertThat(created.headers().firstValue("Location")).hasValue("/api/v1/numbers/42");
        JsonNode view = node.json(created);
        assertThat(view.get("address").asText()).isEqualTo("sip:42@" + DOMAIN);
        assertThat(view.get("label").asText()).isEqualTo("Flat 42");
        assertThat(view.get("accounts").toString()).isEqualTo("[\"alice\",\"bob\"]");
        await().atMost(Duration.ofSeconds(1)).until(() -> seen("42").isPresent());
        assertThat(seen("42").orElseThrow()).isEqualTo(new RingGroup("42", DOMAIN, "Flat 42", List.of("alice", "bob")));

        HttpResponse<String> replaced = node.api("PUT", "/api/v1/numbers/42", "{\"accounts\":[\"carol\"]}");
        assertThat(replaced.statusCode()).as(replaced.body()).isEqualTo(200);
        assertThat(node.json(replaced).get("accounts").toString()).isEqualTo("[\"carol\"]");
        assertThat(node.json(replaced).get("label").asText()).isEqualTo("Flat 42");
        await().atMost(Duration.ofSeconds(1)).until(() -> seen("42").orElseThrow().members().equals(List.of("carol")));

        HttpResponse<String> one = node.api("GET", "/api/v1/numbers/42", null);
        assertThat(one.statusCode()).isEqualTo(200);
        assertThat(node.json(one).get("number").asText()).isEqualTo("42");
        // what a GET returned goes back as it is; a field the number does not have is refused
        assertThat(node.api("PUT", "/api/v1/numbers/42", one.body()).statusCode()).isEqualTo(200);
        assertProblem(node.api("PUT", "/api/v1/numbers/42", "{\"accounts\":[\"carol\"],\"lable\":\"x\"}"), 400,
                "'lable' is not a field here; expected accounts, domain, label");
        assertThat(node.json(node.api("GET", "/api/v1/numbers", null)).get("numbers").toString())
                .contains("\"number\":\"42\"");

        assertThat(node.api("DELETE", "/api/v1/numbers/42", null).statusCode()).isEqualTo(204);
        await().atMost(Duration.ofSeconds(1)).until(() -> seen("42").isEmpty());
        assertProblem(node.api("DELETE", "/api/v1/numbers/42", null), 404, "no number 42@" + DOMAIN);
        assertProblem(node.api("GET", "/api/v1/numbers/42", null), 404, "no number 42@" + DOMAIN);
    }

    @Test
    void apiRefusesBadInputWithProblemsNamingTheField() throws Exception {
        assertProblem(node.api("PUT", "/api/v1/numbers/9", "{not json"), 400, "JSON");
        assertProblem(node.api("PUT", "/api/v1/numbers/9", "[]"), 400, "JSON object");
        assertProblem(node.api("PUT", "/api/v1/numbers/9", "{}"), 400, "'accounts' is required");
        assertProblem(node.api("PUT", "/api/v1/numbers/9", "{\"accounts\":[]}"), 400, "'accounts'");
        assertProblem(node.api("PUT", "/api/v1/numbers/9", "{\"accounts\":\"alice\"}"), 400, "'accounts'");
        assertProblem(node.api("PUT", "/api/v1/numbers/9", "{\"accounts\":[1]}"), 400, "'accounts'");
        assertProblem(node.api("PUT", "/api/v1/numbers/9", "{\"accounts\":[\"alice\"],\"label\":7}"), 400, "'label'");
        assertProblem(node.api("PUT", "/api/v1/numbers/9", "{\"accounts\":[\"alice\",\"zoe\"]}"), 422,
                "'accounts': no account zoe in " + DOMAIN);
        assertProblem(node.api("PUT", "/api/v1/numbers/flat%2042", "{\"accounts\":[\"alice\"]}"), 400, "'number'");
        assertProblem(node.api("PUT", "/api/v1/numbers/" + "1".repeat(33), "{\"accounts\":[\"alice\"]}"), 400, "'number'");
        assertProblem(node.api("PUT", "/api/v1/numbers/alice", "{\"accounts\":[\"bob\"]}"), 409, "'number'");
        assertProblem(node.api("PUT", "/api/v1/numbers/9", "{\"accounts\":[\"alice\"],\"domain\":\"elsewhere.test\"}"),
                422, "'domain': elsewhere.test is not served here");
        assertProblem(node.api("PUT", "/api/v1/numbers/9", "{\"accounts\":[\"alice\"],\"domain\":\"bad domain\"}"),
                400, "'domain'");
        assertThat(node.get("/api/v1/numbers").statusCode()).isEqualTo(401);
        assertThat(node.get("/api/v1/numbers/9").statusCode()).isEqualTo(401);
        assertThat(node.json(node.api("GET", "/api/v1/numbers", null)).get("numbers").toString()).doesNotContain("\"9\"");
    }

    @Test
    void numbersWithKeypadSymbolsTravelEscapedInThePath() throws Exception {
        HttpResponse<String> created = node.api("PUT", "/api/v1/numbers/%2A21%23", "{\"accounts\":[\"alice\"]}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        assertThat(node.json(created).get("number").asText()).isEqualTo("*21#");
        assertThat(created.headers().firstValue("Location")).hasValue("/api/v1/numbers/*21%23");
        await().atMost(Duration.ofSeconds(1)).until(() -> seen("*21#").isPresent());
        // the address is a SIP URI a client can dial: '#' is escaped there (RFC 3261 §25.1)
        assertThat(node.json(created).get("address").asText()).isEqualTo("sip:*21%23@" + DOMAIN);
        assertThat(cli("number", "list").out()).contains("sip:*21%23@" + DOMAIN + " -> alice");
        assertThat(node.api("DELETE", "/api/v1/numbers/*21%23", null).statusCode()).isEqualTo(204);
    }

    @Test
    void cliChangesReachTheRunningNodeWithinASecond() {
        Run added = cli("number", "add", "7", "--accounts", "alice", "--label", "Reception");
        assertThat(added.code()).as(added.err()).isZero();
        assertThat(added.out()).contains("added sip:7@" + DOMAIN + " -> alice");
        // the command returns once the running node has polled: a call placed now finds the number
        assertThat(seen("7")).isPresent();

        assertThat(cli("number", "add", "7", "--accounts", "carol,bob").code()).isZero();
        await().atMost(Duration.ofSeconds(1)).until(() ->
                seen("7").orElseThrow().members().equals(List.of("alice", "bob", "carol")));
        assertThat(seen("7").orElseThrow().label()).isEqualTo("Reception");

        assertThat(cli("number", "set", "7", "--accounts", "bob").code()).isZero();
        await().atMost(Duration.ofSeconds(1)).until(() -> seen("7").orElseThrow().members().equals(List.of("bob")));

        assertThat(cli("number", "add", "7", "--accounts", "alice").code()).isZero();
        assertThat(cli("number", "remove", "7", "--accounts", "bob").code()).isZero();
        await().atMost(Duration.ofSeconds(1)).until(() -> seen("7").orElseThrow().members().equals(List.of("alice")));

        Run list = cli("number", "list");
        assertThat(list.code()).isZero();
        assertThat(list.out()).contains("sip:7@" + DOMAIN + " -> alice\t(Reception)");

        Run removed = cli("number", "remove", "7");
        assertThat(removed.code()).isZero();
        assertThat(removed.out()).contains("removed sip:7@" + DOMAIN);
        await().atMost(Duration.ofSeconds(1)).until(() -> seen("7").isEmpty());
    }

    @Test
    void badCliInputIsOneLineAndExit2() {
        assertOneLineError(cli("number", "add", "no spaces", "--accounts", "alice"), "1-32 digits");
        assertOneLineError(cli("number", "add", "8", "--accounts", "alice,nobody"), "no account nobody in " + DOMAIN);
        assertOneLineError(cli("number", "add", "alice", "--accounts", "bob"), "ambiguous");
        assertOneLineError(cli("number", "add", "8"), "--accounts");
        assertOneLineError(cli("number", "remove", "999"), "no number 999@" + DOMAIN);
        assertOneLineError(run("number", "frobnicate"), "frobnicate");
        assertOneLineError(run("number"), "missing subcommand");

        assertThat(cli("number", "add", "8", "--accounts", "alice").code()).isZero();
        assertOneLineError(cli("number", "remove", "8", "--accounts", "carol"), "carol is not in number 8");
        Run emptied = cli("number", "remove", "8", "--accounts", "alice");
        assertThat(emptied.code()).isZero();
        assertThat(emptied.out()).contains("sip:8@" + DOMAIN + " -> no accounts (calls get 480)");
        assertThat(cli("number", "remove", "8").code()).isZero();

        // and an account may not take a number's name
        assertThat(cli("number", "add", "100", "--accounts", "alice").code()).isZero();
        Run taken = cli("account", "add", "100", "--password", "door-panel-1");
        assertThat(taken.code()).isEqualTo(2);
        assertThat(taken.err()).contains("100 is a number in " + DOMAIN);
        assertThat(cli("number", "remove", "100").code()).isZero();
    }

    private static void assertOneLineError(Run run, String expected) {
        assertThat(run.code()).as(run.out() + run.err()).isEqualTo(2);
        assertThat(run.err().strip()).startsWith("switchboard: ").contains(expected).doesNotContain("\n");
    }

    private static void assertProblem(HttpResponse<String> response, int status, String detailPart) throws Exception {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        assertThat(response.headers().firstValue("Content-Type"))
                .hasValueSatisfying(t -> assertThat(t).contains("application/problem+json"));
        JsonNode problem = node.json(response);
        assertThat(problem.get("status").asInt()).isEqualTo(status);
        assertThat(problem.get("detail").asText()).contains(detailPart);
    }
}
