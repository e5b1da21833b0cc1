package io.switchboard.telephony.sip;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** Refusals are logged with their source, a few a minute per address, and what was left out is said. */
class SipRefusalsTest {
    private final AtomicReference<Instant> now = new AtomicReference<>(Instant.parse("2026-12-07T10:00:00Z"));
    private final Clock clock = new Clock() {
        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now.get();
        }
    };
    private final Logger logger = (Logger) LoggerFactory.getLogger(SipRefusals.class);
    private final ListAppender<ILoggingEvent> lines = new ListAppender<>();

    @BeforeEach
    void capture() {
        lines.start();
        logger.addAppender(lines);
        logger.setLevel(ch.qos.logback.classic.Level.INFO); // the tests' root logger is at WARN
    }

    @AfterEach
    void release() {
        logger.detachAppender(lines);
        logger.setLevel(null);
    }

    private List<String> logged() {
        return lines.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
    }

    @Test
    void aFewLinesAMinutePerAddressThenWhatWasLeftOut() {
        SipRefusals refusals = new SipRefusals(clock);
        InetSocketAddress panel = new InetSocketAddress("192.0.2.7", 5060);
        for (int i = 1; i <= SipRefusals.LINES_PER_MINUTE + 3; i++) {
            refusals.refused(new InetSocketAddress("192.0.2.7", 5060 + i), "REGISTER of sip:1001@vm refused (403): wrong password " + i);
        }
        refusals.refused(new InetSocketAddress("2001:db8::1", 5070), "INVITE refused");
        refusals.refused(null, "SIP over udp over telephony.floodLimit");

        assertThat(logged()).hasSize(SipRefusals.LINES_PER_MINUTE + 2);
        assertThat(logged().getFirst()).isEqualTo("192.0.2.7:5061: REGISTER of sip:1001@vm refused (403): wrong password 1");
        assertThat(logged()).contains("[2001:db8::1]:5070: INVITE refused", "unknown source: SIP over udp over telephony.floodLimit");

        now.set(now.get().plusSeconds(61));
        refusals.refused(panel, "REGISTER of sip:1001@vm refused (403): wrong password");
        assertThat(logged().getLast()).isEqualTo("192.0.2.7:5060: REGISTER of sip:1001@vm refused (403): wrong password"
                + " (3 more from 192.0.2.7 after the last line were counted, not logged)");
        refusals.refused(panel, "again");
        assertThat(logged().getLast()).isEqualTo("192.0.2.7:5060: again");
    }
}
