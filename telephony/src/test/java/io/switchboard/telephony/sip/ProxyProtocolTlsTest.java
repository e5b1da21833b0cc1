package io.switchboard.telephony.sip;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.platform.tls.NodeCertificate;
import io.switchboard.platform.tls.TestCertificates;
import io.switchboard.platform.tls.TestCertificates.Identity;
import io.switchboard.platform.tls.TestCertificates.KeyFormat;
import io.switchboard.platform.tls.TlsSettings;
import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.transport.ListenPoint;
import io.switchboard.sip.transport.SipFlow;
import io.switchboard.sip.transport.Transport;
import io.switchboard.sip.transport.TransportLayer;
import io.switchboard.sip.transport.TransportSettings;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIP over TLS through a balancer in TCP mode ({@code send-proxy-v2}): the PROXY header comes
 * before the TLS handshake, and the client it names stands for the TLS connection (Via received,
 * the flow), as over plain TCP.
 */
class ProxyProtocolTlsTest {
    private static final Identity CA = TestCertificates.authority("Proxy Protocol Test CA");

    @TempDir
    Path dir;
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final List<SipMessage> received = new CopyOnWriteArrayList<>();
    private final List<SipFlow> flows = new CopyOnWriteArrayList<>();
    private TransportLayer layer;

    @AfterEach
    void stop() {
        if (layer != null) {
            layer.stop();
        }
    }

    private int startTls(boolean proxyFromLoopback) throws Exception {
        Identity node = TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(30)), "127.0.0.1");
        NodeCertificate certificate = NodeCertificate.load(new TlsSettings(node.writeChain(dir.resolve("n.crt")),
                node.writeKey(dir.resolve("n.key"), KeyFormat.PKCS8), null, Duration.ofSeconds(5), Duration.ofDays(365)), meters);
        layer = new TransportLayer(TransportSettings.defaults().withIoThreads(1), new SipMetrics(meters));
        layer.setTls(new SipTlsContexts(certificate, meters, new SipMetrics(meters)).pipeline());
        if (proxyFromLoopback) {
            layer.setProxyProtocolSources(InetAddress::isLoopbackAddress);
        }
        layer.setInboundHandler((message, flow) -> {
            received.add(message);
            flows.add(flow);
        });
        return layer.start(List.of(new ListenPoint(Transport.TLS, "127.0.0.1", 0))).getFirst().port();
    }

    private static String options() {
        return "OPTIONS sip:node@127.0.0.1 SIP/2.0\r\n"
                + "Via: SIP/2.0/TLS 10.9.9.9:5061;branch=z9hG4bK-tls;rport\r\n"
                + "Max-Forwards: 70\r\nFrom: <sip:a@example.test>;tag=1\r\nTo: <sip:node@127.0.0.1>\r\n"
                + "Call-ID: tls-proxied\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    }

    @Test
    void theHeaderBeforeTheHandshakeNamesTheClientOfTheTlsConnection() throws Exception {
        int port = startTls(true);
        try (Socket balancer = new Socket("127.0.0.1", port)) {
            balancer.getOutputStream().write("PROXY TCP6 2001:db8::9 2001:db8::1 41000 5061\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            balancer.getOutputStream().flush();
            try (SSLSocket tls = (SSLSocket) CA.trustingContext().getSocketFactory()
                    .createSocket(balancer, "127.0.0.1", port, false)) {
                tls.startHandshake();
                tls.getOutputStream().write(options().getBytes(StandardCharsets.UTF_8));
                tls.getOutputStream().flush();
                await().atMost(Duration.ofSeconds(10)).until(() -> received.size() == 1);
            }
        }
        assertThat(flows.getFirst().transport()).isEqualTo(Transport.TLS);
        assertThat(flows.getFirst().remote()).isEqualTo(new InetSocketAddress("2001:db8::9", 41000));
        assertThat(received.getFirst().topVia().param("received")).isEqualTo("2001:db8:0:0:0:0:0:9");
        assertThat(received.getFirst().topVia().param("rport")).isEqualTo("41000");
    }

    @Test
    void aTlsClientFromAListedPeerWithoutTheHeaderIsRefused() throws Exception {
        int port = startTls(true);
        try (SSLSocket tls = (SSLSocket) CA.trustingContext().getSocketFactory().createSocket("127.0.0.1", port)) {
            tls.setSoTimeout(10_000);
            boolean failed;
            try {
                tls.startHandshake();
                failed = tls.getInputStream().read() < 0;
            } catch (java.io.IOException e) {
                failed = true;
            }
            assertThat(failed).isTrue();
        }
        assertThat(received).isEmpty();
        // the node closes the connection before it counts the refusal: the client may see the close first
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            var dropped = meters.find("switchboard.sip.dropped").tag("reason", "proxy_header").counter();
            return dropped != null && dropped.count() == 1.0;
        });
    }

    @Test
    void withoutTheSettingTlsIsServedAsBefore() throws Exception {
        int port = startTls(false);
        try (SSLSocket tls = (SSLSocket) CA.trustingContext().getSocketFactory().createSocket("127.0.0.1", port)) {
            tls.startHandshake();
            tls.getOutputStream().write(options().getBytes(StandardCharsets.UTF_8));
            tls.getOutputStream().flush();
            await().atMost(Duration.ofSeconds(10)).until(() -> received.size() == 1);
        }
        assertThat(flows.getFirst().remote().getAddress().getHostAddress()).isEqualTo("127.0.0.1");
    }
}
