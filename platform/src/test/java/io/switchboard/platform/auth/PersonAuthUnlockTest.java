package io.switchboard.platform.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.platform.bus.LocalBus;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.http.ApiProblem;
import io.switchboard.platform.store.Store;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An operator's unlock reaches a node by up to three ways (its own API, the bus, the store poll)
 * and clears the name's lockout there once: failures counted after the first clearing are an
 * attacker's guesses, which a second clearing would wipe. Two nodes share one store and one bus;
 * the poll is run by hand (its timer is an hour) so the order of the ways is the test's.
 */
class PersonAuthUnlockTest {
    private static final String PASSWORD = "anna-password-1";
    private static final String ADDRESS = "192.0.2.7";

    @TempDir
    Path dir;
    Store store;
    LocalBus bus;
    PersonAuth nodeA;
    PersonAuth nodeB;

    @BeforeEach
    void open() {
        store = Store.open(StoreSettings.sqliteIn(dir));
        store.migrate("platform");
        bus = new LocalBus(new SimpleMeterRegistry());
        nodeA = node();
        nodeB = node();
        nodeA.connect(bus);
        nodeB.connect(bus);
        nodeA.start();
        nodeB.start();
        nodeA.create("anna", PASSWORD, null, false);
    }

    @AfterEach
    void close() {
        nodeA.stop();
        nodeB.stop();
        store.close();
    }

    @Test
    void anUnlockHeardOnTheBusIsNotClearedAgainByThePoll() {
        lockOut(nodeB);
        nodeA.unlock("anna");
        assertThat(signInStatus(nodeB)).isEqualTo(200);

        lockOut(nodeB);
        nodeB.pollRevision();
        assertThat(signInStatus(nodeB)).as("the guesses made after the unlock still count").isEqualTo(429);
    }

    @Test
    void theNodeThatUnlockedDoesNotClearAgainWhenItsAnnouncementComesBackOrItsPollPasses() {
        lockOut(nodeA);
        nodeA.unlock("anna");
        long revision = nodeA.people().revision();
        lockOut(nodeA);
        // over RabbitMQ the node's own announcement comes back later (the local bus hands it back
        // at once, inside unlock): as late as this
        bus.publish(PersonAuth.SIGN_IN_UNLOCKED, new PersonAuth.SignInUnlocked("anna", revision));
        assertThat(signInStatus(nodeA)).isEqualTo(429);
        nodeA.pollRevision();
        assertThat(signInStatus(nodeA)).isEqualTo(429);
    }

    @Test
    void anAnnouncementArrivingAfterThePollReadTheUnlockIsPassedOver() {
        lockOut(nodeB);
        // the CLI writes the unlock to the store and announces nothing; the poll brings it
        PersonAuth cli = node();
        cli.unlock("anna");
        nodeB.pollRevision();
        assertThat(signInStatus(nodeB)).isEqualTo(200);

        lockOut(nodeB);
        bus.publish(PersonAuth.SIGN_IN_UNLOCKED, new PersonAuth.SignInUnlocked("anna", cli.people().revision()));
        assertThat(signInStatus(nodeB)).isEqualTo(429);
    }

    @Test
    void anAnnouncementWithoutARevisionFromAnEarlierVersionStillClears() {
        lockOut(nodeB);
        bus.publish(PersonAuth.SIGN_IN_UNLOCKED, new PersonAuth.SignInUnlocked("anna", null));
        assertThat(signInStatus(nodeB)).isEqualTo(200);
    }

    private PersonAuth node() {
        return PeopleOnStore.personAuth(store, Clock.systemUTC(), new SimpleMeterRegistry(), 2);
    }

    /** Two wrong passwords: the per-user-from-an-address brake (two allowed) is spent, and the right one gets 429. */
    private static void lockOut(PersonAuth node) {
        for (int i = 0; i < 2; i++) {
            assertThatThrownBy(() -> node.signIn("anna", "wrong-password", ADDRESS))
                    .isInstanceOfSatisfying(ApiProblem.class, problem -> assertThat(problem.status()).isEqualTo(401));
        }
        assertThat(signInStatus(node)).isEqualTo(429);
    }

    private static int signInStatus(PersonAuth node) {
        try {
            node.signIn("anna", PASSWORD, ADDRESS);
            return 200;
        } catch (ApiProblem problem) {
            return problem.status();
        }
    }
}
