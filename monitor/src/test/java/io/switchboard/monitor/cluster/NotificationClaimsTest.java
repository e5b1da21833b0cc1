package io.switchboard.monitor.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.switchboard.monitor.incident.Incident;
import io.switchboard.monitor.incident.IncidentEvent;
import io.switchboard.monitor.incident.IncidentStore;
import io.switchboard.monitor.incident.IncidentStore.ClaimKey;
import io.switchboard.platform.cluster.ClusterTable;
import io.switchboard.platform.cluster.Lease;
import io.switchboard.platform.cluster.Leases;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.platform.store.Store;
import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jdbi.v3.core.statement.StatementContext;
import org.jdbi.v3.core.statement.StatementCustomizer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The store's side of "one incident, one message per channel", with two nodes' views of one store
 * and real leases: claims made with the incident, taken when sent, handed over, and those a dead
 * node took ended as unknown, not sent again; warnings claimed once per start and end; timeline writes fenced.
 */
class NotificationClaimsTest {
    static final Duration EXPIRY = Duration.ofSeconds(30);
    @TempDir
    Path dir;
    PostgresTestDatabase postgres;
    Store store;
    Leases leasesA;
    Leases leasesB;
    IncidentStore nodeA;
    IncidentStore nodeB;

    @AfterEach
    void close() throws Exception {
        if (store != null) {
            store.close();
        }
        if (postgres != null) {
            postgres.close();
        }
    }

    private void open(String database) throws Exception {
        if (database.equals("sqlite")) {
            store = Store.open(new StoreSettings("jdbc:sqlite:" + dir.resolve("s.db"), null, null));
        } else {
            postgres = PostgresTestDatabase.create();
            store = Store.open(postgres.settings());
        }
        store.migrate("platform");
        store.migrate("monitor");
        ClusterTable table = new ClusterTable(store.jdbi(), store.isSqlite());
        table.register("node-a", "inc-a", Map.of(), "test", null, Duration.ofSeconds(1), EXPIRY);
        table.register("node-b", "inc-b", Map.of(), "test", null, Duration.ofSeconds(1), EXPIRY);
        leasesA = new Leases(store.jdbi(), store.isSqlite(), "node-a", "inc-a", EXPIRY);
        leasesB = new Leases(store.jdbi(), store.isSqlite(), "node-b", "inc-b", EXPIRY);
        nodeA = node(leasesA);
        nodeB = node(leasesB);
    }

    private IncidentStore node(Leases leases) {
        IncidentStore incidents = new IncidentStore(store.jdbi());
        incidents.fenceWith(leases::holds);
        incidents.claimAs(new IncidentStore.Claimant(leases.nodeId(), leases.incarnation(), leases::aliveSql, leases.expiryMillis()));
        return incidents;
    }

    /** The node stops heartbeating for longer than its expiry (it died). */
    private void dies(String nodeId) {
        store.jdbi().useHandle(h -> h.createUpdate("UPDATE platform_cluster_nodes SET heartbeat_at = heartbeat_at - 600000"
                + " WHERE node_id = :n").bind("n", nodeId).execute());
    }

    /** The node heartbeats again (as {@link #dies} had never happened). */
    private void lives(String nodeId) {
        store.jdbi().useHandle(h -> h.createUpdate("UPDATE platform_cluster_nodes SET heartbeat_at = heartbeat_at + 600000"
                + " WHERE node_id = :n AND heartbeat_at < :t").bind("n", nodeId).bind("t", System.currentTimeMillis() - 300_000).execute());
    }

    private Incident outage(Lease lease, String... channels) {
        return nodeA.open("shop", Instant.now(), Instant.now(), 2, "refused", "refused", null, List.of(), List.of(channels), lease);
    }

    private static ClaimKey down(Incident incident, String channel) {
        return new ClaimKey.Incident(incident.id(), channel, "down", 0);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aDownQueuedOnTheOldHolderAtAHandoverIsSentOnceByTheNewHolder(String database) throws Exception {
        open(database);
        Lease a = leasesA.acquire("monitor:shop").orElseThrow();
        Incident incident = outage(a, "hook", "mail");
        Instant at = Instant.now();
        assertThat(incident.downNotified()).isTrue();
        assertThat(nodeA.pending()).extracting(p -> p.key().channel()).containsExactly("hook", "mail");

        // node-a took "mail" (its channel is being called) and has "hook" still queued when it hands over
        assertThat(nodeA.take(down(incident, "mail"), a, at)).isTrue();
        assertThat(nodeA.take(down(incident, "mail"), a, at)).as("not twice from one node either").isFalse();
        leasesA.release(a);
        Lease b = leasesB.acquire("monitor:shop").orElseThrow();

        // the new holder sends what nobody is sending; "mail" is node-a's while node-a lives
        assertThat(nodeB.pending()).extracting(p -> p.key().channel()).containsExactly("hook");
        assertThat(nodeB.take(down(incident, "hook"), b, at)).isTrue();
        assertThat(nodeB.take(down(incident, "mail"), b, at)).isFalse();
        assertThat(nodeB.finish(down(incident, "hook"), "sent", at, new IncidentEvent(at, "notified", "down message sent to hook")))
                .isTrue();

        // node-a's queue drains: the lease it queued "hook" under is gone, so it does not send it again
        assertThatThrownBy(() -> nodeA.take(down(incident, "hook"), a, at)).isInstanceOf(LeaseLost.class);
        // node-a's delivery to "mail" ends: its claim, its outcome
        assertThat(nodeA.finish(down(incident, "mail"), "sent", at, new IncidentEvent(at, "notified", "down message sent to mail")))
                .isTrue();
        assertThat(nodeB.pending()).isEmpty();
        assertThat(nodeA.events(incident.id())).extracting(IncidentEvent::detail)
                .containsExactly("down message sent to hook", "down message sent to mail");
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aClaimBeingSentByANodeThatDiedIsPendingAgainCountedAsARepeat(String database) throws Exception {
        open(database);
        Lease a = leasesA.acquire("monitor:shop").orElseThrow();
        Incident incident = outage(a, "hook", "mail");
        Instant at = Instant.now();
        // node-a takes "hook" (it may or may not have called the channel) and dies before storing how it went; "mail" it never took
        IncidentStore.Taken first = nodeA.takeForSending(down(incident, "hook"), a, at).orElseThrow();
        assertThat(first.repeats()).isZero();
        assertThat(first.messageId()).hasSize(36);
        dies("node-a");
        Lease b = leasesB.acquire("monitor:shop").orElseThrow();
        assertThat(b.fence()).isGreaterThan(a.fence());

        // what node-a never took the new holder sends as it is; what it took is not taken as it is
        assertThat(nodeB.pending()).extracting(p -> p.key().channel(), IncidentStore.PendingClaim::repeats)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("mail", 0));
        assertThat(nodeB.take(down(incident, "hook"), b, at)).isFalse();
        assertThat(nodeB.orphaned()).extracting(IncidentStore.OrphanedClaim::key, IncidentStore.OrphanedClaim::takenBy)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(down(incident, "hook"), "node-a"));
        assertThat(nodeA.orphaned()).as("only the holder's monitors").isEmpty();
        assertThatThrownBy(() -> nodeA.resendOrphaned(down(incident, "hook"), a, at, null, null)).isInstanceOf(LeaseLost.class);

        IncidentEvent again = new IncidentEvent(at, "notify_again", "DOWN message to hook: node node-a stopped while sending it");
        assertThat(nodeB.resendOrphaned(down(incident, "hook"), b, at, again, null)).isEqualTo(IncidentStore.Orphan.SENT_AGAIN);
        assertThat(nodeB.resendOrphaned(down(incident, "hook"), b, at, again, null)).as("once").isEqualTo(IncidentStore.Orphan.NONE);
        assertThat(nodeB.orphaned()).isEmpty();
        // pending again, counted as a repeat: the holder sends it marked so
        assertThat(nodeB.pending()).extracting(p -> p.key().channel(), IncidentStore.PendingClaim::repeats)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("hook", 1), org.assertj.core.groups.Tuple.tuple("mail", 0));
        // the dead node's late end does not count: the claim is nobody's being sent
        assertThat(nodeA.finish(down(incident, "hook"), "sent", at, null)).isFalse();
        // taken again: the same message, a possible repeat
        assertThat(nodeB.takeForSending(down(incident, "hook"), b, at)).contains(new IncidentStore.Taken(first.messageId(), 1));
        assertThat(nodeB.finish(down(incident, "hook"), "sent", at, null)).isTrue();
        // the same DOWN to another channel is a message of its own, with its own id
        assertThat(nodeB.takeForSending(down(incident, "mail"), b, at).orElseThrow().messageId()).hasSize(36)
                .isNotEqualTo(first.messageId());
        assertThat(nodeB.finish(down(incident, "mail"), "sent", at, null)).isTrue();
        assertThat(nodeB.events(incident.id())).extracting(IncidentEvent::kind).containsOnlyOnce("notify_again");
        // a sent DOWN starts the reminders
        assertThat(nodeB.find(incident.id()).orElseThrow().lastNotifiedAt()).isNotNull();
        Map<String, Object> row = store.jdbi().withHandle(h -> h.createQuery("SELECT outcome, repeats FROM monitor_notification_claims"
                + " WHERE channel = 'hook'").mapToMap().one());
        assertThat(row.get("outcome")).isEqualTo("sent");
        assertThat(((Number) row.get("repeats")).intValue()).isEqualTo(1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aWarningBeingSentByANodeThatDiedIsPendingAgainCountedAsARepeat(String database) throws Exception {
        open(database);
        Lease a = leasesA.acquire("monitor:shop").orElseThrow();
        Instant at = Instant.now();
        List<IncidentStore.ClaimKey> made = nodeA.claimWarning("shop", List.of("hook"), "warning", "degraded", "cert expires soon",
                "the certificate expires in 10 days", a, at);
        assertThat(nodeA.take(made.getFirst(), a, at)).isTrue();
        dies("node-a");
        Lease b = leasesB.acquire("monitor:shop").orElseThrow();
        assertThat(nodeB.pendingWarnings()).isEmpty();
        assertThat(nodeB.resendOrphaned(made.getFirst(), b, at, null, null)).isEqualTo(IncidentStore.Orphan.SENT_AGAIN);
        assertThat(nodeB.pendingWarnings()).extracting(w -> w.key().channel(), IncidentStore.PendingWarning::repeats)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("hook", 1));
        assertThat(nodeB.takeForSending(made.getFirst(), b, at).orElseThrow().repeats()).isEqualTo(1);
    }

    /** A message that every node sending it died with (it kills its sender, or nodes restart in a loop) is not sent for ever. */
    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aDownThreeNodesDiedSendingEndsAsUnknownAndStartsTheReminders(String database) throws Exception {
        open(database);
        Lease lease = leasesA.acquire("monitor:shop").orElseThrow();
        Incident incident = outage(lease, "hook");
        Instant at = Instant.now();
        IncidentStore sender = nodeA;
        IncidentStore holder = nodeB;
        Leases holderLeases = leasesB;
        IncidentEvent again = new IncidentEvent(at, "notify_again", "sent again");
        IncidentEvent givenUp = new IncidentEvent(at, "notify_unknown", "given up");
        for (int death = 1; death <= IncidentStore.MAX_REPEATS + 1; death++) {
            assertThat(sender.takeForSending(down(incident, "hook"), lease, at).orElseThrow().repeats()).isEqualTo(death - 1);
            String dead = sender == nodeA ? "node-a" : "node-b";
            dies(dead);
            lives(dead.equals("node-a") ? "node-b" : "node-a");
            lease = holderLeases.acquire("monitor:shop").orElseThrow();
            IncidentStore.Orphan done = holder.resendOrphaned(down(incident, "hook"), lease, at, again, givenUp);
            assertThat(done).as("death %d", death)
                    .isEqualTo(death <= IncidentStore.MAX_REPEATS ? IncidentStore.Orphan.SENT_AGAIN : IncidentStore.Orphan.GIVEN_UP);
            IncidentStore nextHolder = sender;
            sender = holder;
            holder = nextHolder;
            holderLeases = holderLeases == leasesB ? leasesA : leasesB;
        }
        assertThat(sender.pending()).isEmpty();
        assertThat(nodeB.events(incident.id())).extracting(IncidentEvent::kind)
                .containsSubsequence("notify_again", "notify_again", "notify_unknown");
        // reminders are due from here: the next one repeats the DOWN if it was lost
        assertThat(nodeB.find(incident.id()).orElseThrow().lastNotifiedAt()).isNotNull();
        String outcome = store.jdbi().withHandle(h -> h.createQuery("SELECT outcome FROM monitor_notification_claims"
                + " WHERE channel = 'hook'").mapTo(String.class).one());
        assertThat(outcome).isEqualTo("unknown");
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aClaimOfANodeThatIsAliveIsNotOrphaned(String database) throws Exception {
        open(database);
        Lease a = leasesA.acquire("monitor:shop").orElseThrow();
        Incident incident = outage(a, "hook");
        Instant at = Instant.now();
        assertThat(nodeA.take(down(incident, "hook"), a, at)).isTrue();
        leasesA.release(a); // a handover while node-a's call is under way: node-a ends it itself
        Lease b = leasesB.acquire("monitor:shop").orElseThrow();
        assertThat(nodeB.orphaned()).isEmpty();
        assertThat(nodeB.resendOrphaned(down(incident, "hook"), b, at, null, null)).isEqualTo(IncidentStore.Orphan.NONE);
        assertThat(nodeA.finish(down(incident, "hook"), "sent", at, null)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void theRecoveryIsClaimedWithTheResolveSoANodeDyingRightAfterLosesNothing(String database) throws Exception {
        open(database);
        Lease a = leasesA.acquire("monitor:shop").orElseThrow();
        Incident incident = outage(a, "hook", "mail");
        Instant at = Instant.now();
        assertThat(nodeA.take(down(incident, "hook"), a, at)).isTrue();
        assertThat(nodeA.finish(down(incident, "hook"), "sent", at, null)).isTrue();
        // "mail" was never taken (say, a maintenance window held it back): cancelled, and nobody there hears of a recovery

        int recoveries = nodeA.resolve(incident.id(), at, 2, null, new IncidentEvent(at, "resolved", "up again"), a);
        assertThat(recoveries).isEqualTo(1);
        dies("node-a"); // before announcing anything

        Lease b = leasesB.acquire("monitor:shop").orElseThrow();
        List<IncidentStore.PendingClaim> pending = nodeB.pending();
        assertThat(pending).hasSize(1);
        assertThat(pending.getFirst().key()).isEqualTo(new ClaimKey.Incident(incident.id(), "hook", "recovered", 0));
        assertThat(pending.getFirst().incidentStatus()).isEqualTo("resolved");
        assertThat(nodeB.take(pending.getFirst().key(), b, at)).isTrue();
        assertThat(nodeB.finish(pending.getFirst().key(), "sent", at, null)).isTrue();
        assertThat(nodeB.pending()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aWarningIsClaimedOncePerStartAndEndWhicheverNodeChecks(String database) throws Exception {
        open(database);
        Lease a = leasesA.acquire("monitor:cert").orElseThrow();
        Instant at = Instant.now();
        List<ClaimKey> first = nodeA.claimWarning("cert", List.of("hook"), "warning", "degraded", "cert expires soon", "text", a, at);
        assertThat(first).hasSize(1);
        assertThat(nodeA.claimWarning("cert", List.of("hook"), "warning", "degraded", "again", "text", a, at)).isEmpty();
        leasesA.release(a);
        Lease b = leasesB.acquire("monitor:cert").orElseThrow();
        // the new holder starts without the warning in memory and sees it again: already announced
        assertThat(nodeB.claimWarning("cert", List.of("hook", "mail"), "warning", "degraded", "cert expires soon", "text", b, at))
                .extracting(ClaimKey::channel).containsExactly("mail");
        // the first claim, queued on node-a, is sent by node-b (node-a's lease is gone)
        assertThat(nodeB.pendingWarnings()).extracting(w -> w.key().channel()).containsExactly("hook", "mail");
        assertThatThrownBy(() -> nodeA.take(first.getFirst(), a, at)).isInstanceOf(LeaseLost.class);
        assertThat(nodeB.take(first.getFirst(), b, at)).isTrue();
        assertThat(nodeB.pendingWarnings().getFirst().subject()).isEqualTo("cert expires soon");

        assertThat(nodeB.claimWarning("cert", List.of("hook"), "warning_ended", "up", "renewed", "text", b, at)).hasSize(1);
        assertThat(nodeB.claimWarning("cert", List.of("hook"), "warning_ended", "up", "renewed", "text", b, at)).isEmpty();
        assertThatThrownBy(() -> nodeA.claimWarning("cert", List.of("hook"), "warning", "degraded", "late", "text", a, at))
                .isInstanceOf(LeaseLost.class);
    }

    /**
     * A warning whose start is still pending when it ends (a maintenance window held it back):
     * the start is cancelled and no end is claimed, nobody having been told it began; the next
     * warning is claimed as usual.
     */
    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aWarningOverBeforeItsStartWentOutIsNeitherToldNorEnded(String database) throws Exception {
        open(database);
        Lease a = leasesA.acquire("monitor:cert").orElseThrow();
        Instant at = Instant.now();
        assertThat(nodeA.claimWarning("cert", List.of("hook"), "warning", "degraded", "cert expires soon", "text", a, at)).hasSize(1);
        assertThat(nodeA.pendingWarnings()).hasSize(1);
        assertThat(nodeA.claimWarning("cert", List.of("hook"), "warning_ended", "up", "renewed", "text", a, at)).isEmpty();
        assertThat(nodeA.pendingWarnings()).as("the start is cancelled, no end is claimed").isEmpty();
        assertThat(nodeA.claimWarning("cert", List.of("hook"), "warning", "degraded", "cert expires soon", "text", a, at))
                .as("the next warning").hasSize(1);
    }

    /**
     * A start made pending again after the node sending it died may have reached the channel: its
     * end is claimed, not the start cancelled (the end went untold, and the next warning's start
     * was taken for a repeat of this one).
     */
    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aWarningStartSentAgainAfterItsSenderDiedGetsItsEnd(String database) throws Exception {
        open(database);
        Lease a = leasesA.acquire("monitor:cert").orElseThrow();
        Instant at = Instant.now();
        ClaimKey start = nodeA.claimWarning("cert", List.of("hook"), "warning", "degraded", "cert expires soon", "text", a, at)
                .getFirst();
        assertThat(nodeA.take(start, a, at)).isTrue();
        leasesA.release(a);
        dies("node-a");
        Lease b = leasesB.acquire("monitor:cert").orElseThrow();
        assertThat(nodeB.resendOrphaned(start, b, at, null, null)).isEqualTo(IncidentStore.Orphan.SENT_AGAIN);
        assertThat(nodeB.pendingWarnings()).extracting(IncidentStore.PendingWarning::repeats).containsExactly(1);

        assertThat(nodeB.claimWarning("cert", List.of("hook"), "warning_ended", "up", "renewed", "text", b, at))
                .as("the start may have arrived: its end is claimed").hasSize(1);
        assertThat(nodeB.pendingWarnings()).extracting(w -> w.event()).containsExactly("warning", "warning_ended");
    }

    /**
     * On PostgreSQL the dispatcher may take a pending start between the end's look at it and the
     * UPDATE that would cancel it: that UPDATE changes no row, the start goes out, and its end is
     * claimed (it used to be skipped, and the next warning's start with it).
     */
    @Test
    void aWarningStartTakenWhileItsEndIsClaimedGetsItsEnd() throws Exception {
        open("postgresql");
        Lease a = leasesA.acquire("monitor:cert").orElseThrow();
        Instant at = Instant.now();
        ClaimKey start = nodeA.claimWarning("cert", List.of("hook"), "warning", "degraded", "cert expires soon", "text", a, at)
                .getFirst();
        AtomicBoolean takenBetween = new AtomicBoolean();
        store.jdbi().addCustomizer(new StatementCustomizer() {
            @Override
            public void afterExecution(PreparedStatement statement, StatementContext ctx) {
                if (ctx.getRawSql().startsWith("SELECT seq, event,") && takenBetween.compareAndSet(false, true)) {
                    // the dispatcher, on its own connection, right after the look
                    CompletableFuture.supplyAsync(() -> nodeA.take(start, a, at)).join();
                }
            }
        });
        List<ClaimKey> ends = nodeA.claimWarning("cert", List.of("hook"), "warning_ended", "up", "renewed", "text", a, at);
        assertThat(takenBetween).isTrue();
        assertThat(ends).as("the start went out: its end is claimed").hasSize(1);
        assertThat(nodeA.pendingWarnings()).extracting(w -> w.event()).containsExactly("warning_ended");
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void timelineReportAndNotifiedWritesAreFenced(String database) throws Exception {
        open(database);
        Lease a = leasesA.acquire("monitor:shop").orElseThrow();
        Incident incident = outage(a);
        assertThat(incident.downNotified()).as("no channel: nothing claimed").isFalse();
        Instant at = Instant.now();
        nodeA.event(incident.id(), new IncidentEvent(at, "report", "while holding"), a);
        leasesA.release(a);
        leasesB.acquire("monitor:shop").orElseThrow();

        assertThatThrownBy(() -> nodeA.event(incident.id(), new IncidentEvent(at, "report", "late"), a)).isInstanceOf(LeaseLost.class);
        assertThatThrownBy(() -> nodeA.markNotified(incident.id(), at, a)).isInstanceOf(LeaseLost.class);
        assertThatThrownBy(() -> nodeA.setReport(incident.id(), "late", "template", a)).isInstanceOf(LeaseLost.class);
        assertThat(nodeA.events(incident.id())).extracting(IncidentEvent::detail).containsExactly("while holding");
        Incident stored = nodeA.find(incident.id()).orElseThrow();
        assertThat(stored.downNotified()).isFalse();
        assertThat(stored.report()).isNull();
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aMonitorHasAtMostOneOpenIncidentInTheStore(String database) throws Exception {
        open(database);
        IncidentStore incidents = new IncidentStore(store.jdbi());
        incidents.open("shop", Instant.now(), Instant.now(), 2, "refused", "refused", null, List.of());
        assertThatThrownBy(() -> incidents.open("shop", Instant.now(), Instant.now(), 2, "again", "again", null, List.of()))
                .isInstanceOf(RuntimeException.class);
        assertThat(incidents.open()).hasSize(1);
        incidents.open("other", Instant.now(), Instant.now(), 2, "refused", "refused", null, List.of());
        assertThat(incidents.open()).hasSize(2);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite"})
    void aLostLeaseRefusesTheClaimAndTheIncident(String database) throws Exception {
        open(database);
        Lease a = leasesA.acquire("monitor:shop").orElseThrow();
        Incident incident = outage(a, "hook");
        leasesA.release(a);
        assertThatThrownBy(() -> nodeA.claim(incident.id(), List.of("hook"), "reminder", 1, a, Instant.now()))
                .isInstanceOf(LeaseLost.class);
        assertThatThrownBy(() -> outage(new Lease("monitor:other", 1), "hook")).isInstanceOf(LeaseLost.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void staleClaimsOfMineAreThoseThisIncarnationTookLongAgoAndDidNotEnd(String database) throws Exception {
        open(database);
        Lease a = leasesA.acquire("monitor:shop").orElseThrow();
        Incident incident = outage(a, "hook", "mail", "chat");
        Instant longAgo = Instant.now().minusSeconds(3_600);
        assertThat(nodeA.take(down(incident, "hook"), a, longAgo)).isTrue();
        assertThat(nodeA.take(down(incident, "mail"), a, longAgo)).isTrue();
        assertThat(nodeA.finish(down(incident, "mail"), "sent", longAgo, null)).isTrue();
        assertThat(nodeA.take(down(incident, "chat"), a, Instant.now())).isTrue();
        assertThat(nodeA.staleOfMine(Instant.now().minusSeconds(60))).containsExactly(down(incident, "hook"));
        assertThat(nodeB.staleOfMine(Instant.now().minusSeconds(60))).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void eachNodeSweepsOnlyTheClaimsOfMonitorsItHoldsAndAResolveCancelsUntakenReminders(String database) throws Exception {
        open(database);
        Lease a = leasesA.acquire("monitor:shop").orElseThrow();
        Lease b = leasesB.acquire("monitor:web").orElseThrow();
        Incident shop = outage(a, "hook");
        Incident web = nodeB.open("web", Instant.now(), Instant.now(), 2, "refused", "refused", null, List.of(), List.of("hook"), b);
        assertThat(nodeA.pending()).extracting(p -> p.key().incidentId()).containsExactly(shop.id());
        assertThat(nodeB.pending()).extracting(p -> p.key().incidentId()).containsExactly(web.id());
        assertThat(nodeB.pending().getFirst().incident().monitor()).isEqualTo("web");

        Instant at = Instant.now();
        assertThat(nodeA.take(down(shop, "hook"), a, at)).isTrue();
        assertThat(nodeA.finish(down(shop, "hook"), "sent", at, null)).isTrue();
        assertThat(nodeA.claim(shop.id(), List.of("hook"), "reminder", 5, a, at)).containsExactly("hook");
        nodeA.resolve(shop.id(), at, 2, null, new IncidentEvent(at, "resolved", "up again"), a);
        String reminder = store.jdbi().withHandle(h -> h.createQuery("SELECT outcome FROM monitor_notification_claims"
                + " WHERE incident_id = :id AND event = 'reminder'").bind("id", shop.id()).mapTo(String.class).one());
        assertThat(reminder).isEqualTo("cancelled");
        assertThat(nodeA.pending()).extracting(p -> p.key().event()).containsExactly("recovered");
    }
}
