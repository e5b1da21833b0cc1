package io.switchboard.telephony.accounts;

import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Simultaneously;
import io.switchboard.platform.store.Simultaneously.Outcome;
import io.switchboard.platform.store.Store;
import io.switchboard.telephony.numbers.NumberStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Callable;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Nodes of a cluster meeting in the store: the default domain each records at start, and the same
 * names added at the same moment. On SQLite (one writer at a time) and, in the subclass, on
 * PostgreSQL, where the transactions really overlap.
 */
class AccountRacesTest {
    static final String DOMAIN = "flats.test";

    @TempDir
    Path dir;
    Store store;
    AccountStore accounts;
    NumberStore numbers;

    /** The store under test; the PostgreSQL subclass overrides it. */
    StoreSettings storeSettings() throws Exception {
        return StoreSettings.sqliteIn(dir);
    }

    @BeforeEach
    void open() throws Exception {
        store = Store.open(storeSettings());
        store.migrate("telephony");
        accounts = new AccountStore(store.jdbi(), Clock.systemUTC());
        numbers = new NumberStore(store.jdbi(), Clock.systemUTC());
    }

    @AfterEach
    void close() {
        if (store != null) {
            store.close();
            store = null;
        }
    }

    @Test
    void theFirstStartRecordsTheDomainAndALaterOtherDomainReportsTheOldOne() {
        assertThat(accounts.nodeDomain()).isEmpty();
        assertThat(accounts.recordNodeDomain("Flats.Test")).isEmpty();
        assertThat(accounts.nodeDomain()).contains("flats.test");
        assertThat(accounts.recordNodeDomain("flats.test")).isEmpty();
        assertThat(accounts.recordNodeDomain("office.test")).contains("flats.test");
        assertThat(accounts.nodeDomain()).contains("office.test");
    }

    /**
     * Nodes starting together on a fresh store record the domain at the same moment: none may
     * fail on the primary key (a node of HaproxyDrainTest once did: "duplicate key … sip_settings_pkey").
     */
    @Test
    void nodesRecordingTheDomainTogetherOnAFreshStoreAllStart() throws Exception {
        for (int round = 0; round < 40; round++) {
            store.jdbi().useHandle(h -> h.execute("DELETE FROM sip_settings WHERE name = 'default_domain'"));
            List<Outcome<Object>> starts = Simultaneously.run(4, () -> accounts.recordNodeDomain("drain.test"));
            assertThat(starts).as("round %d", round).allSatisfy(start -> {
                assertThat(start.failure()).isNull();
                assertThat(start.value()).isEqualTo(java.util.Optional.empty());
            });
            assertThat(accounts.nodeDomain()).contains("drain.test");
        }
    }

    /** Two nodes adding one account at once: one adds it, the others are told it exists (a 409, not a 500). */
    @Test
    void theSameAccountAddedTogetherIsAddedOnceAndTheOthersHearItExists() throws Exception {
        for (int round = 0; round < 20; round++) {
            String username = "flat" + round;
            List<Outcome<Account>> adds = Simultaneously.run(4, () -> accounts.add(username, DOMAIN, "secret-" + username));
            assertThat(adds.stream().filter(Outcome::succeeded)).as("round %d", round).hasSize(1);
            assertThat(adds.stream().filter(add -> !add.succeeded())).allSatisfy(add -> assertThat(add.failure())
                    .isInstanceOfSatisfying(AccountException.class,
                            e -> assertThat(e.kind()).isEqualTo(AccountException.Kind.EXISTS)));
        }
    }

    /** An account and a number of one name made at once: dialing the name must never be ambiguous. */
    @Test
    void anAccountAndANumberOfOneNameMadeTogetherAreNeverBoth() throws Exception {
        accounts.add("porter", DOMAIN, "secret-porter");
        for (int round = 0; round < 20; round++) {
            String name = "10" + round;
            Callable<Object> account = () -> accounts.add(name, DOMAIN, "secret-" + name);
            Callable<Object> number = () -> numbers.put(name, DOMAIN, "Flat " + name, List.of("porter"));
            List<Outcome<Object>> made = Simultaneously.run(List.of(account, number));
            assertThat(made.stream().filter(Outcome::succeeded)).as("round %d", round).hasSize(1);
            boolean isAccount = accounts.find(name, DOMAIN).isPresent();
            boolean isNumber = numbers.find(name, DOMAIN).isPresent();
            assertThat(isAccount ^ isNumber).as("round %d: account %s, number %s", round, isAccount, isNumber).isTrue();
        }
    }
}
