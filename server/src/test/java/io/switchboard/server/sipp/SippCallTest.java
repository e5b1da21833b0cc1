package io.switchboard.server.sipp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.platform.config.NodeConfig;
import io.switchboard.platform.lifecycle.Node;
import io.switchboard.server.node.NodeAssembly;
import io.switchboard.server.telephony.CallMeters;
import io.switchboard.sip.transport.ListenPoint;
import io.switchboard.telephony.Telephony;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Real SIP peers through the proxy: SIPp UAC → node → SIPp UAS with Record-Route; a number that
 * forks to three SIPp UAS where one answers and the other two are cancelled; a number whose
 * devices are all busy; a caller that cancels while it rings; a device that hangs up. Every call
 * is checked in its call record and in the call meters (as differences, read before and after).
 */
class SippCallTest {
    static final HttpClient HTTP = HttpClient.newHttpClient();
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    Path dir;
    Node node;
    Telephony telephony = new Telephony();
    int sipPort;
    final List<Sipp.Running> running = new ArrayList<>();

    @BeforeEach
    void start() {
        Sipp.assumeAvailable();
        NodeConfig config = NodeAssembly.configLoader().load(null, Map.of("SWITCHBOARD_TELEPHONY_AUTH", "false"),
                Map.of("dataDir", dir.toString(), "http", "127.0.0.1:0", "sip", "udp:127.0.0.1:0", "domain", "intercom.test"));
        node = NodeAssembly.create(config, List.of(telephony));
        node.start();
        sipPort = telephony.listenPoints().stream().map(ListenPoint::port).findFirst().orElseThrow();
    }

    @AfterEach
    void stop() {
        running.forEach(r -> r.stop(Duration.ofSeconds(2)));
        if (node != null) {
            node.stop();
        }
    }

    HttpResponse<String> api(String method, String path, String body) throws Exception {
        String token = Files.readString(dir.resolve("admin.token")).strip();
        return HTTP.send(HttpRequest.newBuilder(URI.create(node.http().baseUrl() + path))
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Registers {@code user} at a free port (the kit's reg_uas.xml) and starts a UAS scenario there. */
    Sipp.Running device(String user, String scenario) {
        int port = Sipp.freePort();
        Sipp.Result registered = Sipp.scenario("reg_uas.xml").remote("127.0.0.1", sipPort).localPort(port)
                .service(user).calls(1).run();
        assertThat(registered.succeeded()).as(registered.describe()).isTrue();
        Sipp.Running uas = Sipp.scenario(scenario).localPort(port).calls(1)
                .args("-default_behaviors", "all,-abortunexp").start();
        running.add(uas);
        return uas;
    }

    JsonNode lastRecord() throws Exception {
        return JSON.readTree(api("GET", "/api/v1/call-records?limit=1", null).body()).path("records").get(0);
    }

    CallMeters meters() {
        return CallMeters.read(node.http().baseUrl());
    }

    void addAccounts(String... users) throws Exception {
        for (String user : users) {
            assertThat(api("POST", "/api/v1/accounts", "{\"username\":\"" + user + "\",\"password\":\"pass-" + user + "\"}")
                    .statusCode()).isEqualTo(201);
        }
    }

    void addNumber(String number, String... members) throws Exception {
        assertThat(api("PUT", "/api/v1/numbers/" + number, "{\"accounts\":[\"" + String.join("\",\"", members) + "\"]}")
                .statusCode()).isIn(200, 201);
        await().atMost(Duration.ofSeconds(2)).until(() -> telephony.numbers().lookup(number, "intercom.test").isPresent());
    }

    @Test
    void aSippCallerReachesASippDeviceThroughTheProxy() throws Exception {
        Sipp.Running uas = device("service", "uas_rr.xml");
        Sipp.Result uac = Sipp.scenario("uac_rr.xml").remote("127.0.0.1", sipPort).service("service").calls(1)
                .args("-default_behaviors", "all,-abortunexp").run();
        assertThat(uac.succeeded()).as(uac.describe()).isTrue();
        assertThat(uac.failedCalls()).isZero();
        Sipp.Result callee = uas.await();
        assertThat(callee.succeeded()).as(callee.describe()).isTrue();
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() -> {
            JsonNode record = lastRecord();
            assertThat(record.path("status").asText()).isEqualTo("completed");
            assertThat(record.path("endedBy").asText()).isEqualTo("caller");
        });
    }

    @Test
    void aNumberForksToThreeDevicesOneAnswersTheOthersAreCancelled() throws Exception {
        addAccounts("flat1", "flat2", "flat3");
        addNumber("42", "flat1", "flat2", "flat3");
        Sipp.Running answering = device("flat1", "uas_ring_answer.xml");
        Sipp.Running cancelled2 = device("flat2", "uas_ring_cancel.xml");
        Sipp.Running cancelled3 = device("flat3", "uas_ring_cancel.xml");
        CallMeters before = meters();

        // -d 500: half a second of talk between the ACK and the BYE, so the BYE (a transaction of its own)
        // cannot overtake the ACK on its way through the node; the answering device requires the ACK
        Sipp.Result uac = Sipp.scenario("uac_rr.xml").remote("127.0.0.1", sipPort).service("42").calls(1)
                .args("-default_behaviors", "all,-abortunexp", "-d", "500").run();
        assertThat(uac.succeeded()).as(uac.describe()).isTrue();
        for (Sipp.Running device : List.of(answering, cancelled2, cancelled3)) {
            Sipp.Result r = device.await();
            assertThat(r.succeeded()).as(r.describe()).isTrue();
        }
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() -> {
            JsonNode record = lastRecord();
            assertThat(record.path("status").asText()).isEqualTo("completed");
            assertThat(record.path("dialed").asText()).isEqualTo("42");
            assertThat(record.path("devicesRung").size()).isEqualTo(3);
            assertThat(record.path("answeredBy").asText()).contains("flat1");
        });
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            CallMeters after = meters();
            after.assertOneCompletedCallSince(before);
            assertThat(after.active()).isZero();
        });
    }

    @Test
    void everyDeviceBusyGivesTheSippCallerBusy() throws Exception {
        addAccounts("busy1", "busy2");
        addNumber("7", "busy1", "busy2");
        Sipp.Running first = device("busy1", "uas_busy.xml");
        Sipp.Running second = device("busy2", "uas_busy.xml");
        CallMeters before = meters();

        Sipp.Result uac = Sipp.scenario("uac_busy.xml").remote("127.0.0.1", sipPort).service("7").calls(1)
                .args("-default_behaviors", "all,-abortunexp").run();
        assertThat(uac.succeeded()).as(uac.describe()).isTrue();
        for (Sipp.Running device : List.of(first, second)) {
            Sipp.Result r = device.await(); // each got the node's ACK for its 486
            assertThat(r.succeeded()).as(r.describe()).isTrue();
        }
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() -> {
            JsonNode record = lastRecord();
            assertThat(record.path("status").asText()).isEqualTo("busy");
            assertThat(record.path("finalCode").asInt()).isEqualTo(486);
            assertThat(record.path("devicesRung").size()).isEqualTo(2);
            assertThat(record.path("answeredBy").isNull()).isTrue();
        });
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            CallMeters after = meters();
            after.assertOneFailedCallSince(before, "busy", false); // nothing rang: no setup time
            assertThat(after.active()).isZero();
        });
    }

    @Test
    void aSippCallerCancelsWhileTheDeviceRings() throws Exception {
        Sipp.Running ringing = device("hallway", "uas_ring_cancel.xml");
        CallMeters before = meters();

        Sipp.Result uac = Sipp.scenario("uac_cancel.xml").remote("127.0.0.1", sipPort).service("hallway").calls(1)
                .args("-default_behaviors", "all,-abortunexp").run();
        assertThat(uac.succeeded()).as(uac.describe()).isTrue(); // 200 for its CANCEL, then 487
        Sipp.Result device = ringing.await(); // got the CANCEL, answered 487, got the ACK
        assertThat(device.succeeded()).as(device.describe()).isTrue();
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() -> {
            JsonNode record = lastRecord();
            assertThat(record.path("status").asText()).isEqualTo("cancelled");
            assertThat(record.path("finalCode").asInt()).isEqualTo(487);
        });
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            CallMeters after = meters();
            after.assertOneFailedCallSince(before, "cancelled", true);
            assertThat(after.active()).isZero();
        });
    }

    @Test
    void aSippDeviceHangsUpThroughTheRecordRoute() throws Exception {
        Sipp.Running hangingUp = device("kitchen", "uas_answer_bye.xml");
        CallMeters before = meters();

        Sipp.Result uac = Sipp.scenario("uac_callee_hangs_up.xml").remote("127.0.0.1", sipPort).service("kitchen")
                .calls(1).args("-default_behaviors", "all,-abortunexp").run();
        assertThat(uac.succeeded()).as(uac.describe()).isTrue(); // the device's BYE reached it
        Sipp.Result device = hangingUp.await(); // and the caller's 200 came back along the route
        assertThat(device.succeeded()).as(device.describe()).isTrue();
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() -> {
            JsonNode record = lastRecord();
            assertThat(record.path("status").asText()).isEqualTo("completed");
            assertThat(record.path("endedBy").asText()).isEqualTo("callee");
            assertThat(record.path("answeredBy").asText()).contains(Integer.toString(device.localPort()));
        });
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            CallMeters after = meters();
            after.assertOneCompletedCallSince(before);
            assertThat(after.active()).isZero();
        });
    }
}
