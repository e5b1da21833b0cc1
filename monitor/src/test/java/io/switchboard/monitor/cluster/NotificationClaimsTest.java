package io.switchboard.monitor.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.switchboard.monitor.incident.Incident;
import io.switchboard.monitor.incident.IncidentStore;
import io.switchboard.platform.cluster.Lease;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.platform.store.Store;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The store's side of "one incident, one message per channel": claims, their takeover, the one open incident. */
class NotificationClaimsTest {
    @TempDir
    Path dir;
    PostgresTestDatabase postgres;
    Store store;

    @AfterEach
    void close() throws Exception {
        if (store != null) {
            store.close();
        }
        if (postgres != null) {
            postgres.close();
        }
    }

    private IncidentStore open(String database) throws Exception {
        if (database.equals("sqlite")) {
            store = Store.open(new StoreSettings("jdbc:sqlite:" + dir.resolve("s.db"), null, null));
        } else {
            postgres = PostgresTestDatabase.create();
            store = Store.open(postgres.settings());
        }
        store.migrate("platform");
        store.migrate("monitor");
        return new IncidentStore(store.jdbi());
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aClaimIsSentOnceAndAnUnsentOneIsTakenOverByALaterFence(String database) throws Exception {
        IncidentStore incidents = open(database);
        Incident incident = incidents.open("shop", Instant.now(), Instant.now(), 2, "refused", "refused", null, List.of());
        Instant at = Instant.now();
        Lease first = new Lease("monitor:shop", 1);
        Lease second = new Lease("monitor:shop", 2);

        assertThat(incidents.claim(incident.id(), List.of("hook", "mail"), "down", 0, first, "node-a", at))
                .containsExactly("hook", "mail");
        assertThat(incidents.find(incident.id()).orElseThrow().downNotified()).isTrue();
        // the same holder asking again (a retry of the sweep) sends nothing twice
        assertThat(incidents.claim(incident.id(), List.of("hook", "mail"), "down", 0, first, "node-a", at)).isEmpty();
        incidents.claimSent(incident.id(), "hook", "down", 0, at);
        assertThat(incidents.hasUnsentDown(incident.id())).isTrue();

        // node-a died before "mail" took the message: the next holder sends only that one
        assertThat(incidents.claim(incident.id(), List.of("hook", "mail"), "down", 0, second, "node-b", at))
                .containsExactly("mail");
        incidents.claimSent(incident.id(), "mail", "down", 0, at);
        assertThat(incidents.hasUnsentDown(incident.id())).isFalse();
        assertThat(incidents.claim(incident.id(), List.of("hook", "mail"), "down", 0, new Lease("monitor:shop", 3), "node-c", at))
                .isEmpty();
        // a reminder is its own message
        assertThat(incidents.claim(incident.id(), List.of("hook"), "reminder", at.toEpochMilli(), second, "node-b", at))
                .containsExactly("hook");
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aMonitorHasAtMostOneOpenIncidentInTheStore(String database) throws Exception {
        IncidentStore incidents = open(database);
        incidents.open("shop", Instant.now(), Instant.now(), 2, "refused", "refused", null, List.of());
        assertThatThrownBy(() -> incidents.open("shop", Instant.now(), Instant.now(), 2, "again", "again", null, List.of()))
                .isInstanceOf(RuntimeException.class);
        assertThat(incidents.open()).hasSize(1);
        incidents.open("other", Instant.now(), Instant.now(), 2, "refused", "refused", null, List.of());
        assertThat(incidents.open()).hasSize(2);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite"})
    void aLostLeaseRefusesTheClaim(String database) throws Exception {
        IncidentStore incidents = open(database);
        Incident incident = incidents.open("shop", Instant.now(), Instant.now(), 2, "refused", "refused", null, List.of());
        incidents.fenceWith((h, lease) -> false);
        assertThatThrownBy(() -> incidents.claim(incident.id(), List.of("hook"), "down", 0, new Lease("monitor:shop", 1), "node-a",
                Instant.now())).isInstanceOf(LeaseLost.class);
        assertThat(incidents.find(incident.id()).orElseThrow().downNotified()).isFalse();
    }
}
