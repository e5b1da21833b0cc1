package io.switchboard.server.telephony;

import io.switchboard.server.sipp.Sipp;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.transport.Transport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** A browser-style client on the WebSocket registers and a UDP SIPp caller reaches it through the node. */
class SippWebSocketCallTest {
    @TempDir
    Path dir;
    TelephonyNode node;

    @BeforeEach
    void start() {
        Sipp.assumeAvailable();
        node = new TelephonyNode(dir, Map.of(), Map.of("SWITCHBOARD_TELEPHONY_AUTH", "false"));
    }

    @AfterEach
    void stop() {
        if (node != null) {
            node.close();
        }
    }

    @Test
    void aSippCallerReachesABrowser() throws Exception {
        try (SipPhone browser = SipPhone.webSocket("web", "intercom.test", node.node.http().baseUrl())) {
            assertThat(browser.register(600).status()).isEqualTo(200);
            CallMeters before = CallMeters.read(node.node.http().baseUrl());
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread answering = Thread.ofVirtual().start(() -> {
                try {
                    SipPhone.Incoming call = browser.awaitInvite();
                    call.respond(180, "Ringing");
                    call.answer();
                    browser.awaitRequest("ACK", Duration.ofSeconds(10));
                    SipRequest bye = browser.awaitRequest("BYE", Duration.ofSeconds(10));
                    call.respondTo(bye, 200);
                } catch (Throwable e) {
                    failure.set(e);
                }
            });
            Sipp.Result uac = Sipp.scenario("uac_rr.xml").remote("127.0.0.1", node.sipPort(Transport.UDP))
                    .service("web").calls(1).args("-default_behaviors", "all,-abortunexp").run();
            answering.join(Duration.ofSeconds(15));
            assertThat(failure.get()).isNull();
            assertThat(uac.succeeded()).as(uac.describe()).isTrue();
            await().atMost(Duration.ofSeconds(3)).untilAsserted(() -> {
                var record = node.json(node.api("GET", "/api/v1/call-records?limit=1", null)).path("records").get(0);
                assertThat(record.path("status").asText()).isEqualTo("completed");
                assertThat(record.path("answeredBy").asText()).contains("transport=ws");
                assertThat(record.path("endedBy").asText()).isEqualTo("caller");
            });
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                CallMeters after = CallMeters.read(node.node.http().baseUrl());
                after.assertOneCompletedCallSince(before);
                assertThat(after.active()).isZero();
            });
        }
    }
}
