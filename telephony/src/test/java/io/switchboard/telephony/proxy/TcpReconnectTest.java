package io.switchboard.telephony.proxy;

import io.switchboard.platform.config.ConfigSection;
import io.switchboard.platform.tls.TlsClientSettings;
import io.switchboard.sip.codec.SipParser;
import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transport.SipFlow;
import io.switchboard.sip.transport.TransportFailure;
import io.switchboard.sip.transport.TransportSettings;
import io.switchboard.telephony.proxy.ProxyNode.Peer;
import io.switchboard.telephony.registrar.Binding;
import io.switchboard.telephony.sip.SipTlsClientContexts;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.StandardSocketOptions;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A device registered over TCP whose connection is gone (the node restarted, its network dropped
 * it) and whose Contact asks for TCP ({@code ;transport=tcp}) is reached over a new connection the
 * node opens (RFC 3261 §18.1.1), as one registered over TLS is ({@code OutboundTlsTest}): to its
 * Contact's address and port, only when that address is the one it registered from, not when it
 * registered with reg-id (RFC 5626 §5.3), not for a Contact without transport=tcp (UDP). Never
 * over a connection someone else opened to the node from that address and port. The new
 * connection carries the dialog's in-dialog requests and later calls. One that cannot be opened
 * leaves the device unreachable, as one without a flow: 480 when it was the only one, recorded
 * "unavailable"; a refused connect fails at once, a silent address within the connect timeout, a
 * failed address is not dialled again for a while, and connects under way are capped.
 */
class TcpReconnectTest {
    @TempDir
    Path dir;
    ProxyNode node;
    final List<AutoCloseable> closing = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        node = new ProxyNode(dir, Duration.ofSeconds(5));
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
        node.close();
    }

    private <T extends AutoCloseable> T closed(T thing) {
        closing.add(thing);
        return thing;
    }

    /** bob's registration over TCP from 127.0.0.1 with this Contact, over a connection that is gone. */
    private Binding bindTcp(String contact, String headerParams) {
        return bind(contact, headerParams, "TCP");
    }

    private Binding bind(String contact, String headerParams, String transport) {
        return bind(contact, headerParams, transport, node.startedAtMillis - 60_000);
    }

    /** bob's registration, last refreshed at {@code version} (before the node started: from before a restart). */
    private Binding bind(String contact, String headerParams, String transport, long version) {
        long now = node.clock.millis();
        Binding binding = new Binding(ProxyNode.BOB, contact, "<" + contact + ">" + headerParams,
                "reg-" + UUID.randomUUID(), 1, 1000, now + 600_000, version, transport, "127.0.0.1", 40_000, null, 0,
                transport.toLowerCase(Locale.ROOT) + ":" + UUID.randomUUID(), "test", null, 0, null, null, version);
        node.location.update(ProxyNode.BOB, bindings -> {
            List<Binding> after = new ArrayList<>(bindings);
            after.add(binding);
            return after;
        });
        return binding;
    }

    @Test
    void aTcpDeviceWhoseConnectionIsGoneGetsTheCallOverANewConnectionThatCarriesTheDialogAndLaterCalls()
            throws Exception {
        TcpDevice phone = closed(new TcpDevice(InetAddress.getLoopbackAddress()));
        bindTcp("sip:bob@127.0.0.1:" + phone.port() + ";transport=tcp", "");
        Peer caller = closed(new Peer());

        String callId = caller.invite(node.port);
        Connection connection = phone.awaitConnection();
        assertThat(connection).as("the node opens a TCP connection to bob's source address and Contact port").isNotNull();
        SipRequest invite = connection.await("INVITE");
        assertThat(invite.callId()).isEqualTo(callId);
        assertThat(invite.requestUri().toString()).isEqualTo("sip:bob@127.0.0.1:" + phone.port() + ";transport=tcp");
        assertThat(invite.topVia().transport()).isEqualTo("TCP");
        connection.respond(invite, 200, "OK");
        SipResponse ok = caller.awaitFinal(callId, 5_000);
        assertThat(ok).isNotNull();
        assertThat(ok.status()).isEqualTo(200);

        // in-dialog requests along the Record-Route (its flow token names the new connection)
        caller.send(inDialog("ACK", 1, ok, caller), nodeAddress());
        assertThat(connection.await("ACK")).as("the ACK over the connection the node opened").isNotNull();
        caller.send(inDialog("BYE", 2, ok, caller), nodeAddress());
        SipRequest bye = connection.await("BYE");
        assertThat(bye).as("the BYE over the connection the node opened").isNotNull();
        connection.respond(bye, 200, "OK");

        // a later call takes the same connection while it is open
        String later = caller.invite(node.port);
        SipRequest again = connection.await("INVITE");
        assertThat(again.callId()).isEqualTo(later);
        connection.respond(again, 486, "Busy Here");
        assertThat(caller.awaitFinal(later, 5_000).status()).isEqualTo(486);
        assertThat(phone.accepted).as("one connection carried both calls").hasSize(1);
    }

    @Test
    void onlyTheSourceAddressIsConnectedToAndOnlyForATcpContactWithoutRegId() throws Exception {
        TcpDevice phone = closed(new TcpDevice(InetAddress.getLoopbackAddress()));
        TcpDevice elsewhere = closed(new TcpDevice(InetAddress.getByName("127.0.0.2")));
        FlowDirectory flows = new FlowDirectory(node.transport, id -> Optional.empty());
        int port = phone.port();
        int otherPort = elsewhere.port();
        long now = node.clock.millis();

        // a Contact naming another address than the one bob registered from: never dialled
        assertThat(flows.reconnect(binding("sip:bob@127.0.0.2:" + otherPort + ";transport=tcp", "", "TCP", now))).isEmpty();
        // a name: nothing checks it over TCP (no certificate), and it is never looked up
        assertThat(flows.reconnect(binding("sip:bob@phone.example.test:" + port + ";transport=tcp", "", "TCP", now))).isEmpty();
        // an outbound (RFC 5626) registration is reached over its flow or not at all (§5.3)
        assertThat(flows.reconnect(binding("sip:bob@127.0.0.1:" + port + ";transport=tcp",
                ";+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\";reg-id=1", "TCP", now))).isEmpty();
        // a Contact without transport=tcp is a UDP one (§19.1.4); another transport, or sips:
        assertThat(flows.reconnect(binding("sip:bob@127.0.0.1:" + port, "", "TCP", now))).isEmpty();
        assertThat(flows.reconnect(binding("sip:bob@127.0.0.1:" + port + ";transport=udp", "", "TCP", now))).isEmpty();
        assertThat(flows.reconnect(binding("sip:bob@127.0.0.1:" + port + ";transport=ws", "", "TCP", now))).isEmpty();
        assertThat(flows.reconnect(binding("sips:bob@127.0.0.1:" + port + ";transport=tcp", "", "TCP", now))).isEmpty();
        // registered over something else than TCP
        assertThat(flows.reconnect(binding("sip:bob@127.0.0.1:" + port + ";transport=tcp", "", "UDP", now))).isEmpty();
        assertThat(flows.reconnect(binding("sip:bob@127.0.0.1:" + port + ";transport=tcp", "", "WS", now))).isEmpty();
        assertThat(phone.accepted).isEmpty();

        // the source address itself: connected to, and the connection the node opened is found again
        SipFlow first = flows.reconnect(binding("sip:bob@127.0.0.1:" + port + ";transport=TCP", "", "TCP", now))
                .orElseThrow().toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertThat(first.remote()).isEqualTo(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        SipFlow again = flows.reconnect(binding("sip:bob@127.0.0.1:" + port + ";Transport=Tcp", "", "TCP", now))
                .orElseThrow().toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertThat(again).isSameAs(first);
        assertThat(phone.awaitConnection()).isNotNull();
        assertThat(phone.accepted).hasSize(1);

        // and through the proxy: a call to a Contact naming another host finds bob unavailable
        node.location.update(ProxyNode.BOB, bindings -> List.of());
        bindTcp("sip:bob@127.0.0.2:" + otherPort + ";transport=tcp", "");
        Peer caller = closed(new Peer());
        String callId = caller.invite(node.port);
        assertThat(caller.awaitFinal(callId, 5_000).status()).isEqualTo(480);
        Thread.sleep(200);
        assertThat(elsewhere.accepted).as("the host the Contact named saw no connection").isEmpty();
    }

    /**
     * Defect 1 of the first attempt: the node took any open connection to the Contact's address
     * and port, so a connection another account's phone had opened to the node from that address
     * and port (a phone that connects out from the port it listens on, two phones behind one NAT)
     * carried bob's call to that phone. Here carol's phone holds such a connection, and bob's
     * phone listens at the same address and port (SO_REUSEPORT): the INVITE goes to bob over a
     * connection the node opens, and carol sees nothing.
     */
    @Test
    void aConnectionAnotherPhoneOpenedFromTheContactsAddressAndPortNeverCarriesTheCall() throws Exception {
        restartWithTcpListener(TransportSettings.defaults());
        ServerSocket listener = new ServerSocket();
        assumeTrue(listener.supportedOptions().contains(StandardSocketOptions.SO_REUSEPORT)
                && new Socket().supportedOptions().contains(StandardSocketOptions.SO_REUSEPORT),
                "SO_REUSEPORT is needed to listen and connect from one address and port");
        listener.setReuseAddress(true);
        listener.setOption(StandardSocketOptions.SO_REUSEPORT, true);
        listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 10);
        TcpDevice bobsPhone = closed(new TcpDevice(listener));
        Socket carol = closed(new Socket());
        carol.setReuseAddress(true);
        carol.setOption(StandardSocketOptions.SO_REUSEPORT, true);
        carol.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), bobsPhone.port()));
        carol.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), node.tcpPort), 5_000);
        await().atMost(Duration.ofSeconds(5)).until(() -> node.transport.openConnections() == 1);

        bindTcp("sip:bob@127.0.0.1:" + bobsPhone.port() + ";transport=tcp", "");
        Peer caller = closed(new Peer());
        String callId = caller.invite(node.port);
        Connection connection = bobsPhone.awaitConnection();
        assertThat(connection).as("a new connection to bob's Contact").isNotNull();
        SipRequest invite = connection.await("INVITE");
        assertThat(invite).isNotNull();
        assertThat(invite.callId()).isEqualTo(callId);
        connection.respond(invite, 486, "Busy Here");
        assertThat(caller.awaitFinal(callId, 5_000).status()).isEqualTo(486);

        carol.setSoTimeout(500);
        int read;
        try {
            read = carol.getInputStream().read();
        } catch (SocketTimeoutException nothing) {
            read = -2;
        }
        assertThat(read).as("carol's connection carried nothing (-2: still open, nothing read)").isEqualTo(-2);
    }

    /**
     * Defect 2: a phone that is offline (nothing listens at its Contact: many phones write the
     * ephemeral port they connected from) is unavailable to the caller, as a phone without a flow
     * is: 480, and the call is recorded "unavailable" like one to a device the node cannot reach
     * at all, not "error" (the 500 a lone 503 becomes, §16.7 step 6). The refused connect fails
     * at once; with another device (over UDP), the caller gets that device's answer as soon.
     */
    @Test
    void anOfflinePhoneIsUnavailableAsOneWithoutAFlowAndTheCallerHearsTheOtherDevices() throws Exception {
        int closedPort = closedPort();
        Peer caller = closed(new Peer());

        // today's unreachable device: registered over TCP, its Contact without transport=tcp (no connect)
        bindTcp("sip:bob@127.0.0.1:" + closedPort, "");
        String unreachable = caller.invite(node.port);
        assertThat(caller.awaitFinal(unreachable, 5_000).status()).isEqualTo(480);
        await().atMost(Duration.ofSeconds(5)).until(() -> failedCalls("unavailable") == 1);

        node.location.update(ProxyNode.BOB, bindings -> List.of());
        bindTcp("sip:bob@127.0.0.1:" + closedPort + ";transport=tcp", "");
        long started = System.nanoTime();
        String alone = caller.invite(node.port);
        SipResponse failed = caller.awaitFinal(alone, 5_000);
        assertThat(failed).isNotNull();
        assertThat(failed.status()).as(failed.reason()).isEqualTo(480);
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(2));
        await().atMost(Duration.ofSeconds(5)).until(() -> failedCalls("unavailable") == 2);
        assertThat(failedCalls("error")).isZero();
        assertThat(tcpConnects("connect_refused")).isEqualTo(1);

        // with a second device (over UDP), the caller gets that device's answer, just as soon
        Peer desk = closed(new Peer());
        node.bind(desk, "UDP", null, 0, null, 0);
        started = System.nanoTime();
        String call = caller.invite(node.port);
        Peer.Received atDesk = desk.await("INVITE", 5_000);
        assertThat(atDesk).isNotNull();
        desk.respond(atDesk, 486, "Busy Here");
        SipResponse busy = caller.awaitFinal(call, 5_000);
        assertThat(busy.status()).isEqualTo(486);
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(2));
    }

    /**
     * Defect 2, a phone whose address drops the connect (behind a firewall, a NAT without the
     * mapping; here a listener whose backlog is full): the connect gives up within
     * TransportLayer.DEFAULT_TCP_CONNECT_TIMEOUT (2 s), well under telephony.branchResponseTimeout
     * (5 s here), and the caller hears 480.
     */
    @Test
    void aPhoneThatNeverAcceptsIsGivenUpWithinTheConnectTimeout() throws Exception {
        SilentAddress silent = closed(new SilentAddress());
        bindTcp("sip:bob@127.0.0.1:" + silent.port() + ";transport=tcp", "");
        Peer caller = closed(new Peer());
        long started = System.nanoTime();
        String callId = caller.invite(node.port);
        SipResponse failed = caller.awaitFinal(callId, 10_000);
        Duration took = Duration.ofNanos(System.nanoTime() - started);
        assertThat(failed).isNotNull();
        assertThat(failed.status()).as(failed.reason()).isEqualTo(480);
        assertThat(took).isBetween(Duration.ofMillis(1_500), Duration.ofMillis(3_500));
        assertThat(tcpConnects("connect_timeout")).isEqualTo(1);
        await().atMost(Duration.ofSeconds(5)).until(() -> failedCalls("unavailable") == 1);
        assertThat(failedCalls("error")).isZero();
        assertThat(failedCalls("no_answer")).isZero();
    }

    /**
     * Defect 3: an address that failed is not dialled again at every call: for a while (30 s)
     * calls find it unavailable at once, even once something listens there again (a phone that
     * comes back registers again over a connection of its own).
     */
    @Test
    void aPhoneThatFailedIsNotDialledAgainAtEveryCall() throws Exception {
        int port = closedPort();
        bindTcp("sip:bob@127.0.0.1:" + port + ";transport=tcp", "");
        Peer caller = closed(new Peer());
        String first = caller.invite(node.port);
        assertThat(caller.awaitFinal(first, 5_000).status()).isEqualTo(480);

        TcpDevice back = closed(new TcpDevice(new ServerSocket(port, 10, InetAddress.getLoopbackAddress())));
        String second = caller.invite(node.port);
        assertThat(caller.awaitFinal(second, 5_000).status()).isEqualTo(480);
        Thread.sleep(200);
        assertThat(back.accepted).as("not dialled again within the failure memory").isEmpty();
        assertThat(tcpConnects("connect_refused")).isEqualTo(1);
        assertThat(tcpConnects("recent_failure")).isEqualTo(1);
    }

    /**
     * Defect 3: connects under way are capped over all devices (here at 1): while one is under
     * way, a call to another device whose connection is gone finds it unavailable at once
     * ("busy") instead of opening one more; once the first ends, connects go on.
     */
    @Test
    void connectsUnderWayAreCapped() throws Exception {
        node.transport.setOutgoingTcp(Duration.ofSeconds(1), 1);
        SilentAddress silent = closed(new SilentAddress());
        TcpDevice phone = closed(new TcpDevice(InetAddress.getLoopbackAddress()));
        InetSocketAddress silentAt = new InetSocketAddress(InetAddress.getLoopbackAddress(), silent.port());
        InetSocketAddress phoneAt = new InetSocketAddress(InetAddress.getLoopbackAddress(), phone.port());

        CompletableFuture<SipFlow> hanging = node.transport.tcpFlowTo(silentAt).toCompletableFuture();
        assertThat(node.transport.tcpFlowTo(silentAt).toCompletableFuture()).as("same peer: the same attempt").isSameAs(hanging);
        Throwable busy = null;
        try {
            node.transport.tcpFlowTo(phoneAt).toCompletableFuture().getNow(null);
        } catch (CompletionException e) {
            busy = e.getCause();
        }
        assertThat(busy).isInstanceOf(TransportFailure.class);
        assertThat(((TransportFailure) busy).reason()).isEqualTo("busy");
        assertThat(phone.accepted).isEmpty();

        // the attempt ends within its connect timeout and frees its place
        Throwable timedOut = null;
        try {
            hanging.get(5, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            timedOut = e.getCause();
        }
        assertThat(((TransportFailure) timedOut).reason()).isEqualTo("connect_timeout");
        assertThat(node.transport.tcpFlowTo(phoneAt).toCompletableFuture().get(5, TimeUnit.SECONDS).isOpen()).isTrue();
        assertThat(tcpConnects("busy")).isEqualTo(1);
    }

    /**
     * Defect 3: the connections the node opens are not counted against the limit on connections
     * from one address (a limit on what peers open to the node): with at most one per address and
     * carol's phone connected from 127.0.0.1, bob's phone at 127.0.0.1 is still reached, and a
     * second phone of that address may still connect to the node afterwards. Both orders: carol's
     * phone first, then the node's connection to bob's; and bob's first, then dave's phone.
     */
    @Test
    void connectionsTheNodeOpensAreNotCountedAgainstTheLimitPerAddress() throws Exception {
        restartWithTcpListener(TransportSettings.defaults().withConnectionLimits(100, 1));
        // carol's phone first: it takes the one place 127.0.0.1 has for connections to the node
        Socket carol = closed(new Socket(InetAddress.getLoopbackAddress(), node.tcpPort));
        await().atMost(Duration.ofSeconds(5)).until(() -> node.transport.openConnections() == 1);
        TcpDevice bobsPhone = closed(new TcpDevice(InetAddress.getLoopbackAddress()));
        bindTcp("sip:bob@127.0.0.1:" + bobsPhone.port() + ";transport=tcp", "");
        Peer caller = closed(new Peer());

        String callId = caller.invite(node.port);
        Connection connection = bobsPhone.awaitConnection();
        assertThat(connection).isNotNull();
        SipRequest invite = connection.await("INVITE");
        assertThat(invite).as("the INVITE over the connection the node opened").isNotNull();
        connection.respond(invite, 486, "Busy Here");
        assertThat(caller.awaitFinal(callId, 5_000).status()).isEqualTo(486);
        assertThat(stillOpen(carol)).as("carol's connection stays open").isTrue();

        // then, with bob's connection open, one more phone of 127.0.0.1: carol's hangs up first,
        // so the address has its place again, which bob's connection did not take
        carol.close();
        await().atMost(Duration.ofSeconds(5)).until(() -> node.transport.openConnections() == 1);
        Socket dave = closed(new Socket(InetAddress.getLoopbackAddress(), node.tcpPort));
        assertThat(stillOpen(dave)).as("dave's connection stays open (the node would close it at the limit)").isTrue();
        assertThat(dropped("connection_limit")).isZero();
        assertThat(node.transport.openConnections()).isEqualTo(2);
    }

    /** True when nothing comes from {@code socket} for 500 ms and the node has not closed it. */
    private static boolean stillOpen(Socket socket) throws IOException {
        socket.setSoTimeout(500);
        try {
            return socket.getInputStream().read() == -2;
        } catch (SocketTimeoutException open) {
            return true;
        }
    }

    /**
     * Defect 4: a TLS phone whose connection is gone and cannot be connected to again (refused)
     * is unavailable as well: 480 and "unavailable", where it was the 500 of §16.7 step 6,
     * recorded "error".
     */
    @Test
    void aTlsPhoneThatCannotBeConnectedToAgainIsUnavailable() throws Exception {
        node.transport.setTlsClient(new SipTlsClientContexts(TlsClientSettings.from(ConfigSection.of("tls",
                Map.of("connectTimeout", "2s"))), Optional.empty()).connector());
        int port = closedPort();
        bind("sips:bob@127.0.0.1:" + port, "", "TLS");
        Peer caller = closed(new Peer());
        String callId = caller.invite(node.port);
        SipResponse failed = caller.awaitFinal(callId, 5_000);
        assertThat(failed).isNotNull();
        assertThat(failed.status()).as(failed.reason()).isEqualTo(480);
        await().atMost(Duration.ofSeconds(5)).until(() -> failedCalls("unavailable") == 1);
        assertThat(failedCalls("error")).isZero();
    }

    /**
     * Defect 4, in a dialog: bob's phone answered over the connection the node opened, then went
     * away (its connection and its listener closed); the caller's BYE finds it unreachable: 480,
     * as for a device without a flow, not the 500 of a failed next hop.
     */
    @Test
    void anInDialogRequestToAPhoneThatCannotBeConnectedToAgainIsUnavailable() throws Exception {
        TcpDevice phone = closed(new TcpDevice(InetAddress.getLoopbackAddress()));
        bindTcp("sip:bob@127.0.0.1:" + phone.port() + ";transport=tcp", "");
        Peer caller = closed(new Peer());
        String callId = caller.invite(node.port);
        Connection connection = phone.awaitConnection();
        SipRequest invite = connection.await("INVITE");
        connection.respond(invite, 200, "OK");
        SipResponse ok = caller.awaitFinal(callId, 5_000);
        assertThat(ok.status()).isEqualTo(200);
        caller.send(inDialog("ACK", 1, ok, caller), nodeAddress());
        assertThat(connection.await("ACK")).isNotNull();

        phone.close();
        await().atMost(Duration.ofSeconds(5)).until(() -> node.transport.openConnections() == 0);
        caller.send(inDialog("BYE", 2, ok, caller), nodeAddress());
        SipResponse bye = caller.awaitFinal(callId, 5_000);
        assertThat(bye).isNotNull();
        assertThat(bye.status()).as(bye.reason()).isEqualTo(480);
    }

    /**
     * Review item 1: a TCP phone is connected to again only after a restart. bob's binding was
     * refreshed by this node while it ran and its connection is gone (the phone quit, crashed,
     * roamed): nothing proves who listens at its address and Contact port now, so the node does
     * not connect there; bob is unavailable until he registers again.
     */
    @Test
    void aBindingRefreshedWhileTheNodeRanIsNotConnectedToAgain() throws Exception {
        TcpDevice listening = closed(new TcpDevice(InetAddress.getLoopbackAddress()));
        bind("sip:bob@127.0.0.1:" + listening.port() + ";transport=tcp", "", "TCP", node.clock.millis());
        Peer caller = closed(new Peer());
        String callId = caller.invite(node.port);
        SipResponse failed = caller.awaitFinal(callId, 5_000);
        assertThat(failed).isNotNull();
        assertThat(failed.status()).as(failed.reason()).isEqualTo(480);
        Thread.sleep(200);
        assertThat(listening.accepted).as("whoever listens at bob's Contact port gets nothing").isEmpty();
        assertThat(tcpConnects("ok") + tcpConnects("connect_refused")).isZero();
        await().atMost(Duration.ofSeconds(5)).until(() -> failedCalls("unavailable") == 1);
    }

    /**
     * Review item 2: addresses a TCP device is never connected to, whatever it registered from:
     * a port below 1024 or 0 (no port means 5060), a wildcard, multicast or link-local address,
     * the node's own SIP listener, an address the node is told never to dial (another node, a
     * balancer, a trusted peer or HTTP proxy), and loopback when the node does not listen only on
     * loopback.
     */
    @Test
    void addressesATcpDeviceIsNeverConnectedTo() throws Exception {
        restartWithTcpListener(TransportSettings.defaults());
        long now = node.clock.millis();
        FlowDirectory flows = new FlowDirectory(node.transport, id -> Optional.empty());
        // what this node's SIP listens on (127.0.0.1): its own TCP and UDP ports
        assertThat(flows.reconnect(binding("sip:bob@127.0.0.1:" + node.tcpPort + ";transport=tcp", "", "TCP", now))).isEmpty();
        assertThat(flows.reconnect(binding("sip:bob@127.0.0.1:" + node.port + ";transport=tcp", "", "TCP", now))).isEmpty();
        // ports: 0 and below 1024; no port at all is 5060, which is dialled
        assertThat(flows.reconnect(binding("sip:bob@127.0.0.1:0;transport=tcp", "", "TCP", now))).isEmpty();
        assertThat(flows.reconnect(binding("sip:bob@127.0.0.1:22;transport=tcp", "", "TCP", now))).isEmpty();
        assertThat(flows.refusedTcpTarget(new InetSocketAddress(InetAddress.getLoopbackAddress(), 5060))).isFalse();
        // address classes (the source address is the one dialled)
        for (String source : List.of("0.0.0.0", "::", "224.0.0.1", "ff02::1", "169.254.10.1", "fe80::1")) {
            String host = source.contains(":") ? "[" + source + "]" : source;
            assertThat(flows.reconnect(binding("sip:bob@" + host + ":5060;transport=tcp", "", "TCP", now, source)))
                    .as(source).isEmpty();
        }
        // another node, a balancer, a trusted peer: what the node is told never to dial
        FlowDirectory told = new FlowDirectory(node.transport, id -> Optional.empty(),
                new io.switchboard.telephony.cluster.LocalAddresses(), System.currentTimeMillis(),
                address -> address.getHostAddress().equals("192.0.2.10"), port -> false);
        assertThat(told.reconnect(binding("sip:bob@192.0.2.10:5060;transport=tcp", "", "TCP", now, "192.0.2.10"))).isEmpty();
        assertThat(told.refusedTcpTarget(new InetSocketAddress(InetAddress.getByName("192.0.2.11"), 5060))).isFalse();
        // the node's HTTP port on its own addresses
        FlowDirectory withHttp = new FlowDirectory(node.transport, id -> Optional.empty(),
                new io.switchboard.telephony.cluster.LocalAddresses(), System.currentTimeMillis(),
                address -> false, port -> port == 8080);
        assertThat(withHttp.refusedTcpTarget(new InetSocketAddress(InetAddress.getLoopbackAddress(), 8080))).isTrue();
        assertThat(withHttp.refusedTcpTarget(new InetSocketAddress(InetAddress.getLoopbackAddress(), 8081))).isFalse();

        // a node that listens on more than loopback (here the wildcard) never dials loopback, and
        // never its own port on any of its addresses
        io.switchboard.sip.transport.TransportLayer wide = new io.switchboard.sip.transport.TransportLayer(
                TransportSettings.defaults(), new io.switchboard.telephony.sip.SipMetrics(
                        new io.micrometer.core.instrument.simple.SimpleMeterRegistry()));
        try {
            int widePort = wide.start(List.of(new io.switchboard.sip.transport.ListenPoint(
                    io.switchboard.sip.transport.Transport.UDP, "0.0.0.0", 0))).get(0).port();
            FlowDirectory public_ = new FlowDirectory(wide, id -> Optional.empty());
            assertThat(public_.refusedTcpTarget(new InetSocketAddress(InetAddress.getLoopbackAddress(), 5060))).isTrue();
            assertThat(public_.refusedTcpTarget(new InetSocketAddress(InetAddress.getByName("192.0.2.11"), 5060))).isFalse();
            assertThat(public_.refusedTcpTarget(new InetSocketAddress(InetAddress.getByName("192.0.2.11"), widePort))).isFalse();
        } finally {
            wide.stop();
        }
    }

    /**
     * Review item 3: bob's desk phone (UDP) rings unanswered and his TCP softphone, which quit
     * before the restart, cannot be connected to: the caller hears the desk phone's 408, recorded
     * "no_answer"; the softphone's made-up 480 ranks after every real answer.
     */
    @Test
    void aDeviceThatCouldNotBeConnectedToRanksAfterADeviceThatRangUnanswered() throws Exception {
        node.close();
        node = new ProxyNode(dir.resolve("short"), Duration.ofSeconds(2));
        Peer desk = closed(new Peer());
        node.bind(desk, "UDP", null, 0, null, 0);
        bindTcp("sip:bob@127.0.0.1:" + closedPort() + ";transport=tcp", "");
        Peer caller = closed(new Peer());
        String callId = caller.invite(node.port);
        assertThat(desk.await("INVITE", 5_000)).as("the desk phone rings").isNotNull();
        SipResponse last = caller.awaitFinal(callId, 10_000);
        assertThat(last).isNotNull();
        assertThat(last.status()).as(last.reason()).isEqualTo(408);
        await().atMost(Duration.ofSeconds(5)).until(() -> failedCalls("no_answer") == 1);
        assertThat(failedCalls("unavailable")).isZero();
        assertThat(tcpConnects("connect_refused")).isEqualTo(1);
    }

    /**
     * Its 480 is still a 4xx: next to another device's 503 the caller hears the 480 (RFC 3261
     * §16.7 step 6, the lowest class wins), not the 500 a lone 503 becomes.
     */
    @Test
    void aDeviceThatCouldNotBeConnectedToStillWinsOverA5xx() throws Exception {
        Peer desk = closed(new Peer());
        node.bind(desk, "UDP", null, 0, null, 0);
        bindTcp("sip:bob@127.0.0.1:" + closedPort() + ";transport=tcp", "");
        Peer caller = closed(new Peer());
        String callId = caller.invite(node.port);
        desk.respond(desk.await("INVITE", 5_000), 503, "Service Unavailable");
        SipResponse last = caller.awaitFinal(callId, 10_000);
        assertThat(last).isNotNull();
        assertThat(last.status()).as(last.reason()).isEqualTo(480);
        await().atMost(Duration.ofSeconds(5)).until(() -> failedCalls("unavailable") == 1);
    }

    /**
     * Review item 5: one address cannot take every place of the cap: at most 4 connects under way
     * to one host. A fifth to another port of it (a flat's fifth phone behind the same NAT) waits
     * for a place rather than failing: it is dialled as soon as one of the four ends, and reaches
     * its phone.
     */
    @Test
    void connectsUnderWayToOneHostAreCappedAndTheNextWaitsForAPlace() throws Exception {
        // every address made first (each takes a moment to fill its backlog), then the four connects
        // back to back, so none of them reaches its connect timeout before the fifth is asked for
        List<SilentAddress> silent = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            silent.add(closed(new SilentAddress()));
        }
        TcpDevice phone = closed(new TcpDevice(InetAddress.getLoopbackAddress()));
        List<CompletableFuture<SipFlow>> hanging = new ArrayList<>();
        for (SilentAddress address : silent) {
            hanging.add(node.transport.tcpFlowTo(new InetSocketAddress(InetAddress.getLoopbackAddress(), address.port()))
                    .toCompletableFuture());
        }
        CompletableFuture<SipFlow> fifth = node.transport.tcpFlowTo(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), phone.port())).toCompletableFuture();
        assertThat(fifth).as("waiting for a place, not dialled yet").isNotDone();
        for (CompletableFuture<SipFlow> h : hanging) {
            assertThat(h).isNotDone();
        }
        // the silent ones give up at their connect timeout; the fifth then has the rest of its deadline
        assertThat(fifth.get(10, TimeUnit.SECONDS).isOpen()).isTrue();
        assertThat(tcpConnects("busy_host")).isZero();
        CompletableFuture.allOf(hanging.toArray(CompletableFuture[]::new)).handle((a, b) -> null).get(10, TimeUnit.SECONDS);
    }

    /** Review item 4: a name given to tcpFlowTo fails the stage (never looked up), no exception thrown. */
    @Test
    void anUnresolvedAddressFailsTheStage() {
        CompletableFuture<SipFlow> stage = node.transport.tcpFlowTo(InetSocketAddress.createUnresolved("phone.invalid", 5060))
                .toCompletableFuture();
        assertThat(stage).isCompletedExceptionally();
        assertThat(stage.handle((flow, error) -> error).join()).isInstanceOf(TransportFailure.class);
    }

    /** A loopback port nothing listens on (a connect there is refused). */
    private static int closedPort() throws IOException {
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return probe.getLocalPort();
        }
    }

    /** This test's node again, with a TCP listener and these transport settings. */
    private void restartWithTcpListener(TransportSettings settings) throws Exception {
        node.close();
        node = new ProxyNode(dir.resolve("tcp"), Duration.ofSeconds(5), settings, true);
    }

    private double failedCalls(String reason) {
        var counter = node.meters.find("switchboard.calls.failed").tag("reason", reason).counter();
        return counter == null ? 0 : counter.count();
    }

    private double tcpConnects(String outcome) {
        var counter = node.meters.find("switchboard.sip.tcp.connects").tag("outcome", outcome).counter();
        return counter == null ? 0 : counter.count();
    }

    private double dropped(String reason) {
        var counter = node.meters.find("switchboard.sip.dropped").tag("reason", reason).counter();
        return counter == null ? 0 : counter.count();
    }

    /**
     * A loopback address and port where a connect neither succeeds nor is refused: a listener whose
     * backlog is full, so the kernel drops further SYNs (as a firewall or a NAT without the mapping does).
     */
    static final class SilentAddress implements AutoCloseable {
        private final ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        private final List<Socket> filling = new ArrayList<>();

        SilentAddress() throws IOException {
            for (int i = 0; i < 16; i++) {
                Socket s = new Socket();
                try {
                    s.connect(server.getLocalSocketAddress(), 300);
                    filling.add(s);
                } catch (SocketTimeoutException full) {
                    s.close();
                    return;
                }
            }
            throw new IOException("the backlog never filled");
        }

        int port() {
            return server.getLocalPort();
        }

        @Override
        public void close() throws IOException {
            for (Socket s : filling) {
                s.close();
            }
            server.close();
        }
    }

    /** A binding last refreshed an hour before {@code now}: before any node of the test started. */
    private static Binding binding(String contact, String headerParams, String transport, long now) {
        return binding(contact, headerParams, transport, now, "127.0.0.1");
    }

    private static Binding binding(String contact, String headerParams, String transport, long now, String source) {
        long before = now - 3_600_000;
        return new Binding(ProxyNode.BOB, contact, "<" + contact + ">" + headerParams, "reg-1", 1, 1000, now + 60_000,
                before, transport, source, 40_000, null, 0, "gone-flow", "test", null, 0, null, null, before);
    }

    private InetSocketAddress nodeAddress() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), node.port);
    }

    /** An in-dialog request of the caller after the 2xx {@code ok}: to its Contact, along its Record-Route reversed (§12.1.2). */
    private static String inDialog(String method, int cseq, SipResponse ok, Peer caller) {
        List<String> recordRoute = new ArrayList<>(ok.headers().values("Record-Route"));
        java.util.Collections.reverse(recordRoute);
        String contact = ok.header("Contact");
        String target = contact.substring(contact.indexOf('<') + 1, contact.indexOf('>'));
        StringBuilder r = new StringBuilder(method).append(' ').append(target).append(" SIP/2.0\r\n")
                .append("Via: SIP/2.0/UDP 127.0.0.1:").append(caller.port()).append(";rport;branch=z9hG4bK")
                .append(UUID.randomUUID()).append("\r\n")
                .append("Max-Forwards: 70\r\n");
        for (String route : recordRoute) {
            r.append("Route: ").append(route).append("\r\n");
        }
        return r.append("From: ").append(ok.header("From")).append("\r\n")
                .append("To: ").append(ok.header("To")).append("\r\n")
                .append("Call-ID: ").append(ok.callId()).append("\r\n")
                .append("CSeq: ").append(cseq).append(' ').append(method).append("\r\n")
                .append("Content-Length: 0\r\n\r\n").toString();
    }

    /** A device's own TCP listener (where its Contact says it takes requests): keeps each connection the node opens. */
    static final class TcpDevice implements AutoCloseable {
        final ServerSocket server;
        final List<Connection> accepted = new CopyOnWriteArrayList<>();
        private final BlockingQueue<Connection> fresh = new LinkedBlockingQueue<>();

        TcpDevice(InetAddress address) throws IOException {
            this(new ServerSocket(0, 10, address));
        }

        TcpDevice(ServerSocket server) {
            this.server = server;
            Thread.ofVirtual().start(() -> {
                while (!server.isClosed()) {
                    try {
                        Connection c = new Connection(server.accept());
                        accepted.add(c);
                        fresh.add(c);
                    } catch (IOException e) {
                        return;
                    }
                }
            });
        }

        int port() {
            return server.getLocalPort();
        }

        Connection awaitConnection() throws InterruptedException {
            return fresh.poll(10, TimeUnit.SECONDS);
        }

        @Override
        public void close() throws IOException {
            server.close();
            for (Connection c : accepted) {
                c.socket.close();
            }
        }
    }

    /** One connection at the device: reads SIP framed by Content-Length (§18.3), answers as a UAS. */
    static final class Connection {
        final Socket socket;
        final BlockingQueue<SipRequest> requests = new LinkedBlockingQueue<>();

        Connection(Socket socket) {
            this.socket = socket;
            Thread.ofVirtual().start(this::read);
        }

        private void read() {
            try (InputStream in = socket.getInputStream()) {
                while (true) {
                    ByteArrayOutputStream head = new ByteArrayOutputStream();
                    int c;
                    while (!endsWithBlankLine(head)) {
                        if ((c = in.read()) < 0) {
                            return;
                        }
                        if (head.size() == 0 && (c == '\r' || c == '\n')) {
                            continue; // a keep-alive CRLF between messages
                        }
                        head.write(c);
                    }
                    String text = head.toString(StandardCharsets.UTF_8);
                    int length = 0;
                    for (String line : text.split("\r\n")) {
                        String lower = line.toLowerCase(Locale.ROOT);
                        if (lower.startsWith("content-length:") || lower.startsWith("l:")) {
                            length = Integer.parseInt(line.substring(line.indexOf(':') + 1).trim());
                        }
                    }
                    head.write(in.readNBytes(length));
                    SipMessage message = SipParser.parse(head.toByteArray());
                    if (message instanceof SipRequest request) {
                        requests.add(request);
                    }
                }
            } catch (IOException | io.switchboard.sip.codec.SipParseException | RuntimeException closed) {
                // the test is over (the node sends nothing it could not parse)
            }
        }

        private static boolean endsWithBlankLine(ByteArrayOutputStream head) {
            byte[] b = head.toByteArray();
            int n = b.length;
            return n >= 4 && b[n - 4] == '\r' && b[n - 3] == '\n' && b[n - 2] == '\r' && b[n - 1] == '\n';
        }

        /** The next request of {@code method} within 10 s, skipping others; null if none. */
        SipRequest await(String method) throws InterruptedException {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            for (long left; (left = end - System.nanoTime()) > 0; ) {
                SipRequest r = requests.poll(left, TimeUnit.NANOSECONDS);
                if (r != null && r.isMethod(method)) {
                    return r;
                }
            }
            return null;
        }

        void respond(SipRequest request, int status, String reason) throws IOException {
            StringBuilder r = new StringBuilder("SIP/2.0 ").append(status).append(' ').append(reason).append("\r\n");
            for (String via : request.headers().fields("Via")) {
                r.append("Via: ").append(via).append("\r\n");
            }
            for (String rr : request.headers().fields("Record-Route")) {
                r.append("Record-Route: ").append(rr).append("\r\n");
            }
            String to = request.header("To");
            r.append("From: ").append(request.header("From")).append("\r\n")
                    .append("To: ").append(to).append(to.contains("tag=") ? "" : ";tag=bob").append("\r\n")
                    .append("Call-ID: ").append(request.callId()).append("\r\n")
                    .append("CSeq: ").append(request.header("CSeq")).append("\r\n")
                    .append("Contact: <sip:bob@127.0.0.1:").append(socket.getLocalPort()).append(";transport=tcp>\r\n")
                    .append("Content-Length: 0\r\n\r\n");
            synchronized (this) {
                socket.getOutputStream().write(r.toString().getBytes(StandardCharsets.UTF_8));
                socket.getOutputStream().flush();
            }
        }
    }
}
