package io.switchboard.telephony.sip;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.platform.testing.CapturedLog;
import io.switchboard.platform.testing.MutableClock;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Refusals are logged with their source, a few a minute per address, and what was left out is said. */
class SipRefusalsTest {
    private final MutableClock clock = MutableClock.fixedAt(Instant.parse("2026-12-07T10:00:00Z"));
    private final CapturedLog log = CapturedLog.of(SipRefusals.class);

    @AfterEach
    void release() {
        log.close();
    }

    private List<String> logged() {
        return log.messages();
    }

    @Test
    void aFewLinesAMinutePerAddressThenWhatWasLeftOut() {
        SipRefusals refusals = new SipRefusals(clock);
        InetSocketAddress panel = new InetSocketAddress("192.0.2.7", 5060);
        for (int i = 1; i <= SipRefusals.LINES_PER_MINUTE + 3; i++) {
            refusals.refused(new InetSocketAddress("192.0.2.7", 5060 + i), "REGISTER of sip:1001@vm refused (403): wrong password " + i);
        }
        refusals.refused(new InetSocketAddress("2001:db8::1", 5070), "INVITE refused");
        refusals.refused(null, "SIP over udp: more messages than telephony.floodLimit allows");

        assertThat(logged()).hasSize(SipRefusals.LINES_PER_MINUTE + 2);
        assertThat(logged().getFirst()).isEqualTo("192.0.2.7:5061: REGISTER of sip:1001@vm refused (403): wrong password 1");
        assertThat(logged()).contains("[2001:db8::1]:5070: INVITE refused", "unknown source: SIP over udp: more messages than telephony.floodLimit allows");

        clock.advance(java.time.Duration.ofSeconds(61));
        refusals.refused(panel, "REGISTER of sip:1001@vm refused (403): wrong password");
        assertThat(logged().getLast()).isEqualTo("192.0.2.7:5060: REGISTER of sip:1001@vm refused (403): wrong password"
                + " (3 more from 192.0.2.7 before this line were counted, not logged)");
        refusals.refused(panel, "again");
        assertThat(logged().getLast()).isEqualTo("192.0.2.7:5060: again");
    }

    @Test
    void aBudgetForAllSourcesAndIpv6ByItsSlash64() {
        SipRefusals refusals = new SipRefusals(clock);
        // spoofed sources: one line each, but not more than the budget of all
        for (int i = 1; i <= SipRefusals.ALL_LINES_PER_MINUTE + 10; i++) {
            refusals.refused(new InetSocketAddress("198.51.100." + i, 5060), "malformed " + i);
        }
        assertThat(logged()).hasSize(SipRefusals.ALL_LINES_PER_MINUTE);
        clock.advance(java.time.Duration.ofSeconds(61));
        refusals.refused(new InetSocketAddress("203.0.113.1", 5060), "next minute");
        assertThat(logged().getLast()).isEqualTo("203.0.113.1:5060: next minute (10 more from other sources before this line"
                + " were counted, not logged)");
        refusals.refused(new InetSocketAddress("198.51.100.40", 5060), "one of the spoofed ones again");
        assertThat(logged().getLast()).as("held back by the budget of all, it was said there, not again here")
                .isEqualTo("198.51.100.40:5060: one of the spoofed ones again");

        // one sender has a whole /64: its addresses share one allowance
        log.clear();
        for (int i = 1; i <= SipRefusals.LINES_PER_MINUTE + 2; i++) {
            refusals.refused(new InetSocketAddress("2001:db8:1:2::" + Integer.toHexString(i), 5060), "try " + i);
        }
        assertThat(logged()).hasSize(SipRefusals.LINES_PER_MINUTE);
        clock.advance(java.time.Duration.ofSeconds(61));
        refusals.refused(new InetSocketAddress("2001:db8:1:2::99", 5060), "later");
        assertThat(logged().getLast()).isEqualTo("[2001:db8:1:2::99]:5060: later (2 more from 2001:db8:1:2::/64 before this"
                + " line were counted, not logged)");
    }

    @Test
    void whatAPeerWroteIsQuotedWithoutControlCharactersAndCutInTheMiddle() {
        assertThat(SipRefusals.printable("bad\r\nVia: \u001b[31mred\u2028\u202etxt")).isEqualTo("bad??Via: ?[31mred??txt");
        String longLine = "REGISTER of sip:" + "x".repeat(1000) + "@vm refused (403): wrong password";
        String cut = SipRefusals.printable(longLine);
        assertThat(cut).hasSize(SipRefusals.MAX_TEXT + 3).startsWith("REGISTER of sip:xxx").contains("...")
                .endsWith("@vm refused (403): wrong password");
        String emoji = "\uD83D\uDE00".repeat(500); // a cut never splits a surrogate pair
        assertThat(SipRefusals.printable(emoji).replace("...", "")).isEqualTo("\uD83D\uDE00".repeat(SipRefusals.MAX_TEXT));
        assertThat(SipRefusals.printable("short")).isEqualTo("short");
    }

    @Test
    void aSourceOverItsAllowanceIsSaidOnItsNextLineWhicheverMinuteThatIs() {
        SipRefusals refusals = new SipRefusals(clock);
        InetSocketAddress panel = new InetSocketAddress("192.0.2.7", 5060);
        for (int i = 0; i < SipRefusals.LINES_PER_MINUTE + 4; i++) {
            refusals.refused(panel, "try");
        }
        clock.advance(java.time.Duration.ofMinutes(30));
        refusals.refused(panel, "much later");
        assertThat(logged().getLast()).isEqualTo("192.0.2.7:5060: much later (4 more from 192.0.2.7 before this line were"
                + " counted, not logged)");
    }

    /** A clock set back (by NTP, by hand) must not keep a source out of the log until it catches up. */
    @Test
    void aClockSetBackDoesNotSilenceASource() {
        SipRefusals refusals = new SipRefusals(clock);
        InetSocketAddress panel = new InetSocketAddress("192.0.2.7", 5060);
        for (int i = 0; i < SipRefusals.LINES_PER_MINUTE + 1; i++) {
            refusals.refused(panel, "try");
        }
        clock.advance(java.time.Duration.ofHours(-1));
        refusals.refused(panel, "after the clock was set back");
        assertThat(logged().getLast()).isEqualTo("192.0.2.7:5060: after the clock was set back (1 more from 192.0.2.7"
                + " before this line were counted, not logged)");
    }

    /** BoringSSL's reason name is what a refusal line keeps of its message: the line stays whole. */
    @Test
    void aTlsEnginesReasonIsShortEnoughForTheLine() {
        assertThat(SipMetrics.engineWords(new javax.net.ssl.SSLHandshakeException(
                "error:10000416:SSL routines:OPENSSL_internal:SSLV3_ALERT_CERTIFICATE_UNKNOWN")))
                .isEqualTo("SSLV3_ALERT_CERTIFICATE_UNKNOWN");
        assertThat(SipMetrics.engineWords(new javax.net.ssl.SSLHandshakeException("Received fatal alert: certificate_unknown")))
                .isEqualTo("Received fatal alert: certificate_unknown");
        SipMetrics metrics = new SipMetrics(new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
        metrics.tlsHandshakeFailed(new InetSocketAddress("192.0.2.7", 40188), "certificate_refused",
                new javax.net.ssl.SSLHandshakeException("error:10000416:SSL routines:OPENSSL_internal:SSLV3_ALERT_CERTIFICATE_UNKNOWN"));
        assertThat(logged()).singleElement().asString().doesNotContain("...").endsWith("SSLV3_ALERT_CERTIFICATE_UNKNOWN");
    }

    /** The stack's drops and parse errors read as sentences that say what was done with the message. */
    @Test
    void dropsAndMalformedMessagesSayWhatWasDone() {
        SipMetrics metrics = new SipMetrics(new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
        InetSocketAddress peer = new InetSocketAddress("198.51.100.4", 40312);
        metrics.dropped("oversize", io.switchboard.sip.transport.Transport.TCP, peer,
                "a message of 70211 bytes, over the limit of 65535: answered 513 Message Too Large, then closed the connection");
        metrics.dropped("flood", io.switchboard.sip.transport.Transport.UDP, new InetSocketAddress("198.51.100.5", 5060));
        metrics.parseError("Content-Length is not a whole number of 0 or more: answered 400",
                io.switchboard.sip.transport.Transport.UDP, new InetSocketAddress("198.51.100.6", 5060));

        assertThat(logged()).containsExactly(
                "198.51.100.4:40312: SIP over tcp: a message of 70211 bytes, over the limit of 65535: answered 513 Message Too Large,"
                        + " then closed the connection",
                "198.51.100.5:5060: SIP over udp: more messages than telephony.floodLimit allows; they are dropped",
                "198.51.100.6:5060: malformed SIP over udp: Content-Length is not a whole number of 0 or more: answered 400");
    }
}
