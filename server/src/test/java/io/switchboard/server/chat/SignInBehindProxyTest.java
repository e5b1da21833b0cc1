package io.switchboard.server.chat;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sign-in brakes behind a reverse proxy ({@code proxies.trusted}): with loopback trusted, each
 * client named by X-Forwarded-For has brakes of its own; without it, a forged header changes
 * nothing and every request counts for the TCP peer.
 */
class SignInBehindProxyTest {
    private static final Map<String, String> STRICT = Map.of("SWITCHBOARD_AUTH_SIGN_IN_FAILURES_PER_ADDRESS", "3",
            "SWITCHBOARD_AUTH_SIGN_IN_FAILURES_PER_USER", "3");

    private static String credentials(String username, String password) {
        return "{\"username\":\"" + username + "\",\"password\":\"" + password + "\"}";
    }

    private static int signIn(ChatNode node, String username, String password, String forwardedFor) throws Exception {
        Map<String, String> headers = forwardedFor == null ? Map.of() : Map.of("X-Forwarded-For", forwardedFor);
        HttpResponse<String> response = node.call("POST", "/api/v1/auth/sign-in", null, credentials(username, password), headers);
        return response.statusCode();
    }

    private static Map<String, String> trusting(String proxies) {
        Map<String, String> env = new java.util.HashMap<>(STRICT);
        env.put("SWITCHBOARD_PROXIES_TRUSTED", proxies);
        return env;
    }

    @Test
    void fromATrustedProxyEachForwardedClientHasItsOwnBrakes(@TempDir Path dir) throws Exception {
        try (ChatNode node = new ChatNode(dir, trusting("127.0.0.1, ::1"))) {
            ChatNode.Person olga = node.signUp(ChatNode.uniqueName("olga"));
            String password = "pass-" + olga.username() + "-123";
            // wrong passwords from one client lock the name for that client only
            for (int i = 0; i < 3; i++) {
                assertThat(signIn(node, olga.username(), "wrong-" + i, "203.0.113.5, 198.51.100.1")).isEqualTo(401);
            }
            assertThat(signIn(node, olga.username(), password, "198.51.100.1")).isEqualTo(429);
            assertThat(signIn(node, olga.username(), password, "198.51.100.2")).isEqualTo(200);
            assertThat(signIn(node, olga.username(), password, null)).as("the proxy's own address").isEqualTo(200);

            // the per-address brake, for an IPv6 client, whatever the name
            for (int i = 0; i < 3; i++) {
                assertThat(signIn(node, ChatNode.uniqueName("guess"), "guess-" + i, "2001:db8::5")).isEqualTo(401);
            }
            assertThat(signIn(node, olga.username(), password, "[2001:db8::5]:4711")).isEqualTo(429);
            assertThat(signIn(node, olga.username(), password, "2001:db8::6")).isEqualTo(200);
        }
    }

    @Test
    void aMalformedHeaderCountsForThePeer(@TempDir Path dir) throws Exception {
        try (ChatNode node = new ChatNode(dir, trusting("127.0.0.1, ::1"))) {
            ChatNode.Person ivan = node.signUp(ChatNode.uniqueName("ivan"));
            for (String garbage : new String[]{"unknown", "example.test", "300.1.2.3"}) {
                assertThat(signIn(node, ChatNode.uniqueName("guess"), "guess-1", garbage)).isEqualTo(401);
            }
            assertThat(signIn(node, ivan.username(), "pass-" + ivan.username() + "-123", null)).isEqualTo(429);
            assertThat(signIn(node, ivan.username(), "pass-" + ivan.username() + "-123", "198.51.100.9")).isEqualTo(200);
        }
    }

    @Test
    void fromAnUntrustedPeerAForgedHeaderIsIgnored(@TempDir Path dir) throws Exception {
        // the proxies trusted are elsewhere: loopback is an ordinary client here
        try (ChatNode node = new ChatNode(dir, trusting("10.99.0.0/16"))) {
            ChatNode.Person mila = node.signUp(ChatNode.uniqueName("mila"));
            for (int i = 0; i < 3; i++) {
                assertThat(signIn(node, ChatNode.uniqueName("guess"), "guess-" + i, "198.51.100." + (10 + i))).isEqualTo(401);
            }
            assertThat(signIn(node, mila.username(), "pass-" + mila.username() + "-123", "198.51.100.99")).isEqualTo(429);
        }
        try (ChatNode node = new ChatNode(dir.resolve("default"), STRICT)) {
            ChatNode.Person mila = node.signUp(ChatNode.uniqueName("mila"));
            for (int i = 0; i < 3; i++) {
                assertThat(signIn(node, mila.username(), "wrong-" + i, "198.51.100." + (20 + i))).isEqualTo(401);
            }
            assertThat(signIn(node, mila.username(), "pass-" + mila.username() + "-123", "198.51.100.99")).isEqualTo(429);
        }
    }
}
