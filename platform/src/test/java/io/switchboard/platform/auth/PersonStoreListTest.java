package io.switchboard.platform.auth;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.platform.store.Store;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The people list by user-name prefix: the prefix is matched as written, on both stores. */
class PersonStoreListTest {
    @TempDir
    Path dir;

    @Test
    void aPrefixMatchesItselfOnSqlite() {
        try (Store store = Store.open(StoreSettings.sqliteIn(dir))) {
            prefixesMatchThemselves(store);
        }
    }

    @Test
    void aPrefixMatchesItselfOnPostgres() throws Exception {
        try (PostgresTestDatabase database = PostgresTestDatabase.create();
             Store store = Store.open(database.settings())) {
            prefixesMatchThemselves(store);
        }
    }

    private static void prefixesMatchThemselves(Store store) {
        store.migrate("platform");
        PersonStore people = new PersonStore(store.jdbi(), Clock.systemUTC());
        for (String name : new String[] {"b_r", "bor", "b_rn", "ivan"}) {
            people.create(name, null, "hash", false);
        }
        assertThat(people.list("b_", null, 10)).extracting(Person::username).containsExactly("b_r", "b_rn");
        assertThat(people.list("b_r", "b_r", 10)).extracting(Person::username).containsExactly("b_rn");
        assertThat(people.list("b", null, 10)).extracting(Person::username).containsExactlyInAnyOrder("b_r", "b_rn", "bor");
        assertThat(people.list("%", null, 10)).isEmpty();
        assertThat(people.list("_", null, 10)).isEmpty();
        assertThat(people.list("!", null, 10)).isEmpty();
        assertThat(people.list("", null, 10)).hasSize(4);
    }
}
