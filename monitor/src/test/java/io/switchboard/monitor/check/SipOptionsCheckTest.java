package io.switchboard.monitor.check;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.monitor.support.Defs;
import io.switchboard.monitor.support.SipResponder;
import java.time.Clock;
import org.junit.jupiter.api.Test;

class SipOptionsCheckTest {
    final SipOptionsCheck check = new SipOptionsCheck(Clock.systemUTC());

    private static String monitor(SipResponder device, String extra) {
        return "name: panel\ntype: sip\ntarget: sip:panel@127.0.0.1:" + device.port() + "\ntimeout: 2s\n" + extra;
    }

    @Test
    void aDeviceAnsweringOptionsOverUdpIsUpWithItsRoundTrip() throws Exception {
        try (SipResponder device = new SipResponder()) {
            CheckResult r = check.run(Defs.monitor(monitor(device, "")));
            assertThat(r.status()).isEqualTo(CheckStatus.UP);
            assertThat(r.details()).containsEntry("status", 200).containsEntry("transport", "udp")
                    .containsEntry("server", "Test Intercom 1.0").containsEntry("retransmissions", 0);
            assertThat(r.worked()).anySatisfy(w -> assertThat(w).startsWith("the SIP device answered OPTIONS with 200 OK in"));
        }
    }

    @Test
    void anyFinalResponseMeansAliveUnlessNarrowed() throws Exception {
        try (SipResponder device = new SipResponder().answer(404, "Not Found")) {
            assertThat(check.run(Defs.monitor(monitor(device, ""))).status()).isEqualTo(CheckStatus.UP);
            CheckResult strict = check.run(Defs.monitor(monitor(device, "expectStatus: [200]\n")));
            assertThat(strict.status()).isEqualTo(CheckStatus.DOWN);
            assertThat(strict.error()).isEqualTo("the SIP device answered OPTIONS with 404 Not Found; expected 200");
        }
    }

    @Test
    void aProvisionalResponseIsNotTheAnswer() throws Exception {
        try (SipResponder device = new SipResponder().tryingFirst(true)) {
            CheckResult r = check.run(Defs.monitor(monitor(device, "")));
            assertThat(r.status()).isEqualTo(CheckStatus.UP);
            assertThat(r.details()).containsEntry("status", 200);
        }
    }

    @Test
    void overTcp() throws Exception {
        try (SipResponder device = new SipResponder().tryingFirst(true).answer(486, "Busy Here")) {
            CheckResult r = check.run(Defs.monitor(monitor(device, "transport: tcp\n")));
            assertThat(r.status()).isEqualTo(CheckStatus.UP);
            assertThat(r.details()).containsEntry("status", 486).containsEntry("transport", "tcp");
            assertThat(r.worked()).first().asString().startsWith("TCP port");
        }
    }

    @Test
    void aSilentDeviceIsDownAfterRetransmissions() throws Exception {
        try (SipResponder device = new SipResponder().silent(true)) {
            CheckResult r = check.run(Defs.monitor("name: panel\ntype: sip\ntarget: sip:panel@127.0.0.1:" + device.port()
                    + "\ntimeout: 2500ms\n"));
            assertThat(r.status()).isEqualTo(CheckStatus.DOWN);
            // RFC 3261 §17.1.2.2: sent at 0, then at 500 ms and 1500 ms (Timer E doubling); the next would be at 3500 ms
            assertThat(r.error()).contains("gave no final answer to OPTIONS within 2.5 s").contains("no answer at all")
                    .contains("after 2 retransmissions");
            assertThat(device.requests()).isEqualTo(3);
        }
    }

    @Test
    void aClosedUdpPortIsDown() throws Exception {
        int port;
        try (SipResponder gone = new SipResponder()) {
            port = gone.port();
        }
        CheckResult r = check.run(Defs.monitor("name: panel\ntype: sip\ntarget: sip:127.0.0.1:" + port + "\ntimeout: 1s\n"));
        assertThat(r.status()).isEqualTo(CheckStatus.DOWN);
        assertThat(r.error()).satisfiesAnyOf(
                e -> assertThat(e).isEqualTo("nothing listens on 127.0.0.1 UDP port " + port + " (the host said the port is closed)"),
                e -> assertThat(e).contains("gave no final answer"));
    }
}
