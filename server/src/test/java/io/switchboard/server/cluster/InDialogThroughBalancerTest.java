package io.switchboard.server.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.server.clients.Baresip;
import io.switchboard.sip.message.NameAddress;
import io.switchboard.sip.message.SipUri;
import io.switchboard.sip.message.Via;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Phones behind HAProxy over TCP that send their in-dialog requests on a new connection, as
 * baresip does, rather than on the one they registered over. A new connection to the balancer may
 * reach any node, not the one that Record-Routed the call (which holds the call's flows and its
 * record): the Route entries towards such phones name the balancer, not a node's own address (which
 * a phone may not reach, and which takes no connection without a PROXY header from where the
 * balancer is), and carry the recording node's id, so whichever node the request reaches sends it
 * on to that node. Two nodes, the project's {@code dist/haproxy.cfg} ({@link ClusterUnderTest}).
 */
class InDialogThroughBalancerTest {
    static final int PORT_BASE = 23160;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void inDialogRequestsOnNewConnectionsReachTheNodeThatRecordedTheCall() throws Exception {
        ClusterUnderTest.HAPROXY.assumeAvailable();
        try (ClusterUnderTest cluster = new ClusterUnderTest(dir, 2, PORT_BASE, Map.of(), ClusterFailoverTest.NODE_JVM);
             SipLoad sip = new SipLoad(cluster.sipFrontendPort(), 3)) {
            cluster.start(Duration.ofSeconds(120));
            sip.register(Duration.ofSeconds(30));
            Map<Integer, String> nodeBySipPort = new HashMap<>();
            Map<String, InetSocketAddress> nodeAddress = new HashMap<>();
            for (NodeProcess node : cluster.nodes()) {
                String id = Files.readString(node.dataDir().resolve("node-id")).strip();
                nodeBySipPort.put(node.sipPort, id);
                nodeAddress.put(id, new InetSocketAddress(InetAddress.getLoopbackAddress(), node.sipPort));
            }

            // three phones on two nodes: some calls stay on one node (one Route entry, naming the
            // balancer), others cross (each node's entries: towards its phone the balancer, towards
            // the other node its own address)
            List<String> failures = new ArrayList<>();
            int sameNode = 0;
            int crossNode = 0;
            int k = 0;
            for (ClusterPhone caller : sip.phones()) {
                for (ClusterPhone callee : sip.phones()) {
                    if (caller == callee) {
                        continue;
                    }
                    ClusterPhone.CallResult call = caller.call(callee, Duration.ofSeconds(8));
                    assertThat(call.status()).as("%s calls %s%s", caller, callee, "\n" + cluster.logTails(20)).isEqualTo(200);
                    ClusterPhone.Dialog callerSide = call.dialog();
                    ClusterPhone.Dialog calleeSide = callee.answeredDialogs.get(callerSide.callId);
                    assertThat(calleeSide).isNotNull();
                    // the entries each phone sends to first name the balancer, the address it knows
                    assertThat(port(callerSide.routeSet.getFirst())).as("caller's first Route %s", callerSide.routeSet)
                            .isEqualTo(cluster.sipFrontendPort());
                    assertThat(port(calleeSide.routeSet.getFirst())).as("callee's first Route %s", calleeSide.routeSet)
                            .isEqualTo(cluster.sipFrontendPort());
                    if (callerSide.routeSet.size() == 1) {
                        sameNode++;
                    } else {
                        crossNode++;
                    }
                    String recorder = awaitRecord(cluster, callerSide.callId, false).path("node").asText();
                    String call_ = caller + " -> " + callee + " (recorded by " + recorder + ", " + callerSide.routeSet.size()
                            + " Route entries)";

                    for (ClusterPhone.Dialog side : List.of(callerSide, calleeSide)) {
                        String from = side == callerSide ? "caller" : "callee";
                        ClusterPhone other = side == callerSide ? callee : caller;
                        // through HAProxy, to whichever node it picks
                        int status = side.requestOnNewConnection("INFO", Duration.ofSeconds(8));
                        if (status != 200) {
                            failures.add("INFO from the " + from + " of " + call_ + " through the balancer: " + status);
                        }
                        // and into each node in turn, as HAProxy would hand the connection over
                        for (Map.Entry<String, InetSocketAddress> node : nodeAddress.entrySet()) {
                            int before = other.inDialogVias.size();
                            status = side.requestOnNewConnection("INFO", Duration.ofSeconds(8), node.getValue());
                            if (status != 200) {
                                failures.add("INFO from the " + from + " of " + call_ + " into " + node.getKey() + ": " + status);
                            } else {
                                assertThat(entryNode(other.inDialogVias.get(before), nodeBySipPort)).isEqualTo(node.getKey());
                            }
                        }
                    }

                    // the hang-up reaches the node that did not record the call: it must send it on
                    // to the recorder (which ends the record), not take the entry naming the
                    // balancer for its own
                    ClusterPhone.Dialog hangingUp = k++ % 2 == 0 ? callerSide : calleeSide;
                    String elsewhere = nodeAddress.keySet().stream().filter(id -> !id.equals(recorder)).findFirst().orElseThrow();
                    int bye = hangingUp.requestOnNewConnection("BYE", Duration.ofSeconds(8), nodeAddress.get(elsewhere));
                    if (bye != 200) {
                        failures.add("BYE from the " + (hangingUp == callerSide ? "caller" : "callee") + " of " + call_
                                + " into " + elsewhere + ": " + bye);
                        continue;
                    }
                    JsonNode record = awaitRecord(cluster, callerSide.callId, true);
                    assertThat(record.path("status").asText()).as("record of %s: %s", call_, record).isEqualTo("completed");
                    assertThat(record.path("endedBy").asText()).as("record of %s", call_)
                            .isEqualTo(hangingUp == callerSide ? "caller" : "callee");
                }
            }
            assertThat(failures).as("in-dialog requests on new connections\n" + cluster.logTails(30)).isEmpty();
            assertThat(sameNode).as("calls between phones on one node").isPositive();
            assertThat(crossNode).as("calls between phones on different nodes").isPositive();
        }
    }

    /**
     * Real phones: two baresips over TCP through HAProxy call each other, and each hangs up once.
     * baresip sends its BYE on a new connection to the address of the first Route entry; the other
     * baresip must see the call closed, and the node that recorded it must end its record.
     */
    @Test
    void baresipBehindTheBalancerHangsUpEitherWay() throws Exception {
        ClusterUnderTest.HAPROXY.assumeAvailable();
        Baresip.BINARY.assumeAvailable();
        try (ClusterUnderTest cluster = new ClusterUnderTest(dir, 2, PORT_BASE, Map.of(), ClusterFailoverTest.NODE_JVM)) {
            cluster.start(Duration.ofSeconds(120));
            InetSocketAddress balancer = new InetSocketAddress("127.0.0.1", cluster.sipFrontendPort());
            String domain = ClusterUnderTest.DOMAIN;
            Duration step = Duration.ofSeconds(10);
            try (Baresip first = Baresip.start(dir.resolve("first"), "bare-first", "unused", domain, balancer,
                    Baresip.Transport.TCP, true);
                 Baresip second = Baresip.start(dir.resolve("second"), "bare-second", "unused", domain, balancer,
                         Baresip.Transport.TCP, true)) {
                first.awaitRegistered(step);
                second.awaitRegistered(step);
                String context = "\n" + first.describe() + "\n" + second.describe();

                // first calls second and hangs up (the caller), then second calls first, who hangs up (the callee)
                for (Baresip[] call : List.of(new Baresip[] {first, second}, new Baresip[] {second, first})) {
                    Baresip caller = call[0];
                    Baresip callee = call[1];
                    caller.dial("sip:" + callee.user() + "@" + domain);
                    caller.awaitEvent("CALL_ESTABLISHED", step);
                    callee.awaitEvent("CALL_ESTABLISHED", step);
                    Baresip hangingUp = first;
                    Baresip other = hangingUp == caller ? callee : caller;
                    hangingUp.hangup();
                    hangingUp.awaitEvent("CALL_CLOSED", step);
                    assertThat(other.awaitEvent("CALL_CLOSED", step)).as("%s sees %s's BYE%s", other.user(), hangingUp.user(),
                            context).isNotNull();
                }

                List<JsonNode> records = awaitRecords(cluster, 2);
                for (JsonNode record : records) {
                    assertThat(record.path("status").asText()).as("%s%s", record, context).isEqualTo("completed");
                }
                assertThat(records).extracting(r -> r.path("endedBy").asText()).containsExactlyInAnyOrder("caller", "callee");
            }
        }
    }

    /**
     * linphonec over TCP through HAProxy, called: it answers a request that came over its own
     * connection on a connection it looks up by the top Via's address, and opens a new one when
     * that names no address it is connected to. A Via naming the node's own address sent its 180
     * and 200 through the balancer to whichever node took the new connection, which had no
     * transaction for them: the caller never heard it ring. Two calls, so that the callee's
     * node is the caller's in one and not in the other as leastconn spreads the phones.
     */
    @Test
    void linphonecBehindTheBalancerIsCalledAndHangsUp() throws Exception {
        ClusterUnderTest.HAPROXY.assumeAvailable();
        Baresip.BINARY.assumeAvailable();
        io.switchboard.server.clients.Linphonec.BINARY.assumeAvailable();
        try (ClusterUnderTest cluster = new ClusterUnderTest(dir, 2, PORT_BASE, Map.of(), ClusterFailoverTest.NODE_JVM)) {
            cluster.giveEachNodeItsOwnAddress();
            cluster.start(Duration.ofSeconds(120));
            InetSocketAddress balancer = new InetSocketAddress("127.0.0.1", cluster.sipFrontendPort());
            String domain = ClusterUnderTest.DOMAIN;
            Duration step = Duration.ofSeconds(10);
            try (var linphonec = io.switchboard.server.clients.Linphonec.start(dir.resolve("linphonec"), "lin-callee",
                    "unused-secret", domain, balancer, io.switchboard.server.clients.Linphonec.Transport.TCP, true);
                 Baresip first = Baresip.start(dir.resolve("first"), "bare-first", "unused", domain, balancer,
                         Baresip.Transport.TCP, false);
                 Baresip second = Baresip.start(dir.resolve("second"), "bare-second", "unused", domain, balancer,
                         Baresip.Transport.TCP, false)) {
                try {
                    linphonec.awaitRegistered(step);
                    first.awaitRegistered(step);
                    second.awaitRegistered(step);
                } catch (AssertionError e) {
                    throw new AssertionError(e.getMessage() + "\n" + cluster.logTails(40), e);
                }
                for (Baresip caller : List.of(first, second)) {
                    String context = "\n" + linphonec.describe() + "\n" + caller.describe() + "\n" + cluster.logTails(30);
                    int mark = linphonec.mark();
                    caller.dial("sip:lin-callee@" + domain);
                    assertThat(caller.awaitEvent("CALL_ESTABLISHED", step)).as("%s reaches linphonec%s", caller.user(), context)
                            .isNotNull();
                    linphonec.awaitLine(java.util.regex.Pattern.compile("Call \\d+ with sip:" + caller.user() + "@\\S+ connected"),
                            mark, step);
                    linphonec.terminate();
                    assertThat(caller.awaitEvent("CALL_CLOSED", step)).as("%s sees linphonec's BYE%s", caller.user(), context)
                            .isNotNull();
                }
                List<JsonNode> records = awaitRecords(cluster, 2);
                assertThat(records).extracting(r -> r.path("status").asText()).containsOnly("completed");
            }
        }
    }

    /** The newest {@code count} call records once all have ended (any node answers: the store is shared). */
    private static List<JsonNode> awaitRecords(ClusterUnderTest cluster, int count) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        String token = cluster.adminToken();
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        List<JsonNode> last = List.of();
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(cluster.baseUrl() + "/api/v1/call-records?limit=" + count))
                            .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() == 200) {
                List<JsonNode> records = new ArrayList<>();
                JSON.readTree(r.body()).path("records").forEach(records::add);
                last = records;
                if (records.size() == count && records.stream().noneMatch(x -> x.path("endedAt").isNull())) {
                    return records;
                }
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the last " + count + " call records did not all end within 10 s: " + last + "\n"
                + cluster.logTails(40));
    }

    /** The port of a Route entry's URI. */
    private static int port(String route) {
        SipUri uri = NameAddress.parse(route).uri();
        return uri.port();
    }

    /**
     * The node a request entered the cluster through: the Via just above the phone's own (the
     * bottom one), named by its sent-by port, which is that node's SIP port.
     */
    private static String entryNode(List<String> vias, Map<Integer, String> nodeBySipPort) {
        assertThat(vias).as("Vias of a request through the cluster").hasSizeGreaterThanOrEqualTo(2);
        Via entry = Via.parse(vias.get(vias.size() - 2));
        // towards a phone behind the balancer a node's Via names the balancer, and the node by its id
        String node = entry.param("nid") != null ? entry.param("nid") : nodeBySipPort.get(entry.port());
        assertThat(node).as("node at Via %s", entry).isNotNull();
        return node;
    }

    /** The call's record, once it exists ({@code ended}: once it is no longer open; the store is shared: any node answers). */
    private static JsonNode awaitRecord(ClusterUnderTest cluster, String callId, boolean ended) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        String token = cluster.adminToken();
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        JsonNode last = null;
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(cluster.baseUrl() + "/api/v1/call-records?limit=50"))
                    .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() == 200) {
                for (JsonNode record : JSON.readTree(r.body()).path("records")) {
                    if (record.path("callId").asText().equals(callId)) {
                        last = record;
                    }
                }
                if (last != null && (!ended || !last.path("endedAt").isNull())) {
                    return last;
                }
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the record of call " + callId + (ended ? " did not end" : " did not appear")
                + " within 10 s: " + last + "\n" + cluster.logTails(40));
    }
}
