package io.switchboard.server.telephony;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transport.Transport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Two nodes on one PostgreSQL store and one RabbitMQ exchange: an account or number changed
 * through one node's API is in force on the other within a second (announced on the bus), and
 * removing an account ends its registration and its ringing call on the node that holds them.
 * The store poll is slowed to an hour, so only the bus can make the other node see a change in time.
 */
class AccountClusterTest {
    static final String DOMAIN = "intercom.test";
    static final Duration WITHIN_A_SECOND = Duration.ofSeconds(1);
    @TempDir
    Path dirA;
    @TempDir
    Path dirB;
    @TempDir
    Path dirC;

    @Test
    void changesThroughOneNodeAreInForceOnTheOtherWithinASecond() throws Exception {
        String exchange = "sb_test_" + UUID.randomUUID().toString().substring(0, 12);
        try (PostgresTestDatabase database = PostgresTestDatabase.create()) {
            Map<String, String> cluster = new HashMap<>();
            cluster.putAll(Map.of("SWITCHBOARD_STORE_URL", database.settings().url(),
                    "SWITCHBOARD_STORE_USER", database.settings().user(),
                    "SWITCHBOARD_BUS_URL", "amqp://127.0.0.1:5672", "SWITCHBOARD_BUS_EXCHANGE", exchange,
                    "SWITCHBOARD_TELEPHONY_DIRECTORY_POLL", "1h"));
            try (TelephonyNode a = new TelephonyNode(dirA, Map.of(), cluster);
                 TelephonyNode b = new TelephonyNode(dirB, Map.of(), cluster)) {
                // the first node wrote the cluster's admin token; the second found one and wrote none
                Files.copy(dirA.resolve("admin.token"), dirB.resolve("admin.token"));
                // a third node given another domain (one left out defaults to the host's name) does not join
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> new TelephonyNode(dirC, Map.of("domain", "other.test"), cluster))
                        .isInstanceOf(io.switchboard.platform.config.ConfigException.class)
                        .hasMessageContaining("is other.test, but the cluster's live nodes serve " + DOMAIN);
                await().atMost(Duration.ofSeconds(20)).until(() ->
                        a.metric("switchboard_bus_connected") == 1 && b.metric("switchboard_bus_connected") == 1);
                try (SipPhone carol = SipPhone.udp("carol", DOMAIN, b.sipPort(Transport.UDP));
                     SipPhone frank = SipPhone.udp("frank", DOMAIN, b.sipPort(Transport.UDP))) {
                    double heardBefore = b.metric("switchboard_bus_received_total");
                    created(a.api("POST", "/api/v1/accounts", "{\"username\":\"carol\",\"password\":\"secret-carol\"}"));
                    created(a.api("POST", "/api/v1/accounts", "{\"username\":\"frank\",\"password\":\"secret-frank\"}"));
                    await().atMost(WITHIN_A_SECOND).pollInterval(Duration.ofMillis(20)).until(() ->
                            b.telephony.accounts().lookup("frank", DOMAIN).isPresent());
                    assertThat(b.metric("switchboard_bus_received_total")).isGreaterThan(heardBefore);
                    assertThat(frank.register(600, "secret-frank").status()).isEqualTo(200);
                    assertThat(carol.register(600, "secret-carol").status()).isEqualTo(200);

                    created(a.api("PUT", "/api/v1/numbers/42", "{\"accounts\":[\"frank\",\"carol\"]}"));
                    await().atMost(WITHIN_A_SECOND).pollInterval(Duration.ofMillis(20)).until(() ->
                            b.telephony.numbers().lookup("42", DOMAIN).isPresent());

                    // carol calls frank through node B; frank's phone rings
                    SipPhone.Call ringing = AccountChangesTest.authenticatedCall(carol, "sip:frank@" + DOMAIN);
                    SipPhone.Incoming atFrank = frank.awaitInvite();
                    atFrank.respond(180, "Ringing");
                    ringing.await(180);

                    // frank is removed through node A: node B ends his registration and his ringing call
                    assertThat(a.api("DELETE", "/api/v1/accounts/frank", null).statusCode()).isEqualTo(204);
                    await().atMost(WITHIN_A_SECOND).pollInterval(Duration.ofMillis(20)).until(() ->
                            b.telephony.location().lookup("sip:frank@" + DOMAIN, System.currentTimeMillis()).isEmpty()
                                    && b.telephony.numbers().lookup("42", DOMAIN).orElseThrow().members().equals(
                                    java.util.List.of("carol")));
                    SipRequest cancel = frank.awaitRequest("CANCEL", WITHIN_A_SECOND);
                    atFrank.acceptCancel(cancel);
                    SipResponse ended = ringing.awaitFinal();
                    assertThat(ended.status()).isEqualTo(480);
                    ringing.ackFailure(ended);
                    assertThat(b.json(b.api("GET", "/api/v1/registrations", null)).toString())
                            .doesNotContain("sip:frank@").contains("sip:carol@");
                    assertThat(frank.register(600, "secret-frank").status()).isEqualTo(403);
                }
            } finally {
                deleteExchange(exchange);
            }
        }
    }

    private static void created(HttpResponse<String> response) {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(201);
    }

    private static void deleteExchange(String exchange) throws Exception {
        ConnectionFactory factory = new ConnectionFactory();
        factory.setHost("127.0.0.1");
        factory.setPort(5672);
        try (Connection c = factory.newConnection(); Channel ch = c.createChannel()) {
            ch.exchangeDelete(exchange);
        }
    }
}
