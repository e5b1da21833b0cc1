package io.switchboard.monitor.incident;

import io.switchboard.monitor.cluster.LeaseLost;
import io.switchboard.monitor.history.ResultWriter;
import io.switchboard.platform.cluster.Lease;
import io.switchboard.monitor.history.StoredText;
import io.switchboard.monitor.definition.DurationText;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.Query;

/** Incidents and their timelines in {@code monitor_incidents} and {@code monitor_incident_events}. */
public final class IncidentStore {
    private final Jdbi jdbi;
    private volatile ResultWriter.Fence fence = (h, lease) -> true;
    private volatile Claimant claimant = Claimant.UNCLUSTERED;

    /**
     * Who claims notifications here and how to tell whether the node that took a claim is alive.
     *
     * @param aliveSql builds the SQL condition "this node and incarnation are alive" (binds {@code :expiry})
     */
    public record Claimant(String nodeId, String incarnation, java.util.function.BinaryOperator<String> aliveSql, long expiryMillis) {
        /** A single node without a cluster: no other node could be sending. */
        static final Claimant UNCLUSTERED = new Claimant("node", "", (node, incarnation) -> ":expiry < 0", 0);

        String aliveSql(String nodeColumn, String incarnationColumn) {
            return aliveSql.apply(nodeColumn, incarnationColumn);
        }
    }

    /** A claim: of an incident's message, or of a monitor's warning. */
    public sealed interface ClaimKey {
        String table();

        String where();

        Map<String, Object> binds();

        String channel();

        /** The message in words, for the log: "the DOWN message of incident 45 to channel ops-hook". */
        String describe();

        record Incident(long incidentId, String channel, String event, long seq) implements ClaimKey {
            /** "recovery" or the event in capitals (DOWN, REMINDER), as the timeline names messages. */
            public String eventWords() {
                return event.equals("recovered") ? "recovery" : event.toUpperCase(java.util.Locale.ROOT);
            }

            @Override
            public String describe() {
                return "the " + eventWords() + " message of incident " + incidentId + " to channel " + channel;
            }

            @Override
            public String table() {
                return "monitor_notification_claims";
            }

            @Override
            public String where() {
                return "incident_id = :k_id AND channel = :k_c AND event = :k_e AND seq = :k_s";
            }

            @Override
            public Map<String, Object> binds() {
                return Map.of("k_id", incidentId, "k_c", channel, "k_e", event, "k_s", seq);
            }
        }

        record Warning(String monitor, String channel, long seq) implements ClaimKey {
            @Override
            public String describe() {
                return "the certificate warning of " + monitor + " to channel " + channel;
            }

            @Override
            public String table() {
                return "monitor_warning_claims";
            }

            @Override
            public String where() {
                return "monitor = :k_m AND channel = :k_c AND seq = :k_s";
            }

            @Override
            public Map<String, Object> binds() {
                return Map.of("k_m", monitor, "k_c", channel, "k_s", seq);
            }
        }
    }

    /**
     * An incident claim nobody is sending, with its incident (read in the same query).
     *
     * @param repeats how often a node that was sending it died first (see {@link #resendOrphaned}): when not 0 the
     *                channel may have it already, and it goes out marked as a possible repeat
     */
    public record PendingClaim(ClaimKey.Incident key, Incident incident, int repeats) {
        public String monitor() {
            return incident.monitor();
        }

        public String incidentStatus() {
            return incident.status();
        }
    }

    /** A claim whose taker died before ending it (see {@link #orphaned()}). */
    public record OrphanedClaim(ClaimKey key, String monitor, String takenBy) {
    }

    /**
     * A warning claim nobody is sending, with the message it stands for, as written when it was
     * claimed at {@code claimedAt}; {@code repeats} as in {@link PendingClaim}.
     */
    public record PendingWarning(ClaimKey.Warning key, String event, String status, String subject, String text, int repeats,
                                 Instant claimedAt) {
    }

    public IncidentStore(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** Claims notifications as {@code claimant} (in a cluster: this node, its incarnation, how the cluster judges liveness). */
    public void claimAs(Claimant claimant) {
        this.claimant = claimant;
    }

    /** Makes writes that carry a lease conditional on it, in their own transaction. */
    public void fenceWith(ResultWriter.Fence fence) {
        this.fence = fence;
    }

    /**
     * Checks the lease as the FIRST statement of the caller's transaction: on PostgreSQL the check
     * share-locks the lease row, and taking a lease over locks that row before anything else. With
     * the lease row always locked before the incident, counter and claim rows written under it,
     * a write and a takeover wait for each other in one order only and cannot deadlock.
     */
    private void requireLease(Handle h, Lease lease, String what) {
        if (lease != null && !fence.holds(h, lease)) {
            throw new LeaseLost(what);
        }
    }

    /** The monitor was paused after the result that would open its incident was taken: nothing was written. */
    public static final class MonitorPaused extends RuntimeException {
        MonitorPaused(String monitor) {
            super(monitor + " was paused while its check ran", null, false, false);
        }
    }

    /** As {@link #open(String, Instant, Instant, int, String, String, Instant, List, List, Lease)} without a lease or claims. */
    public Incident open(String monitor, Instant startedAt, Instant openedAt, int failedChecks, String firstError,
                         String lastError, Instant lastSuccessAt, List<IncidentEvent> events) {
        return open(monitor, startedAt, openedAt, failedChecks, firstError, lastError, lastSuccessAt, events, List.of(), null);
    }

    /** As {@link #resolve(long, Instant, int, String, IncidentEvent, Lease)} without a lease. */
    public void resolve(long id, Instant resolvedAt, int failedChecks, String lastError, IncidentEvent event) {
        resolve(id, resolvedAt, failedChecks, lastError, event, null);
    }

    /**
     * Opens an incident with its first timeline entries and, under a lease, a pending DOWN claim
     * for each of {@code downChannels}, in one transaction: the duty to tell is stored with the
     * incident, so whichever node holds the monitor next sends what this one could not (see
     * {@code V3__claims_at_the_source.sql}). Returns the incident with its new id.
     *
     * @throws LeaseLost when the lease no longer holds (nothing is written)
     * @throws MonitorPaused when the monitor is paused in the catalog (nothing is written)
     */
    public Incident open(String monitor, Instant startedAt, Instant openedAt, int failedChecks, String firstError,
                         String lastError, Instant lastSuccessAt, List<IncidentEvent> events, List<String> downChannels, Lease lease) {
        return jdbi.inTransaction(h -> {
            requireLease(h, lease, "opening an incident"); // first: see requireLease
            if (io.switchboard.monitor.definition.MonitorCatalog.pausedUnderLock(h, monitor)) {
                // paused while the check that failed last was running: nothing is opened or sent
                // for a paused monitor, and an incident opened now would have no "paused" entry
                throw new MonitorPaused(monitor);
            }
            h.createUpdate("UPDATE monitor_counters SET value = value + 1 WHERE name = 'incident'").execute();
            long id = h.createQuery("SELECT value FROM monitor_counters WHERE name = 'incident'").mapTo(Long.class).one();
            boolean claimed = lease != null && !downChannels.isEmpty();
            h.createUpdate("INSERT INTO monitor_incidents (id, monitor, status, started_at, opened_at, failed_checks,"
                            + " first_error, last_error, down_error, last_success_at, down_notified) VALUES (:id, :m, 'open', :s, :o, :f,"
                            + " :fe, :le, :le, :ls, :dn)")
                    .bind("id", id).bind("m", monitor).bind("s", startedAt.toEpochMilli()).bind("o", openedAt.toEpochMilli())
                    .bind("f", failedChecks).bind("fe", StoredText.clean(firstError)).bind("le", StoredText.clean(lastError))
                    .bind("ls", lastSuccessAt == null ? null : lastSuccessAt.toEpochMilli()).bind("dn", claimed ? 1 : 0).execute();
            for (IncidentEvent e : events) {
                append(h, id, e);
            }
            if (claimed) {
                for (String channel : downChannels) {
                    insertClaim(h, id, channel, "down", 0, lease, openedAt);
                }
            }
            return find(h, id).orElseThrow();
        });
    }

    /**
     * Resolves an incident and, under a lease, turns its DOWN claims into recovery claims in the
     * same transaction: a DOWN never taken (held back by a maintenance window, or queued) is
     * cancelled, and each channel told of the outage (a DOWN or reminder sent, possibly sent, or
     * going out) gets a pending recovery claim, so a node that dies right after the commit leaves
     * the recovery to its successor.
     *
     * @return how many recovery claims were made (0: nobody had been told, or not clustered)
     * @throws LeaseLost when the lease no longer holds (nothing is written)
     */
    public int resolve(long id, Instant resolvedAt, int failedChecks, String lastError, IncidentEvent event, Lease lease) {
        return jdbi.inTransaction(h -> {
            requireLease(h, lease, "resolving an incident"); // first: see requireLease
            h.createUpdate("UPDATE monitor_incidents SET status = 'resolved', resolved_at = :r, failed_checks = :f,"
                            + " last_error = COALESCE(:le, last_error) WHERE id = :id")
                    .bind("r", resolvedAt.toEpochMilli()).bind("f", failedChecks).bind("le", StoredText.clean(lastError))
                    .bind("id", id).execute();
            append(h, id, event);
            // a DOWN or reminder nobody took is no longer meant once the monitor is up again
            h.createUpdate("UPDATE monitor_notification_claims SET sent_at = :t, outcome = 'cancelled' WHERE incident_id = :id"
                            + " AND event <> 'recovered' AND sent_at IS NULL AND sending_at IS NULL")
                    .bind("t", resolvedAt.toEpochMilli()).bind("id", id).execute();
            if (lease == null) {
                return 0; // not clustered, or closed because its monitor was removed: no recovery message
            }
            // told: a DOWN or reminder that went out, may have (cut short), or is going out now; not
            // one that failed on every attempt (that channel never heard of the outage)
            List<String> told = h.createQuery("SELECT DISTINCT channel FROM monitor_notification_claims WHERE incident_id = :id"
                            + " AND event IN ('down', 'reminder') AND (outcome IS NULL OR outcome IN ('sent', 'unknown'))"
                            + " ORDER BY channel")
                    .bind("id", id).mapTo(String.class).list();
            for (String channel : told) {
                insertClaim(h, id, channel, "recovered", 0, lease, resolvedAt);
            }
            return told.size();
        });
    }

    /**
     * Which of {@code incidents} people were told of: a DOWN or reminder went out to at least one
     * channel (its claim ended sent; recorded on the incident as {@code told_at}). Not the
     * incident's own mark, which says only that telling began: also true of a DOWN a maintenance
     * window holds back, one that failed on every channel, and an incident with no channel.
     */
    public java.util.Set<Long> told(List<Incident> incidents) {
        if (incidents.isEmpty()) {
            return java.util.Set.of();
        }
        List<Long> ids = incidents.stream().map(Incident::id).toList();
        // or a sent claim not yet copied: an older node (a rolling upgrade) ends claims without told_at
        return jdbi.withHandle(h -> new java.util.HashSet<>(h.createQuery("SELECT i.id FROM monitor_incidents i"
                        + " WHERE i.id IN (<ids>) AND (i.told_at IS NOT NULL OR EXISTS (SELECT 1 FROM monitor_notification_claims c"
                        + " WHERE c.incident_id = i.id AND c.event IN ('down', 'reminder') AND c.outcome = 'sent'))")
                .bindList("ids", ids).mapTo(Long.class).list()));
    }

    /** The channels a resolved incident's recovery is claimed for (clustered: see {@link #resolve}). */
    public List<String> recoveryChannels(long id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT channel FROM monitor_notification_claims WHERE incident_id = :id"
                + " AND event = 'recovered' ORDER BY channel").bind("id", id).mapTo(String.class).list());
    }

    /** A pending claim, with its message's id: one per channel (see {@link #newMessageId}). */
    private int insertClaim(Handle h, long id, String channel, String event, long seq, Lease lease, Instant at) {
        return h.createUpdate("INSERT INTO monitor_notification_claims (incident_id, channel, event, seq, node_id, incarnation,"
                        + " fence, claimed_at, message_id) VALUES (:id, :c, :e, :s, :n, :inc, :f, :t, :mid) ON CONFLICT DO NOTHING")
                .bind("id", id).bind("c", channel).bind("e", event).bind("s", seq).bind("n", claimant.nodeId())
                .bind("inc", claimant.incarnation()).bind("f", lease.fence()).bind("t", at.toEpochMilli()).bind("mid", newMessageId())
                .execute();
    }

    /**
     * A message's id: random, so that it names this message only, whatever else a receiver hears
     * from (another installation, this one after its database was reset); stored with the claim,
     * so every delivery of the message carries the same one. One per channel: two channels
     * pointing at one receiver that drops ids it has seen must each get their message.
     */
    public static String newMessageId() {
        return java.util.UUID.randomUUID().toString();
    }

    /**
     * Claims {@code event} number {@code seq} of incident {@code id} (a reminder, seq telling
     * reminders apart, or a DOWN for channels that have no claim yet) for each of {@code channels},
     * under {@code lease}, as pending claims, and records it on the incident (a reminder: the time
     * of the last notification; a DOWN: that people are being told), in one transaction. Sending
     * takes each claim then ({@link #take}).
     *
     * @return the channels claimed now (none when this reminder was claimed before)
     * @throws LeaseLost when the lease no longer holds
     */
    public List<String> claim(long id, List<String> channels, String event, long seq, Lease lease, Instant at) {
        return jdbi.inTransaction(h -> {
            requireLease(h, lease, "claiming a notification"); // first: see requireLease
            List<String> mine = new java.util.ArrayList<>();
            for (String channel : channels) {
                if (insertClaim(h, id, channel, event, seq, lease, at) == 1) {
                    mine.add(channel);
                }
            }
            if (event.equals("down")) {
                h.createUpdate("UPDATE monitor_incidents SET down_notified = 1 WHERE id = :id").bind("id", id).execute();
            } else {
                h.createUpdate("UPDATE monitor_incidents SET last_notified_at = :t WHERE id = :id")
                        .bind("t", at.toEpochMilli()).bind("id", id).execute();
            }
            return mine;
        });
    }

    /** A channel's latest warning claim not cancelled: whether it is the start or the end, and whether nobody took it yet. */
    private record LatestWarning(long seq, String event, boolean pending) {
    }

    /**
     * Claims the start ({@code warning}) or the end ({@code warning_ended}) of a monitor's warning
     * for each of {@code channels}, under {@code lease}: a channel is claimed only when its latest
     * warning claim is of the other kind (or there is none for a start), so a warning already
     * announced by whichever node is not announced again. The message is stored with the claim.
     * Cancelled claims do not count: nobody was told of them. A start still pending (held back by
     * a maintenance window, or not sent yet) when its end is claimed is cancelled instead, and no
     * end is claimed for that channel: nobody was told the warning began. Only a start never taken
     * is cancelled so: one made pending again after its sender died ({@code repeats} > 0) may have
     * arrived, and one taken meanwhile by the dispatcher (the SELECT locks no claim row, so on
     * PostgreSQL a take can commit between it and the cancelling UPDATE, which then changes no
     * row) goes out: both get their end claimed.
     *
     * @return the claims made, pending, one per channel claimed
     * @throws LeaseLost when the lease no longer holds
     */
    public List<ClaimKey> claimWarning(String monitor, List<String> channels, String event, String status, String subject,
                                       String text, Lease lease, Instant at) {
        return jdbi.inTransaction(h -> {
            requireLease(h, lease, "claiming a warning"); // first: see requireLease
            List<ClaimKey> made = new java.util.ArrayList<>();
            for (String channel : channels) {
                Optional<LatestWarning> latest = h.createQuery("SELECT seq, event,"
                                + " sending_at IS NULL AND sent_at IS NULL AND repeats = 0 FROM monitor_warning_claims WHERE monitor = :m AND channel = :c"
                                + " AND (outcome IS NULL OR outcome <> 'cancelled') ORDER BY seq DESC LIMIT 1")
                        .bind("m", monitor).bind("c", channel)
                        .map((rs, ctx) -> new LatestWarning(rs.getLong(1), rs.getString(2), rs.getBoolean(3))).findOne();
                boolean due = event.equals("warning") ? latest.map(l -> !l.event().equals("warning")).orElse(true)
                        : latest.map(l -> l.event().equals("warning")).orElse(false);
                if (!due) {
                    continue;
                }
                if (!event.equals("warning") && latest.get().pending()
                        && h.createUpdate("UPDATE monitor_warning_claims SET sent_at = :t, outcome = 'cancelled' WHERE monitor = :m"
                                        + " AND channel = :c AND seq = :s AND sent_at IS NULL AND sending_at IS NULL AND repeats = 0")
                                .bind("t", at.toEpochMilli()).bind("m", monitor).bind("c", channel).bind("s", latest.get().seq())
                                .execute() == 1) {
                    continue;
                }
                long seq = h.createQuery("SELECT COALESCE(MAX(seq), 0) + 1 FROM monitor_warning_claims WHERE monitor = :m"
                                + " AND channel = :c")
                        .bind("m", monitor).bind("c", channel).mapTo(Long.class).one();
                h.createUpdate("INSERT INTO monitor_warning_claims (monitor, channel, seq, event, status, subject, text, node_id,"
                                + " incarnation, fence, claimed_at, message_id) VALUES (:m, :c, :s, :e, :st, :sub, :txt, :n, :inc, :f,"
                                + " :t, :mid)")
                        .bind("m", monitor).bind("c", channel).bind("s", seq).bind("e", event).bind("st", status)
                        .bind("sub", StoredText.clean(subject)).bind("txt", StoredText.clean(text)).bind("n", claimant.nodeId())
                        .bind("inc", claimant.incarnation()).bind("f", lease.fence()).bind("t", at.toEpochMilli())
                        .bind("mid", newMessageId()).execute();
                made.add(new ClaimKey.Warning(monitor, channel, seq));
            }
            return made;
        });
    }

    /**
     * Takes a claim for sending, right before its channel is called: in a transaction that first
     * checks {@code lease}, marks the claim as being sent by this node. Refused when the lease no
     * longer holds (a message queued before a handover: the new holder sends it), when the claim is
     * done, or when another node took it. A claim taken by a node that died is not taken as it is:
     * the holder first makes it pending again ({@link #resendOrphaned}), counting the repeat, and
     * it is sent marked as a possible repeat.
     *
     * @return whether this node must send it now
     * @throws LeaseLost when the lease no longer holds
     */
    public boolean take(ClaimKey key, Lease lease, Instant at) {
        return takeForSending(key, lease, at).isPresent();
    }

    /**
     * A claim taken for sending: the message's id, and how often a node died while sending it
     * before (not 0: the channel may have it already, and it goes out marked as a possible repeat).
     */
    public record Taken(String messageId, int repeats) {
    }

    /** As {@link #take}, with what the message is sent as; empty when this node must not send it. */
    public Optional<Taken> takeForSending(ClaimKey key, Lease lease, Instant at) {
        return jdbi.inTransaction(h -> {
            requireLease(h, lease, "taking a notification claim"); // first: see requireLease
            String table = key.table();
            // a claim made without an id (by hand, or by a release before ids) gets its one here, kept for every later delivery
            boolean taken = h.createUpdate("UPDATE " + table + " SET node_id = :n, incarnation = :inc, fence = :f, sending_at = :t,"
                            + " message_id = COALESCE(message_id, :mid) WHERE " + key.where() + " AND sent_at IS NULL AND sending_at IS NULL")
                    .bindMap(key.binds()).bind("n", claimant.nodeId()).bind("inc", claimant.incarnation())
                    .bind("f", lease.fence()).bind("t", at.toEpochMilli()).bind("mid", newMessageId())
                    .execute() == 1;
            if (!taken) {
                return Optional.<Taken>empty();
            }
            return Optional.of(h.createQuery("SELECT message_id, repeats FROM " + table + " WHERE " + key.where())
                    .bindMap(key.binds()).map((rs, ctx) -> new Taken(rs.getString(1), rs.getInt(2))).one());
        });
    }

    /**
     * Ends a claim this node took: {@code outcome} is sent, failed, unknown (cut short after a call), cancelled or suppressed. The timeline entry saying so
     * is written in the same transaction, and only when the claim was still this node's: the
     * claim is the fence of what its delivery writes.
     *
     * @return whether the claim was this node's to end
     */
    public boolean finish(ClaimKey key, String outcome, Instant at, IncidentEvent event) {
        return jdbi.inTransaction(h -> {
            int ended = h.createUpdate("UPDATE " + key.table() + " SET sent_at = :t, outcome = :o WHERE " + key.where()
                            + " AND node_id = :n AND incarnation = :inc AND sent_at IS NULL AND sending_at IS NOT NULL")
                    .bindMap(key.binds()).bind("t", at.toEpochMilli()).bind("o", outcome).bind("n", claimant.nodeId())
                    .bind("inc", claimant.incarnation()).execute();
            if (ended == 1 && key instanceof ClaimKey.Incident claim) {
                // a DOWN tried on a channel, whether it went out, failed or nobody knows, starts the
                // reminders: a DOWN that failed everywhere is retried by them (as a single node always did)
                if (claim.event().equals("down") && (outcome.equals("sent") || outcome.equals("failed") || outcome.equals("unknown"))) {
                    startReminders(h, claim.incidentId(), at);
                }
                if (outcome.equals("sent") && (claim.event().equals("down") || claim.event().equals("reminder"))) {
                    // people were told: kept on the incident, since its claims are pruned long before it (V6)
                    h.createUpdate("UPDATE monitor_incidents SET told_at = COALESCE(told_at, :t) WHERE id = :id")
                            .bind("t", at.toEpochMilli()).bind("id", claim.incidentId()).execute();
                }
                if (event != null) {
                    append(h, claim.incidentId(), event);
                }
            }
            return ended == 1;
        });
    }

    /** Reminders of the incident are due from {@code at} on, unless an earlier DOWN already set when. */
    private static void startReminders(Handle h, long incidentId, Instant at) {
        h.createUpdate("UPDATE monitor_incidents SET last_notified_at = COALESCE(last_notified_at, :t) WHERE id = :id")
                .bind("t", at.toEpochMilli()).bind("id", incidentId).execute();
    }

    /**
     * Gives a claim this node took, and whose channel it did not call, back to the pending ones
     * (its delivery was cut short before the call: this node stops, or lost its standing). Only
     * while the claim is still this node's and unended: one another node ended meanwhile (counting
     * this node dead) stays ended.
     */
    public void release(ClaimKey key) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE " + key.table() + " SET sending_at = NULL WHERE " + key.where()
                        + " AND node_id = :n AND incarnation = :inc AND sent_at IS NULL AND sending_at IS NOT NULL")
                .bindMap(key.binds()).bind("n", claimant.nodeId()).bind("inc", claimant.incarnation()).execute());
    }

    /**
     * Incident claims nobody has taken (or that a node gave back, see {@link #release}). The
     * holder of each one's monitor sends it.
     */
    public List<PendingClaim> pending() {
        // in a cluster, only those of monitors whose lease this node (this incarnation) holds: every
        // node sweeps every second, and the others' claims are not its to send
        boolean clustered = claimant != Claimant.UNCLUSTERED;
        return jdbi.withHandle(h -> h.createQuery("SELECT i.*, c.channel AS claim_channel, c.event AS claim_event,"
                        + " c.seq AS claim_seq, c.repeats AS claim_repeats FROM monitor_notification_claims c JOIN monitor_incidents i ON i.id = c.incident_id"
                        + (clustered ? " JOIN platform_leases l ON l.name = 'monitor:' || i.monitor AND l.holder = :me"
                        + " AND l.incarnation = :inc" : "")
                        + " WHERE c.sent_at IS NULL AND c.sending_at IS NULL ORDER BY c.incident_id, c.claimed_at, c.channel")
                .bindMap(clustered ? Map.of("me", claimant.nodeId(), "inc", claimant.incarnation()) : Map.of())
                .map((rs, ctx) -> new PendingClaim(new ClaimKey.Incident(rs.getLong("id"), rs.getString("claim_channel"),
                        rs.getString("claim_event"), rs.getLong("claim_seq")), read(rs), rs.getInt("claim_repeats")))
                .list());
    }

    /** This node's claims (this incarnation) being sent since before {@code before} and not ended, incident and warning ones. */
    public List<ClaimKey> staleOfMine(Instant before) {
        return jdbi.withHandle(h -> {
            List<ClaimKey> out = new java.util.ArrayList<>(h.createQuery("SELECT incident_id, channel, event, seq"
                            + " FROM monitor_notification_claims WHERE sent_at IS NULL AND sending_at < :t AND node_id = :n"
                            + " AND incarnation = :inc")
                    .bind("t", before.toEpochMilli()).bind("n", claimant.nodeId()).bind("inc", claimant.incarnation())
                    .map((rs, ctx) -> (ClaimKey) new ClaimKey.Incident(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getLong(4)))
                    .list());
            out.addAll(h.createQuery("SELECT monitor, channel, seq FROM monitor_warning_claims WHERE sent_at IS NULL"
                            + " AND sending_at < :t AND node_id = :n AND incarnation = :inc")
                    .bind("t", before.toEpochMilli()).bind("n", claimant.nodeId()).bind("inc", claimant.incarnation())
                    .map((rs, ctx) -> (ClaimKey) new ClaimKey.Warning(rs.getString(1), rs.getString(2), rs.getLong(3))).list());
            return out;
        });
    }

    /**
     * Claims taken by a node that is no longer alive and never ended, of the monitors whose lease
     * this node holds: the node died (or was counted out) between taking the claim and storing
     * how the delivery went, so whether the message went out is not known. See {@link #resendOrphaned}.
     */
    public List<OrphanedClaim> orphaned() {
        if (claimant == Claimant.UNCLUSTERED) {
            return List.of(); // nobody else could have taken a claim
        }
        return jdbi.withHandle(h -> {
            String dead = " AND c.sent_at IS NULL AND c.sending_at IS NOT NULL AND NOT " + claimant.aliveSql("c.node_id", "c.incarnation");
            List<OrphanedClaim> out = new java.util.ArrayList<>(h.createQuery("SELECT c.incident_id, c.channel, c.event, c.seq,"
                            + " i.monitor, c.node_id FROM monitor_notification_claims c JOIN monitor_incidents i ON i.id = c.incident_id"
                            + " JOIN platform_leases l ON l.name = 'monitor:' || i.monitor AND l.holder = :me AND l.incarnation = :inc"
                            + " WHERE 1 = 1" + dead)
                    .bind("expiry", claimant.expiryMillis()).bind("me", claimant.nodeId()).bind("inc", claimant.incarnation())
                    .map((rs, ctx) -> new OrphanedClaim(new ClaimKey.Incident(rs.getLong(1), rs.getString(2), rs.getString(3),
                            rs.getLong(4)), rs.getString(5), rs.getString(6)))
                    .list());
            out.addAll(h.createQuery("SELECT c.monitor, c.channel, c.seq, c.node_id FROM monitor_warning_claims c"
                            + " JOIN platform_leases l ON l.name = 'monitor:' || c.monitor AND l.holder = :me AND l.incarnation = :inc"
                            + " WHERE 1 = 1" + dead)
                    .bind("expiry", claimant.expiryMillis()).bind("me", claimant.nodeId()).bind("inc", claimant.incarnation())
                    .map((rs, ctx) -> new OrphanedClaim(new ClaimKey.Warning(rs.getString(1), rs.getString(2), rs.getLong(3)),
                            rs.getString(1), rs.getString(4)))
                    .list());
            return out;
        });
    }

    /** How often a message is sent again after its sender died (see {@link #resendOrphaned}). */
    public static final int MAX_REPEATS = 2;

    /** What {@link #resendOrphaned} did with an orphaned claim. */
    public enum Orphan {
        /** pending again, to be sent marked as a possible repeat */
        SENT_AGAIN,
        /** ended as unknown: {@value #MAX_REPEATS} nodes died sending it already */
        GIVEN_UP,
        /** nothing: no longer orphaned (ended, or its taker is alive after all) */
        NONE
    }

    /**
     * Makes a claim its dead taker left being sent pending again, under {@code lease}, counting
     * the repeat: the holder's sweep sends it, marked as a possible repeat. The taker may have died
     * before calling the channel or after the channel took the message, and which is not known;
     * ended there, the message was lost in the first case (a DOWN nobody got), so it goes out
     * again with the same id (a receiver drops a copy it has) and says it may be one. A message
     * whose sending {@value #MAX_REPEATS} nodes died in already (one that kills its sender, or
     * nodes restarting in a loop) ends as {@code unknown} instead. Written only while the claim
     * is still orphaned, with {@code again} or {@code givenUp} on the incident's timeline in the
     * same transaction.
     *
     * @throws LeaseLost when the lease no longer holds
     */
    public Orphan resendOrphaned(ClaimKey key, Lease lease, Instant at, IncidentEvent again, IncidentEvent givenUp) {
        return jdbi.inTransaction(h -> {
            requireLease(h, lease, "sending again a claim left by a node that died"); // first: see requireLease
            String table = key.table();
            String orphaned = " WHERE " + key.where() + " AND sent_at IS NULL AND sending_at IS NOT NULL AND NOT "
                    + claimant.aliveSql(table + ".node_id", table + ".incarnation");
            Orphan done = Orphan.NONE;
            if (h.createUpdate("UPDATE " + table + " SET sending_at = NULL, repeats = repeats + 1" + orphaned
                            + " AND repeats < :max")
                    .bindMap(key.binds()).bind("expiry", claimant.expiryMillis()).bind("max", MAX_REPEATS).execute() == 1) {
                done = Orphan.SENT_AGAIN;
            } else if (h.createUpdate("UPDATE " + table + " SET sent_at = :t, outcome = 'unknown'" + orphaned)
                    .bindMap(key.binds()).bind("expiry", claimant.expiryMillis()).bind("t", at.toEpochMilli()).execute() == 1) {
                done = Orphan.GIVEN_UP;
            }
            IncidentEvent event = done == Orphan.SENT_AGAIN ? again : done == Orphan.GIVEN_UP ? givenUp : null;
            if (key instanceof ClaimKey.Incident claim) {
                if (done == Orphan.GIVEN_UP && claim.event().equals("down")) {
                    startReminders(h, claim.incidentId(), at); // they repeat it, if it was lost
                }
                if (event != null) {
                    append(h, claim.incidentId(), event);
                }
            }
            return done;
        });
    }

    /** Warning claims nobody has taken (see {@link #pending()}), oldest first per monitor and channel. */
    public List<PendingWarning> pendingWarnings() {
        boolean clustered = claimant != Claimant.UNCLUSTERED;
        return jdbi.withHandle(h -> h.createQuery("SELECT c.monitor, c.channel, c.seq, c.event, c.status, c.subject, c.text,"
                        + " c.repeats, c.claimed_at FROM monitor_warning_claims c"
                        + (clustered ? " JOIN platform_leases l ON l.name = 'monitor:' || c.monitor AND l.holder = :me"
                        + " AND l.incarnation = :inc" : "")
                        + " WHERE c.sent_at IS NULL AND c.sending_at IS NULL ORDER BY c.monitor, c.channel, c.seq")
                .bindMap(clustered ? Map.of("me", claimant.nodeId(), "inc", claimant.incarnation()) : Map.of())
                .map((rs, ctx) -> new PendingWarning(new ClaimKey.Warning(rs.getString(1), rs.getString(2), rs.getLong(3)),
                        rs.getString(4), rs.getString(5), rs.getString(6), rs.getString(7), rs.getInt(8),
                        Instant.ofEpochMilli(rs.getLong(9))))
                .list());
    }

    /** A timeline entry, written only while {@code lease} holds (null: not clustered). */
    public void event(long id, IncidentEvent event, Lease lease) {
        jdbi.useTransaction(h -> {
            requireLease(h, lease, "adding to an incident's timeline"); // first: see requireLease
            append(h, id, event);
        });
    }

    public void event(long id, IncidentEvent event) {
        event(id, event, null);
    }

    /** The DOWN report, written only while {@code lease} holds (null: not clustered). */
    public void setReport(long id, String report, String source, Lease lease) {
        setReport(id, report, source, null, lease);
    }

    /**
     * The DOWN report and the error it reported as "What is wrong" (null: keep the one stored when
     * the incident opened), written only while {@code lease} holds (null: not clustered).
     */
    public void setReport(long id, String report, String source, String downError, Lease lease) {
        jdbi.useTransaction(h -> {
            requireLease(h, lease, "writing an incident report"); // first: see requireLease
            h.createUpdate("UPDATE monitor_incidents SET report = :r, report_source = :s,"
                            + " down_error = COALESCE(:de, down_error) WHERE id = :id")
                    .bind("r", StoredText.clean(report)).bind("s", StoredText.clean(source))
                    .bind("de", StoredText.clean(downError)).bind("id", id).execute();
        });
    }

    /**
     * What a DOWN sent later than its report said was wrong, written only while {@code lease} holds
     * (null: not clustered) and no DOWN of the incident has gone out yet.
     *
     * @return whether it was written
     */
    public boolean setDownError(long id, String downError, Lease lease) {
        return jdbi.inTransaction(h -> {
            requireLease(h, lease, "writing what an incident's DOWN said"); // first: see requireLease
            // only while no DOWN has gone out: once people read one, the recovery repeats that one,
            // not the words of a resend written later (after a takeover, a node died sending, ...)
            return h.createUpdate("UPDATE monitor_incidents SET down_error = :de WHERE id = :id AND told_at IS NULL"
                            + " AND NOT EXISTS (SELECT 1 FROM monitor_notification_claims c WHERE c.incident_id = :id"
                            + " AND c.event = 'down' AND c.outcome = 'sent')")
                    .bind("de", StoredText.clean(downError)).bind("id", id).execute() == 1;
        });
    }

    /** The recovery report, written only while {@code lease} holds (null: not clustered). */
    public void setRecoveryReport(long id, String report, String source, Lease lease) {
        jdbi.useTransaction(h -> {
            requireLease(h, lease, "writing a recovery report"); // first: see requireLease
            h.createUpdate("UPDATE monitor_incidents SET recovery_report = :r, recovery_report_source = :s WHERE id = :id")
                    .bind("r", StoredText.clean(report)).bind("s", StoredText.clean(source)).bind("id", id).execute();
        });
    }

    /** Records that people were told (or that there was nobody to tell), only while {@code lease} holds (null: not clustered). */
    public void markNotified(long id, Instant at, Lease lease) {
        jdbi.useTransaction(h -> {
            requireLease(h, lease, "marking an incident notified"); // first: see requireLease
            h.createUpdate("UPDATE monitor_incidents SET down_notified = 1, last_notified_at = :t WHERE id = :id")
                    .bind("t", at.toEpochMilli()).bind("id", id).execute();
        });
    }

    public void setReport(long id, String report, String source) {
        setReport(id, report, source, null);
    }

    public void setRecoveryReport(long id, String report, String source) {
        setRecoveryReport(id, report, source, null);
    }

    public void markNotified(long id, Instant at) {
        markNotified(id, at, null);
    }

    public Optional<Incident> find(long id) {
        return jdbi.withHandle(h -> find(h, id));
    }

    public List<Incident> open() {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM monitor_incidents WHERE status = 'open' ORDER BY id")
                .map((rs, ctx) -> read(rs)).list());
    }

    /**
     * Newest first.
     *
     * @param status "open", "resolved" or null for both
     * @param before an id to page below, or null
     */
    public List<Incident> list(String status, String monitor, Long before, int limit) {
        StringBuilder sql = new StringBuilder("SELECT * FROM monitor_incidents WHERE 1 = 1");
        if (status != null) {
            sql.append(" AND status = :status");
        }
        if (monitor != null) {
            sql.append(" AND monitor = :monitor");
        }
        if (before != null) {
            sql.append(" AND id < :before");
        }
        sql.append(" ORDER BY id DESC LIMIT :limit");
        return jdbi.withHandle(h -> {
            Query q = h.createQuery(sql.toString()).bind("limit", limit);
            if (status != null) {
                q.bind("status", status);
            }
            if (monitor != null) {
                q.bind("monitor", monitor);
            }
            if (before != null) {
                q.bind("before", before.longValue());
            }
            return q.map((rs, ctx) -> read(rs)).list();
        });
    }

    public List<IncidentEvent> events(long id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM monitor_incident_events WHERE incident_id = :id ORDER BY seq")
                .bind("id", id)
                .map((rs, ctx) -> new IncidentEvent(Instant.ofEpochMilli(rs.getLong("at")), rs.getString("kind"), rs.getString("detail")))
                .list());
    }

    /** Timeline kinds of a pause: see {@link #pauseChanged}. */
    public static final String PAUSED = "paused";
    public static final String RESUMED = "resumed";

    /**
     * The monitor was paused or resumed: its open incident, if it has one, says so on its timeline.
     * Called in the transaction that changes the flag (MonitorCatalog), so the entry is written once,
     * stamped when the change was made, whichever nodes run (none, even: the CLI on a stopped node).
     * A recovery reads these entries to say how long of the outage was paused ({@link #pausedFor}).
     */
    public static void pauseChanged(Handle h, String monitor, boolean paused, Instant at) {
        List<Long> open = h.createQuery("SELECT id FROM monitor_incidents WHERE monitor = :m AND status = 'open' ORDER BY id")
                .bind("m", monitor).mapTo(Long.class).list();
        for (long id : open) {
            if (paused) {
                append(h, id, new IncidentEvent(at, PAUSED, "checks paused: the incident stays open, and nothing is checked or"
                        + " sent, until the monitor is resumed"));
                continue;
            }
            Optional<Long> since = h.createQuery("SELECT at FROM monitor_incident_events WHERE incident_id = :id AND kind = :k"
                            + " ORDER BY seq DESC LIMIT 1")
                    .bind("id", id).bind("k", PAUSED).mapTo(Long.class).findOne();
            String detail = since.map(ms -> "checks resumed after a pause of " + DurationText.spoken(
                    Duration.between(Instant.ofEpochMilli(ms), at).isNegative() ? Duration.ZERO
                            : Duration.between(Instant.ofEpochMilli(ms), at))).orElse("checks resumed");
            append(h, id, new IncidentEvent(at, RESUMED, detail));
        }
    }

    /**
     * How long of an incident's time down, from {@code since} to {@code end}, its monitor was paused
     * by its timeline: each "paused" up to the "resumed" after it, a pause not over by {@code end}
     * counted up to it, the sum clamped to the time down.
     */
    public static Duration pausedFor(List<IncidentEvent> timeline, Instant since, Instant end) {
        Duration total = Duration.ZERO;
        Instant pausedAt = null;
        for (IncidentEvent e : timeline) {
            if (e.kind().equals(PAUSED) && pausedAt == null) {
                pausedAt = e.at();
            } else if (e.kind().equals(RESUMED) && pausedAt != null) {
                if (e.at().isAfter(pausedAt)) {
                    total = total.plus(Duration.between(pausedAt, e.at()));
                }
                pausedAt = null;
            }
        }
        if (pausedAt != null && end.isAfter(pausedAt)) {
            total = total.plus(Duration.between(pausedAt, end));
        }
        Duration down = Duration.between(since, end);
        if (down.isNegative()) {
            return Duration.ZERO;
        }
        return total.compareTo(down) > 0 ? down : total;
    }

    /**
     * Appends to the timeline. The number comes from the incident row, bumped by an UPDATE in this
     * transaction: on PostgreSQL the UPDATE locks the row until commit, so a concurrent append waits
     * and then reads the bumped value (READ COMMITTED re-reads an updated row); on SQLite writes run
     * one at a time anyway. MAX(seq) + 1 read by two transactions at once gave both the same number.
     * An incident that is gone (removed by retention) takes no events.
     */
    private static void append(Handle h, long id, IncidentEvent e) {
        int bumped = h.createUpdate("UPDATE monitor_incidents SET event_seq = event_seq + 1 WHERE id = :id").bind("id", id).execute();
        if (bumped == 0) {
            return;
        }
        int seq = h.createQuery("SELECT event_seq FROM monitor_incidents WHERE id = :id").bind("id", id).mapTo(Integer.class).one();
        h.createUpdate("INSERT INTO monitor_incident_events (incident_id, at, seq, kind, detail) VALUES (:id, :at, :seq, :k, :d)")
                .bind("id", id).bind("at", e.at().toEpochMilli()).bind("seq", seq).bind("k", e.kind())
                .bind("d", e.detail() == null ? "" : StoredText.clean(e.detail())).execute();
    }

    private static Optional<Incident> find(Handle h, long id) {
        return h.createQuery("SELECT * FROM monitor_incidents WHERE id = :id").bind("id", id).map((rs, ctx) -> read(rs)).findOne();
    }

    private static Incident read(ResultSet rs) throws SQLException {
        return new Incident(rs.getLong("id"), rs.getString("monitor"), rs.getString("status"), instant(rs, "started_at"),
                instant(rs, "opened_at"), instant(rs, "resolved_at"), rs.getInt("failed_checks"), rs.getString("first_error"),
                rs.getString("last_error"), instant(rs, "last_success_at"), rs.getString("report"), rs.getString("report_source"),
                rs.getString("recovery_report"), rs.getString("recovery_report_source"), rs.getInt("down_notified") != 0,
                instant(rs, "last_notified_at"), rs.getString("down_error"));
    }

    private static Instant instant(ResultSet rs, String column) throws SQLException {
        long value = rs.getLong(column);
        return rs.wasNull() ? null : Instant.ofEpochMilli(value);
    }
}
