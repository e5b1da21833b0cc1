package io.switchboard.telephony.auth;

import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

class NonceServiceTest {
    private final AtomicLong now = new AtomicLong(1_700_000_000_000L);
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
            return Instant.ofEpochMilli(now.get());
        }
    };

    @Test
    void acceptsIncreasingNonceCountsAndRefusesReplays() {
        NonceService nonces = new NonceService(clock, Duration.ofMinutes(5), 1024);
        String nonce = nonces.issue();
        assertThat(nonces.check(nonce, "00000001")).isEqualTo(NonceService.Check.VALID);
        assertThat(nonces.check(nonce, "00000001")).isEqualTo(NonceService.Check.REPLAYED);
        assertThat(nonces.check(nonce, "00000003")).isEqualTo(NonceService.Check.VALID);
        assertThat(nonces.check(nonce, "00000002")).isEqualTo(NonceService.Check.REPLAYED);
    }

    @Test
    void expiredNonceIsStale() {
        NonceService nonces = new NonceService(clock, Duration.ofMinutes(5), 1024);
        String nonce = nonces.issue();
        now.addAndGet(Duration.ofMinutes(6).toMillis());
        assertThat(nonces.check(nonce, "00000001")).isEqualTo(NonceService.Check.STALE);
    }

    @Test
    void forgedOrForeignNoncesAreInvalid() {
        NonceService nonces = new NonceService(clock, Duration.ofMinutes(5), 1024);
        NonceService other = new NonceService(clock, Duration.ofMinutes(5), 1024);
        String nonce = nonces.issue();
        char[] tampered = nonce.toCharArray();
        tampered[3] = tampered[3] == 'A' ? 'B' : 'A';
        assertThat(nonces.check(new String(tampered), "00000001")).isEqualTo(NonceService.Check.INVALID);
        assertThat(nonces.check(other.issue(), "00000001")).isEqualTo(NonceService.Check.INVALID);
        assertThat(nonces.check("not base64 !", "00000001")).isEqualTo(NonceService.Check.INVALID);
    }

    @Test
    void nonceWhoseSlotWasReusedIsStale() {
        NonceService nonces = new NonceService(clock, Duration.ofMinutes(5), 4);
        String old = nonces.issue();
        for (int i = 0; i < 4; i++) {
            nonces.issue();
        }
        assertThat(nonces.check(old, "00000001")).isEqualTo(NonceService.Check.STALE);
    }
}
