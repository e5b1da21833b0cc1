package io.switchboard.platform.auth;

import io.micrometer.core.instrument.MeterRegistry;
import io.switchboard.platform.store.Store;
import java.time.Clock;
import java.time.Duration;

/** A {@link PersonAuth} over a test's store, with a cheap password hash and brakes the test chooses. */
final class PeopleOnStore {
    private PeopleOnStore() {
    }

    /**
     * @param perUserAtAddress failed sign-ins allowed per user from one address in 15 minutes
     *                         (the brake a test locks out with); the other brakes are generous
     */
    static PersonAuth personAuth(Store store, Clock clock, MeterRegistry meters, int perUserAtAddress) {
        PersonAuth.Limits limits = new PersonAuth.Limits(new FailureLimiter(perUserAtAddress, Duration.ofMinutes(15), clock),
                new FailureLimiter(100, Duration.ofMinutes(15), clock), new FailureLimiter(50, Duration.ofMinutes(15), clock),
                new FailureLimiter(50, Duration.ofHours(1), clock));
        return new PersonAuth(new PersonStore(store.jdbi(), clock), new PasswordHasher(8, 1, 1),
                new SessionTokens(store.jdbi(), clock, Duration.ofMinutes(15), Duration.ofDays(30)), true, limits, clock,
                meters, Duration.ofHours(1));
    }
}
