package io.switchboard.telephony.auth;

import io.switchboard.platform.testing.MutableClock;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;

class NonceServiceTest {
    private static final String URI = "sip:alice@example.test:-1";
    private final MutableClock clock = new MutableClock(Instant.ofEpochMilli(1_700_000_000_000L));

    @Test
    void acceptsIncreasingNonceCountsAndRefusesReplays() {
        NonceService nonces = new NonceService(clock, Duration.ofMinutes(5), 1024);
        String nonce = nonces.issue(URI);
        assertThat(nonces.check(nonce, "00000001", null)).isEqualTo(NonceService.Check.VALID);
        assertThat(nonces.check(nonce, "00000001", null)).isEqualTo(NonceService.Check.REPLAYED);
        assertThat(nonces.check(nonce, "00000003", null)).isEqualTo(NonceService.Check.VALID);
        assertThat(nonces.check(nonce, "00000002", null)).isEqualTo(NonceService.Check.REPLAYED);
    }

    @Test
    void expiredNonceIsStale() {
        NonceService nonces = new NonceService(clock, Duration.ofMinutes(5), 1024);
        String nonce = nonces.issue(URI);
        clock.advance(Duration.ofMinutes(6));
        assertThat(nonces.check(nonce, "00000001", null)).isEqualTo(NonceService.Check.STALE);
    }

    @Test
    void forgedOrForeignNoncesAreInvalid() {
        NonceService nonces = new NonceService(clock, Duration.ofMinutes(5), 1024);
        NonceService other = new NonceService(clock, Duration.ofMinutes(5), 1024);
        String nonce = nonces.issue(URI);
        char[] tampered = nonce.toCharArray();
        tampered[3] = tampered[3] == 'A' ? 'B' : 'A';
        assertThat(nonces.check(new String(tampered), "00000001", null)).isEqualTo(NonceService.Check.INVALID);
        assertThat(nonces.check(other.issue(URI), "00000001", null)).isEqualTo(NonceService.Check.INVALID);
        assertThat(nonces.check("not base64 !", "00000001", null)).isEqualTo(NonceService.Check.INVALID);
    }

    @Test
    void nonceWhoseSlotWasReusedIsStale() {
        NonceService nonces = new NonceService(clock, Duration.ofMinutes(5), 4);
        String old = nonces.issue(URI);
        for (int i = 0; i < 4; i++) {
            nonces.issue(URI);
        }
        assertThat(nonces.check(old, "00000001", null)).isEqualTo(NonceService.Check.STALE);
    }

    /** The nonce remembers which Request-URI it was issued for, and only a valid nonce is asked. */
    @Test
    void aNonceIsBoundToTheRequestUriItsChallengeAnswered() {
        NonceService nonces = new NonceService(clock, Duration.ofMinutes(5), 1024);
        String nonce = nonces.issue(URI);
        assertThat(nonce).hasSize(43);
        assertThat(nonces.check(nonce, "00000001", "sip:bob@example.test:-1")).isEqualTo(NonceService.Check.OTHER_URI);
        // refused before the count: the same count still works for the right Request-URI
        assertThat(nonces.check(nonce, "00000001", URI)).isEqualTo(NonceService.Check.VALID);
        assertThat(nonces.check(nonce, "00000002", null)).isEqualTo(NonceService.Check.VALID);
        assertThat(nonces.check(nonces.issue("sip:bob@example.test:-1"), "00000001", URI))
                .isEqualTo(NonceService.Check.OTHER_URI);
        clock.advance(Duration.ofMinutes(6));
        assertThat(nonces.check(nonce, "00000003", "sip:bob@example.test:-1")).isEqualTo(NonceService.Check.STALE);
    }
}
