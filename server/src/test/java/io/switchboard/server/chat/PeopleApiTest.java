package io.switchboard.server.chat;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.switchboard.server.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Signing up and in, tokens, the brake on guessing, people managed by the admin and the CLI. */
class PeopleApiTest {
    @TempDir
    static Path dataDir;
    static ChatNode node;

    @BeforeAll
    static void start() {
        node = new ChatNode(dataDir, Map.of("SWITCHBOARD_AUTH_SIGN_IN_FAILURES_PER_USER", "3"));
    }

    @AfterAll
    static void stop() {
        node.close();
    }

    private static HttpResponse<String> post(String path, String token, String body) throws Exception {
        return node.call("POST", path, token, body, Map.of());
    }

    private static String credentials(String username, String password) {
        return "{\"username\":\"" + username + "\",\"password\":\"" + password + "\"}";
    }

    @Test
    void signUpSignInRefreshAndSignOut() throws Exception {
        String name = ChatNode.uniqueName("vera");
        HttpResponse<String> signUp = post("/api/v1/auth/sign-up", null,
                "{\"username\":\"" + name.toUpperCase() + "\",\"password\":\"correct horse\",\"displayName\":\"Vera, flat 7\"}");
        assertThat(signUp.statusCode()).isEqualTo(201);
        JsonNode session = ChatNode.json(signUp);
        assertThat(session.at("/user/username").asText()).isEqualTo(name);
        assertThat(session.at("/user/displayName").asText()).isEqualTo("Vera, flat 7");
        assertThat(session.get("tokenType").asText()).isEqualTo("Bearer");
        assertThat(session.get("expiresIn").asLong()).isEqualTo(900);
        assertThat(post("/api/v1/auth/sign-up", null, credentials(name, "another password")).statusCode()).isEqualTo(409);
        HttpResponse<String> blankName = post("/api/v1/auth/sign-up", null, "{\"username\":\"" + ChatNode.uniqueName("blank")
                + "\",\"password\":\"correct horse\",\"displayName\":\"   \"}");
        assertThat(blankName.statusCode()).isEqualTo(400);
        assertThat(ChatNode.json(blankName).get("detail").asText()).contains("'displayName' shows nothing");

        JsonNode me = ChatNode.json(node.get("/api/v1/me", session.get("accessToken").asText()));
        assertThat(me.get("id").asText()).isEqualTo(session.at("/user/id").asText());

        HttpResponse<String> signIn = post("/api/v1/auth/sign-in", null, credentials(name, "correct horse"));
        assertThat(signIn.statusCode()).isEqualTo(200);
        String refresh = ChatNode.json(signIn).get("refreshToken").asText();

        HttpResponse<String> refreshed = post("/api/v1/auth/refresh", null, "{\"refreshToken\":\"" + refresh + "\"}");
        assertThat(refreshed.statusCode()).isEqualTo(200);
        String rotated = ChatNode.json(refreshed).get("refreshToken").asText();
        assertThat(rotated).isNotEqualTo(refresh);
        assertThat(node.get("/api/v1/me", ChatNode.json(refreshed).get("accessToken").asText()).statusCode()).isEqualTo(200);
        // a used refresh token presented again means it leaked: the whole sign-in is revoked (RFC 9700 §4.14.2)
        assertThat(post("/api/v1/auth/refresh", null, "{\"refreshToken\":\"" + refresh + "\"}").statusCode()).isEqualTo(401);
        assertThat(post("/api/v1/auth/refresh", null, "{\"refreshToken\":\"" + rotated + "\"}").statusCode()).isEqualTo(401);

        String other = ChatNode.json(post("/api/v1/auth/sign-in", null, credentials(name, "correct horse")))
                .get("refreshToken").asText();
        assertThat(post("/api/v1/auth/sign-out", null, "{\"refreshToken\":\"" + other + "\"}").statusCode()).isEqualTo(204);
        assertThat(post("/api/v1/auth/refresh", null, "{\"refreshToken\":\"" + other + "\"}").statusCode()).isEqualTo(401);
        assertThat(post("/api/v1/auth/refresh", null, "{\"refreshToken\":\"sbrt_made_up\"}").statusCode()).isEqualTo(401);
        assertThat(post("/api/v1/auth/refresh", null, "{}").statusCode()).isEqualTo(400);
    }

    @Test
    void aPageOfAnotherSiteCannotSignUpOrInThroughAVisitorsBrowser() throws Exception {
        String name = ChatNode.uniqueName("csrf");
        String body = credentials(name, "correct horse");
        // what a form or fetch of https://evil.example sends: text/plain needs no CORS preflight
        Map<String, Map<String, String>> otherSites = Map.of(
                "fetch metadata", Map.of("Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"),
                "an older browser", Map.of("Origin", "https://evil.example"),
                "a sandboxed page", Map.of("Origin", "null"));
        for (Map.Entry<String, Map<String, String>> site : otherSites.entrySet()) {
            for (String path : List.of("/api/v1/auth/sign-up", "/api/v1/auth/sign-in", "/api/v1/auth/refresh")) {
                HttpResponse<String> refused = node.call("POST", path, null, body, site.getValue());
                assertThat(refused.statusCode()).as(site.getKey() + " " + path).isEqualTo(403);
                assertThat(refused.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/problem+json"));
                assertThat(ChatNode.json(refused).get("detail").asText()).contains("another site");
            }
        }
        assertThat(node.call("POST", "/api/v1/auth/sign-in", null, body, Map.of()).statusCode()).isEqualTo(401); // never made
        // the node's own pages, and clients that are not browsers, are served as before
        String host = java.net.URI.create(node.baseUrl()).getRawAuthority();
        assertThat(node.call("POST", "/api/v1/auth/sign-up", null, body,
                Map.of("Sec-Fetch-Site", "same-origin", "Origin", node.baseUrl())).statusCode()).isEqualTo(201);
        assertThat(node.call("POST", "/api/v1/auth/sign-in", null, body, Map.of("Origin", "http://" + host)).statusCode())
                .isEqualTo(200);
        assertThat(node.call("POST", "/api/v1/auth/sign-in", null, body, Map.of()).statusCode()).isEqualTo(200);
    }

    @Test
    void badSignUpsAreRefusedWithTheFieldNamed() throws Exception {
        assertThat(ChatNode.json(post("/api/v1/auth/sign-up", null, credentials("a", "long enough password")))
                .get("detail").asText()).contains("'username'");
        assertThat(ChatNode.json(post("/api/v1/auth/sign-up", null, credentials("has space", "long enough password")))
                .get("detail").asText()).contains("'username'");
        assertThat(ChatNode.json(post("/api/v1/auth/sign-up", null, credentials(ChatNode.uniqueName("p"), "short")))
                .get("detail").asText()).contains("'password'");
        assertThat(post("/api/v1/auth/sign-up", null, "{\"username\":5}").statusCode()).isEqualTo(400);
        assertThat(post("/api/v1/auth/sign-up", null, "not json").statusCode()).isEqualTo(400);
    }

    @Test
    void wrongPasswordAndUnknownUserLookTheSameAndRepeatedFailuresAreSlowedDown() throws Exception {
        String name = ChatNode.uniqueName("ivan");
        node.signUp(name);
        HttpResponse<String> wrong = post("/api/v1/auth/sign-in", null, credentials(name, "not the password"));
        HttpResponse<String> unknown = post("/api/v1/auth/sign-in", null, credentials(ChatNode.uniqueName("nobody"), "whatever1"));
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(unknown.statusCode()).isEqualTo(401);
        assertThat(ChatNode.json(wrong).get("detail").asText()).isEqualTo(ChatNode.json(unknown).get("detail").asText());
        post("/api/v1/auth/sign-in", null, credentials(name, "not the password"));
        post("/api/v1/auth/sign-in", null, credentials(name, "not the password"));
        // three failures allowed for this node: now even the right password waits
        HttpResponse<String> limited = post("/api/v1/auth/sign-in", null, credentials(name, "pass-" + name + "-123"));
        assertThat(limited.statusCode()).isEqualTo(429);
        assertThat(limited.headers().firstValue("Retry-After")).hasValueSatisfying(v -> assertThat(Long.parseLong(v)).isPositive());
        assertThat(node.metric("switchboard_auth_sign_ins_total{result=\"limited\"}")).isGreaterThanOrEqualTo(1);
        assertThat(node.metric("switchboard_auth_sign_ins_total{result=\"wrong_password\"}")).isGreaterThanOrEqualTo(3);
    }

    @Test
    void manyFailuresFromOneAddressAreSlowedDownWhateverTheUserName(@TempDir Path ownDir) throws Exception {
        try (ChatNode strict = new ChatNode(ownDir, Map.of("SWITCHBOARD_AUTH_SIGN_IN_FAILURES_PER_ADDRESS", "3"))) {
            ChatNode.Person real = strict.signUp(ChatNode.uniqueName("real"));
            for (int i = 0; i < 3; i++) {
                assertThat(strict.call("POST", "/api/v1/auth/sign-in", null,
                        credentials(ChatNode.uniqueName("guess"), "guess-" + i), Map.of()).statusCode()).isEqualTo(401);
            }
            HttpResponse<String> limited = strict.call("POST", "/api/v1/auth/sign-in", null,
                    credentials(real.username(), "pass-" + real.username() + "-123"), Map.of());
            assertThat(limited.statusCode()).isEqualTo(429);
            assertThat(ChatNode.json(limited).get("detail").asText()).contains("retry in");
        }
    }

    @Test
    void changingThePasswordEndsOtherSessions() throws Exception {
        ChatNode.Person kim = node.signUp(ChatNode.uniqueName("kim"));
        String oldPassword = "pass-" + kim.username() + "-123";
        HttpResponse<String> wrongCurrent = node.call("PUT", "/api/v1/me/password", kim.accessToken(),
                "{\"currentPassword\":\"nope nope\",\"newPassword\":\"a brand new one\"}", Map.of());
        assertThat(wrongCurrent.statusCode()).isEqualTo(403);
        assertThat(node.call("PUT", "/api/v1/me/password", kim.accessToken(),
                "{\"currentPassword\":\"" + oldPassword + "\",\"newPassword\":\"a brand new one\"}", Map.of()).statusCode())
                .isEqualTo(204);
        assertThat(node.get("/api/v1/me", kim.accessToken()).statusCode()).isEqualTo(401);
        assertThat(post("/api/v1/auth/refresh", null, "{\"refreshToken\":\"" + kim.refreshToken() + "\"}").statusCode())
                .isEqualTo(401);
        assertThat(post("/api/v1/auth/sign-in", null, credentials(kim.username(), "a brand new one")).statusCode()).isEqualTo(200);
    }

    @Test
    void guessingTheCurrentPasswordWithAStolenTokenIsLimitedWithoutLockingTheOwnerOut() throws Exception {
        ChatNode.Person lea = node.signUp(ChatNode.uniqueName("lea"));
        String password = "pass-" + lea.username() + "-123";
        double counted = node.metric("switchboard_auth_password_changes_total{result=\"wrong_password\"}");
        double wrongBefore = Double.isNaN(counted) ? 0 : counted;
        for (int i = 0; i < 3; i++) { // this node allows 3 failures (SWITCHBOARD_AUTH_SIGN_IN_FAILURES_PER_USER)
            assertThat(node.call("PUT", "/api/v1/me/password", lea.accessToken(),
                    "{\"currentPassword\":\"guess-" + i + "\",\"newPassword\":\"a brand new one\"}", Map.of()).statusCode())
                    .isEqualTo(403);
        }
        HttpResponse<String> limited = node.call("PUT", "/api/v1/me/password", lea.accessToken(),
                "{\"currentPassword\":\"" + password + "\",\"newPassword\":\"a brand new one\"}", Map.of());
        assertThat(limited.statusCode()).as("past the allowance, even the right password waits").isEqualTo(429);
        assertThat(limited.headers().firstValue("Retry-After")).isPresent();
        assertThat(node.metric("switchboard_auth_password_changes_total{result=\"wrong_password\"}")).isEqualTo(wrongBefore + 3);
        // the guesses counted against the stolen session only: the owner signs in and changes the password
        HttpResponse<String> owner = post("/api/v1/auth/sign-in", null, credentials(lea.username(), password));
        assertThat(owner.statusCode()).isEqualTo(200);
        String ownerToken = ChatNode.json(owner).get("accessToken").asText();
        assertThat(node.call("PUT", "/api/v1/me/password", ownerToken,
                "{\"currentPassword\":\"" + password + "\",\"newPassword\":\"a brand new one\"}", Map.of()).statusCode())
                .isEqualTo(204);
        assertThat(node.get("/api/v1/me", lea.accessToken()).statusCode()).as("the stolen session ended with it").isEqualTo(401);
    }

    @Test
    void theAdminIsAPersonToo() throws Exception {
        String adminName = ChatNode.uniqueName("operator");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.execute(cliEnv(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8),
                "user", "add", adminName, "--password", "operator-password", "--admin", "--data-dir", dataDir.toString());
        assertThat(code).as(err.toString(StandardCharsets.UTF_8)).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("added " + adminName + " (admin)");

        String adminAccess = ChatNode.json(post("/api/v1/auth/sign-in", null, credentials(adminName, "operator-password")))
                .get("accessToken").asText();
        assertThat(node.get("/api/v1/node", adminAccess).statusCode()).isEqualTo(200);
        ChatNode.Person plain = node.signUp(ChatNode.uniqueName("plain"));
        HttpResponse<String> notAnAdmin = node.get("/api/v1/node", plain.accessToken());
        assertThat(notAnAdmin.statusCode()).isEqualTo(403);
        assertThat(ChatNode.json(notAnAdmin).get("detail").asText())
                .isEqualTo("This endpoint is for administrators; " + plain.username() + " is not one.");
        // neither an admin token nor a person's valid access token: 401 saying so, for every admin endpoint
        for (String wrong : List.of("wrongtoken", "sbat_made_up", plain.accessToken() + "x")) {
            HttpResponse<String> refused = node.get("/api/v1/node", wrong);
            assertThat(refused.statusCode()).as(wrong).isEqualTo(401);
            assertThat(refused.headers().firstValue("WWW-Authenticate"))
                    .hasValue("Bearer realm=\"switchboard\", error=\"invalid_token\"");
            assertThat(ChatNode.json(refused).get("detail").asText()).as(wrong)
                    .contains("admin token", "admin.token", "'switchboard admin token'",
                            "the access token of a person who is an admin");
        }
        assertThat(ChatNode.json(node.get("/api/v1/node", "wrongtoken")).get("detail").asText())
                .startsWith("The bearer token is neither an admin token nor a valid access token of a person");
        assertThat(ChatNode.json(node.get("/api/v1/node", "sbat_made_up")).get("detail").asText())
                .startsWith("The bearer token is not a valid admin token");

        HttpResponse<String> created = post("/api/v1/users", adminAccess,
                "{\"username\":\"" + ChatNode.uniqueName("made") + "\",\"password\":\"made by admin\"}");
        assertThat(created.statusCode()).isEqualTo(201);
        assertThat(post("/api/v1/users", plain.accessToken(), "{\"username\":\"x\"}").statusCode()).isEqualTo(403);
        String madeId = ChatNode.json(created).get("id").asText();
        assertThat(node.get("/api/v1/users/" + madeId, plain.accessToken()).statusCode()).isEqualTo(200);
        assertThat(node.call("DELETE", "/api/v1/users/" + madeId, node.adminToken(), null, Map.of()).statusCode()).isEqualTo(204);
        assertThat(node.get("/api/v1/users/" + madeId, plain.accessToken()).statusCode()).isEqualTo(404);
    }

    @Test
    void peopleFindEachOtherByUserName() throws Exception {
        String prefix = "zz" + ChatNode.uniqueName("").substring(0, 6);
        ChatNode.Person one = node.signUp(prefix + "one");
        node.signUp(prefix + "two");
        JsonNode found = ChatNode.json(node.get("/api/v1/users?username=" + prefix, one.accessToken()));
        assertThat(found.get("users")).extracting(u -> u.get("username").asText()).containsExactly(prefix + "one", prefix + "two");
        JsonNode paged = ChatNode.json(node.get("/api/v1/users?username=" + prefix + "&limit=1", one.accessToken()));
        assertThat(paged.get("nextAfter").asText()).isEqualTo(prefix + "one");
        assertThat(node.get("/api/v1/users?username=" + prefix, null).statusCode()).isEqualTo(401);
        assertThat(node.get("/api/v1/users?limit=999", one.accessToken()).statusCode()).isEqualTo(400);
    }

    @Test
    void theUserCommandManagesPeopleOfARunningNode() throws Exception {
        String name = ChatNode.uniqueName("cli");
        assertThat(cli("user", "add", name, "--password", "cli-password-1")).isZero();
        assertThat(post("/api/v1/auth/sign-in", null, credentials(name, "cli-password-1")).statusCode()).isEqualTo(200);
        assertThat(cli("user", "passwd", name, "--password", "cli-password-2")).isZero();
        assertThat(post("/api/v1/auth/sign-in", null, credentials(name, "cli-password-2")).statusCode()).isEqualTo(200);
        assertThat(cli("user", "add", name, "--password", "cli-password-1")).isEqualTo(2);
        assertThat(cli("user", "add", "x", "--password", "cli-password-1")).isEqualTo(2);
        assertThat(cli("user", "add", ChatNode.uniqueName("cli"), "--password", "short")).isEqualTo(2);
        // every line has the same columns: a display name reading "admin" is not taken for the role
        String operator = ChatNode.uniqueName("cli");
        assertThat(cli("user", "add", operator, "--password", "cli-password-3", "--admin", "--display-name", "Olga")).isZero();
        String posing = ChatNode.uniqueName("cli");
        assertThat(cli("user", "add", posing, "--password", "cli-password-4", "--display-name", "admin")).isZero();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertThat(Main.execute(cliEnv(), new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(new ByteArrayOutputStream()),
                "user", "list", "--data-dir", dataDir.toString())).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8).lines())
                .anySatisfy(line -> assertThat(line).matches(java.util.regex.Pattern.quote(name) + "\tperson\t-\t[0-9a-f-]{36}"))
                .anySatisfy(line -> assertThat(line).matches(java.util.regex.Pattern.quote(operator) + "\tadmin\tOlga\t[0-9a-f-]{36}"))
                .anySatisfy(line -> assertThat(line).matches(java.util.regex.Pattern.quote(posing) + "\tperson\tadmin\t[0-9a-f-]{36}"));
        assertThat(cli("user", "remove", name)).isZero();
        assertThat(cli("user", "remove", name)).isEqualTo(2);
        assertThat(post("/api/v1/auth/sign-in", null, credentials(name, "cli-password-2")).statusCode()).isEqualTo(401);
    }

    @Test
    void theUserCommandRefusesAMistypedDataDirAndShowsControlCharactersItQuotes(@TempDir Path elsewhere) {
        Path mistyped = elsewhere.resolve("typo");
        for (String[] command : new String[][] {{"user", "list"}, {"user", "unlock", "anna"}, {"user", "remove", "anna"}}) {
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            String[] args = java.util.stream.Stream.concat(java.util.Arrays.stream(command),
                    java.util.stream.Stream.of("--data-dir", mistyped.toString())).toArray(String[]::new);
            assertThat(Main.execute(cliEnv(), new PrintStream(new ByteArrayOutputStream()), new PrintStream(err), args))
                    .as(String.join(" ", command)).isEqualTo(2);
            assertThat(err.toString(StandardCharsets.UTF_8)).startsWith("switchboard: no store at ");
        }
        assertThat(mistyped.resolve("switchboard.db")).doesNotExist();

        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertThat(Main.execute(cliEnv(), new PrintStream(new ByteArrayOutputStream()), new PrintStream(err, true, StandardCharsets.UTF_8),
                "user", "add", "ivan\u001b[31m", "--password", "cli-password-1", "--data-dir", dataDir.toString())).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("ivan\\u001B[31m").doesNotContain("\u001b");
    }

    @Test
    void aReusedRefreshTokenEndsTheAccessTokensOfThatSignInAtOnce() throws Exception {
        ChatNode.Person lena = node.signUp(ChatNode.uniqueName("lena"));
        String password = "pass-" + lena.username() + "-123";
        JsonNode phone = ChatNode.json(post("/api/v1/auth/sign-in", null, credentials(lena.username(), password)));
        JsonNode refreshed = ChatNode.json(post("/api/v1/auth/refresh", null,
                "{\"refreshToken\":\"" + phone.get("refreshToken").asText() + "\"}"));
        String phoneAccess = phone.get("accessToken").asText();
        String refreshedAccess = refreshed.get("accessToken").asText();
        assertThat(node.get("/api/v1/me", phoneAccess).statusCode()).isEqualTo(200);
        assertThat(node.get("/api/v1/me", refreshedAccess).statusCode()).isEqualTo(200);
        assertThat(post("/api/v1/auth/refresh", null, "{\"refreshToken\":\"" + refreshed.get("refreshToken").asText()
                + "\"}").statusCode()).isEqualTo(200);

        // the first refresh token again, after its successor was used (so not the retry of a lost
        // answer, which within 30 s would not end the access tokens): a copy leaked (RFC 9700
        // §4.14.2); the sign-in ends, access tokens too
        assertThat(post("/api/v1/auth/refresh", null, "{\"refreshToken\":\"" + phone.get("refreshToken").asText() + "\"}")
                .statusCode()).isEqualTo(401);
        assertThat(node.get("/api/v1/me", phoneAccess).statusCode()).isEqualTo(401);
        assertThat(node.get("/api/v1/me", refreshedAccess).statusCode()).isEqualTo(401);
        assertThat(node.metric("switchboard_auth_refreshes_total{result=\"reused\"}")).isGreaterThanOrEqualTo(1);
        // other sign-ins of the person go on
        assertThat(node.get("/api/v1/me", lena.accessToken()).statusCode()).isEqualTo(200);

        // signing out ends that sign-in's access tokens as well
        assertThat(post("/api/v1/auth/sign-out", null, "{\"refreshToken\":\"" + lena.refreshToken() + "\"}").statusCode())
                .isEqualTo(204);
        assertThat(node.get("/api/v1/me", lena.accessToken()).statusCode()).isEqualTo(401);
        assertThat(post("/api/v1/auth/sign-in", null, credentials(lena.username(), password)).statusCode()).isEqualTo(200);
    }

    @Test
    void anAdminClearsASignInLockoutThroughTheApiAndTheCli() throws Exception {
        ChatNode.Person olga = node.signUp(ChatNode.uniqueName("olga"));
        String password = "pass-" + olga.username() + "-123";
        lockOut(olga.username());
        assertThat(post("/api/v1/auth/sign-in", null, credentials(olga.username(), password)).statusCode()).isEqualTo(429);

        String unlock = "/api/v1/users/" + olga.id() + "/unlock";
        assertThat(post(unlock, olga.accessToken(), null).statusCode()).isEqualTo(403);
        assertThat(post("/api/v1/users/no-such-id/unlock", node.adminToken(), null).statusCode()).isEqualTo(404);
        assertThat(post(unlock, node.adminToken(), null).statusCode()).isEqualTo(204);
        assertThat(post("/api/v1/auth/sign-in", null, credentials(olga.username(), password)).statusCode()).isEqualTo(200);
        assertThat(node.metric("switchboard_auth_unlocks_total{result=\"ok\"}")).isGreaterThanOrEqualTo(1);

        // the CLI acts on the store; the running node clears its counters when it sees the revision move
        lockOut(olga.username());
        assertThat(cli("user", "unlock", olga.username().toUpperCase())).isZero();
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(1))
                .pollInterval(java.time.Duration.ofMillis(50)).until(() ->
                        post("/api/v1/auth/sign-in", null, credentials(olga.username(), password)).statusCode() == 200);
        assertThat(cli("user", "unlock", ChatNode.uniqueName("nobody"))).isEqualTo(2);
    }

    /** Failed sign-ins until the per-user brake (3 here) holds even the right password back. */
    private static void lockOut(String username) throws Exception {
        for (int i = 0; i < 3; i++) {
            assertThat(post("/api/v1/auth/sign-in", null, credentials(username, "not the password")).statusCode())
                    .isEqualTo(401);
        }
    }

    private static int cli(String... args) {
        String[] all = java.util.stream.Stream.concat(java.util.Arrays.stream(args),
                java.util.stream.Stream.of("--data-dir", dataDir.toString())).toArray(String[]::new);
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        return Main.execute(cliEnv(), new PrintStream(sink), new PrintStream(sink), all);
    }

    private static Map<String, String> cliEnv() {
        return Map.of("SWITCHBOARD_AUTH_PASSWORD_HASH_MEMORY", "64", "SWITCHBOARD_AUTH_PASSWORD_HASH_ITERATIONS", "1");
    }
}
