package io.switchboard.sip.transaction;

import java.time.Duration;

/**
 * RFC 3261 §17.1.1.1 and table 4: T1 (RTT estimate, 500 ms), T2 (maximum retransmit interval for
 * non-INVITE requests and INVITE responses, 4 s) and T4 (maximum time a message stays in the
 * network, 5 s). Every other timer is derived from these.
 */
public record TimerSettings(Duration t1, Duration t2, Duration t4) {
    public static TimerSettings rfc3261() {
        return new TimerSettings(Duration.ofMillis(500), Duration.ofSeconds(4), Duration.ofSeconds(5));
    }

    /** 64*T1: Timers B, F, H, J, L and M. */
    public long timeout64Millis() {
        return 64 * t1.toMillis();
    }
}
