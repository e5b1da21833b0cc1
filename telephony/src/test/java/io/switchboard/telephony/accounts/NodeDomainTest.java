package io.switchboard.telephony.accounts;

import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The default domain a node records at start, on SQLite (the PostgreSQL subclass: again). */
class NodeDomainTest {
    @TempDir
    Path dir;
    Store store;
    AccountStore accounts;

    /** The store under test; the PostgreSQL subclass overrides it. */
    StoreSettings storeSettings() throws Exception {
        return StoreSettings.sqliteIn(dir);
    }

    @BeforeEach
    void open() throws Exception {
        store = Store.open(storeSettings());
        store.migrate("telephony");
        accounts = new AccountStore(store.jdbi(), Clock.systemUTC());
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
     * Nodes of a cluster starting together on a fresh store record the domain at the same moment: none
     * may fail on the primary key (a node of HaproxyDrainTest once did: "duplicate key … sip_settings_pkey").
     */
    @Test
    void nodesRecordingTogetherOnAFreshStoreAllStart() throws Exception {
        int nodes = 4;
        ExecutorService pool = Executors.newFixedThreadPool(nodes);
        try {
            for (int round = 0; round < 40; round++) {
                store.jdbi().useHandle(h -> h.execute("DELETE FROM sip_settings WHERE name = 'default_domain'"));
                CyclicBarrier together = new CyclicBarrier(nodes);
                List<Future<Optional<String>>> starts = new ArrayList<>();
                for (int n = 0; n < nodes; n++) {
                    starts.add(pool.submit(() -> {
                        together.await(10, TimeUnit.SECONDS);
                        return accounts.recordNodeDomain("drain.test");
                    }));
                }
                for (Future<Optional<String>> start : starts) {
                    assertThat(start.get(20, TimeUnit.SECONDS)).as("round %d", round).isEmpty();
                }
                assertThat(accounts.nodeDomain()).contains("drain.test");
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
