package io.switchboard.platform.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.http.ApiProblem;
import io.switchboard.platform.store.Store;
import io.switchboard.platform.testing.CapturedLog;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What an operator must be able to find in the log: a reused refresh token (a leaked copy, its
 * sign-in ended), a sign-in lockout, refused WebSocket tokens (rate-limited). Each names the
 * person where known and the client's address, and never a token or a password.
 */
class SecurityEventLogTest {
    private static final String PASSWORD = "anna-password-1";
    private static final String ADDRESS = "192.0.2.7";

    @TempDir
    Path dir;
    Store store;
    PersonAuth auth;
    CapturedLog log;

    @BeforeEach
    void open() {
        store = Store.open(StoreSettings.sqliteIn(dir));
        store.migrate("platform");
        auth = PeopleOnStore.personAuth(store, Clock.systemUTC(), new SimpleMeterRegistry(), 2);
        auth.create("anna", PASSWORD, null, false);
        log = CapturedLog.of(PersonAuth.class);
    }

    @AfterEach
    void close() {
        log.close();
        store.close();
    }

    @Test
    void aReusedRefreshTokenIsAWarningNamingThePersonAndTheAddress() {
        String first = auth.signIn("anna", PASSWORD, ADDRESS).tokens().refreshToken();
        String second = auth.refresh(first, ADDRESS).refreshToken();
        auth.refresh(second, ADDRESS); // the successor used: the first coming back is no lost answer's retry
        assertThat(log.messagesAt(Level.WARN)).isEmpty();

        assertThatThrownBy(() -> auth.refresh(first, "203.0.113.5")).isInstanceOf(ApiProblem.class);
        assertThat(log.messagesAt(Level.WARN)).singleElement().satisfies(line -> assertThat(line)
                .contains("refresh token of anna came back from 203.0.113.5", "sign-in was ended")
                .doesNotContain(first));
    }

    @Test
    void aLockoutIsOneWarningWithTheNameAndTheAddressAndNoPassword() {
        for (int i = 0; i < 2; i++) {
            assertThatThrownBy(() -> auth.signIn("anna", "wrong-password-1", ADDRESS)).isInstanceOf(ApiProblem.class);
        }
        assertThatThrownBy(() -> auth.signIn("anna", PASSWORD, ADDRESS))
                .isInstanceOfSatisfying(ApiProblem.class, problem -> assertThat(problem.status()).isEqualTo(429));
        assertThat(log.messagesAt(Level.WARN)).singleElement().satisfies(line -> assertThat(line)
                .contains("sign-ins as anna from 192.0.2.7 are locked out for up to 15m")
                .doesNotContain("wrong-password", PASSWORD));
    }

    @Test
    void aLockoutOfANameThatIsNoAccountsDoesNotWriteTheTextTried() {
        String tried = "my-secret-password\nWARN forged line";
        for (int i = 0; i < 2; i++) {
            assertThatThrownBy(() -> auth.signIn(tried, "wrong-password-1", ADDRESS)).isInstanceOf(ApiProblem.class);
        }
        assertThat(log.messagesAt(Level.WARN)).singleElement().satisfies(line -> assertThat(line)
                .contains("sign-ins as a name that is no account's from 192.0.2.7 are locked out")
                .doesNotContain("secret", "forged"));
    }

    /** An attacker rotating addresses gets a lockout per address: at most 20 warnings a minute, then how many were left out. */
    @Test
    void lockoutWarningsAreCappedPerMinuteWithTheCountLeftOut() {
        io.switchboard.platform.testing.MutableClock clock = io.switchboard.platform.testing.MutableClock.running();
        PersonAuth capped = PeopleOnStore.personAuth(store, clock, new SimpleMeterRegistry(), 2);
        int addresses = PersonAuth.LOCKOUT_LINES_PER_MINUTE + 5;
        for (int a = 0; a < addresses; a++) {
            String address = "198.51.100." + (a + 1);
            for (int i = 0; i < 2; i++) {
                assertThatThrownBy(() -> capped.signIn("anna", "wrong-password-1", address)).isInstanceOf(ApiProblem.class);
            }
        }
        assertThat(log.messagesAt(Level.WARN)).hasSize(PersonAuth.LOCKOUT_LINES_PER_MINUTE)
                .allSatisfy(line -> assertThat(line).contains("locked out").doesNotContain("left out"));

        clock.advance(java.time.Duration.ofSeconds(61));
        for (int i = 0; i < 2; i++) {
            assertThatThrownBy(() -> capped.signIn("anna", "wrong-password-1", "203.0.113.9")).isInstanceOf(ApiProblem.class);
        }
        assertThat(log.messagesAt(Level.WARN)).hasSize(PersonAuth.LOCKOUT_LINES_PER_MINUTE + 1).last().asString()
                .contains("sign-ins as anna from 203.0.113.9 are locked out", "(5 more lockout warnings left out before this one");
    }

    @Test
    void refusedUpgradeTokensAreLoggedOnceAMinuteAtInfo() {
        for (int i = 0; i < 5; i++) {
            auth.refusedUpgradeToken("/api/v1/stream", "198.51.100.4");
        }
        assertThat(log.lines()).singleElement().isEqualTo("INFO a WebSocket upgrade to /api/v1/stream from 198.51.100.4"
                + " was refused: its access token is not valid or has expired");
    }

    /** The minute is the clock PersonAuth is given, so a test (or a node whose clock is set) moves it. */
    @Test
    void aRefusedUpgradeTokenAMinuteLaterOnPersonAuthsClockIsLoggedWithTheCountPassedOver() {
        io.switchboard.platform.testing.MutableClock clock = io.switchboard.platform.testing.MutableClock.running();
        PersonAuth timed = PeopleOnStore.personAuth(store, clock, new SimpleMeterRegistry(), 2);
        timed.refusedUpgradeToken("/api/v1/stream", "198.51.100.4");
        timed.refusedUpgradeToken("/api/v1/stream", "198.51.100.4");
        clock.advance(java.time.Duration.ofMinutes(1));
        timed.refusedUpgradeToken("/api/v1/stream", "203.0.113.8");
        assertThat(log.lines()).hasSize(2).last().isEqualTo("INFO a WebSocket upgrade to /api/v1/stream from 203.0.113.8"
                + " was refused: its access token is not valid or has expired (1 more such refusals since the last line,"
                + " not logged)");
    }
}
