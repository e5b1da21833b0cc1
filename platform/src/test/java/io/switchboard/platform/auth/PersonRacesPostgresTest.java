package io.switchboard.platform.auth;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.platform.store.Simultaneously;
import io.switchboard.platform.store.Simultaneously.Outcome;
import io.switchboard.platform.store.Store;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Sign-ups of one name at the same moment through several nodes of one PostgreSQL store. */
class PersonRacesPostgresTest {
    @Test
    void oneNameSignedUpTogetherIsTakenOnceAndTheOthersHearItIsTaken() throws Exception {
        try (PostgresTestDatabase database = PostgresTestDatabase.create();
             Store store = Store.open(database.settings())) {
            store.migrate("platform");
            PersonStore people = new PersonStore(store.jdbi(), Clock.systemUTC());
            for (int round = 0; round < 20; round++) {
                String username = "anna" + round;
                List<Outcome<Person>> signUps = Simultaneously.run(4, () -> people.create(username, null, "hash", false));
                assertThat(signUps.stream().filter(Outcome::succeeded)).as("round %d", round).hasSize(1);
                assertThat(signUps.stream().filter(s -> !s.succeeded()))
                        .allSatisfy(s -> assertThat(s.failure()).isInstanceOf(PersonStore.UsernameTaken.class));
            }
        }
    }
}
