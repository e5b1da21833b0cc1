package io.switchboard.monitor.check;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.monitor.support.Defs;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Clock;
import org.junit.jupiter.api.Test;

class TcpCheckTest {
    final TcpCheck check = new TcpCheck(Clock.systemUTC());

    @Test
    void anOpenPortIsUpAndAClosedOneDown() throws Exception {
        int port;
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            port = server.getLocalPort();
            CheckResult up = check.run(Defs.monitor("name: db\ntype: tcp\ntarget: 127.0.0.1:" + port + "\n"));
            assertThat(up.status()).isEqualTo(CheckStatus.UP);
            assertThat(up.worked()).singleElement().asString().startsWith("port " + port + " accepted the connection in");
        }
        CheckResult down = check.run(Defs.monitor("name: db\ntype: tcp\ntarget: 127.0.0.1:" + port + "\n"));
        assertThat(down.status()).isEqualTo(CheckStatus.DOWN);
        assertThat(down.error()).isEqualTo("nothing accepted the connection on 127.0.0.1 port " + port
                + " (connection refused: no service listens there)");
    }

    @Test
    void anUnknownNameIsDown() throws Exception {
        CheckResult r = check.run(Defs.monitor("name: db\ntype: tcp\ntarget: no-such-host.invalid:5432\n"));
        assertThat(r.status()).isEqualTo(CheckStatus.DOWN);
        assertThat(r.error()).isEqualTo("the name no-such-host.invalid could not be found (DNS gave no address)");
    }
}
