package io.switchboard.telephony.numbers;

import java.time.Instant;

/** A number as stored: its ring group and when it was created and last changed. */
public record NumberEntry(RingGroup group, Instant createdAt, Instant updatedAt) {
}
