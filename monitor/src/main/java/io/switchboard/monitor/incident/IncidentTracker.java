package io.switchboard.monitor.incident;

import io.switchboard.monitor.MonitorMetrics;
import io.switchboard.monitor.check.CheckResult;
import io.switchboard.monitor.cluster.LeaseLost;
import io.switchboard.monitor.cluster.MonitorLeases;
import io.switchboard.platform.cluster.Lease;
import io.switchboard.monitor.concurrent.KeyedLanes;
import io.switchboard.monitor.definition.CatalogView;
import io.switchboard.monitor.definition.ChannelDefinition;
import io.switchboard.monitor.definition.DurationText;
import io.switchboard.monitor.definition.MaintenanceWindow;
import io.switchboard.monitor.definition.MonitorDefinition;
import io.switchboard.monitor.history.ResultWriter;
import io.switchboard.monitor.notify.Notification;
import io.switchboard.monitor.notify.NotificationDispatcher;
import io.switchboard.monitor.report.IncidentReports;
import io.switchboard.monitor.report.Report;
import io.switchboard.monitor.report.ReportFacts;
import io.switchboard.monitor.report.ReportTemplate;
import io.switchboard.monitor.schedule.CheckScheduler;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Set;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns check results into monitor states and incidents, and incidents into reports and
 * notifications.
 *
 * <p>Results arrive on each monitor's check thread, one at a time per monitor. The state is
 * counted toward the thresholds at once; the result and the state are queued for the
 * {@link ResultWriter}; opening and resolving an incident are written to the store right there,
 * before the monitor's next check may start, so a monitor never has two incidents open.
 *
 * <p>Reports and notifications are prepared on a lane per monitor (one virtual thread at a time),
 * off the check thread: a report may wait on a language model for seconds. The lane keeps their
 * order: a recovery is never announced before the DOWN it ends. A sweep every second sends what
 * is due — reminders while DOWN, and the DOWN message held back by a maintenance window once the
 * window is over. Notifications inside a maintenance window are recorded as suppressed; a
 * recovery is announced only to people who were told about the outage.
 *
 * <p>A warning (a passing check's warning threshold, such as a TLS certificate within
 * {@code warnDays} of expiry) is announced once when it starts and once when it ends, without an
 * incident. A start a maintenance window holds back is sent when the window is over, if the
 * warning still stands. Results for a monitor that is no longer in the catalog, or is paused, are dropped: a
 * check that was running when its monitor was deleted brings back no state, gauges or incident.
 *
 * <p><b>In a cluster</b> every message is a claim in the store (see
 * {@code V3__claims_at_the_source.sql}): the DOWN claims are made in the transaction that opens the
 * incident, the recovery claims in the one that resolves it, reminders and warnings when they are
 * due. A claim is taken under the monitor's lease on the channel's lane, right before the channel
 * is called, so a message queued here before the monitor moved is sent by the new holder instead,
 * once. The sweep also sends claims nobody is sending (left by a node that died, or refused here
 * at a handover) for the monitors this node holds, and does so at once after a takeover.
 */
public final class IncidentTracker implements CheckScheduler.ResultSink, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(IncidentTracker.class);
    // each tried again at the next sweep; said once while it keeps failing
    private final io.switchboard.platform.RecurringFailure claimSweeps = new io.switchboard.platform.RecurringFailure(log,
            "the notification claim sweep failed", "the notification claim sweep works again");
    private final io.switchboard.platform.RecurringFailure orphanSweeps = new io.switchboard.platform.RecurringFailure(log,
            "reopening the claims of nodes that died failed", "reopening the claims of nodes that died works again");
    private final io.switchboard.platform.RecurringFailure staleClaimEnds = new io.switchboard.platform.RecurringFailure(log,
            "ending stale notification claims failed", "ending stale notification claims works again");

    private final IncidentStore incidents;
    private final ResultWriter writer;
    private final NotificationDispatcher dispatcher;
    private final IncidentReports reports;
    private final MonitorMetrics metrics;
    private final Clock clock;
    private final ZoneId zone;
    private final Duration defaultReminder;
    private final Supplier<CatalogView> catalog;
    private final Map<String, MonitorState> states = new ConcurrentHashMap<>();
    /** Announcements per monitor, in order; a lane exists only while it has work. */
    private final KeyedLanes<Runnable> lanes = new KeyedLanes<>("incident", 100, 1,
            (monitor, batch) -> batch.forEach(Runnable::run));
    private volatile ScheduledExecutorService sweeper;
    /** In a cluster: the monitors this node holds the lease of (null: every monitor is this node's, unfenced). */
    private volatile MonitorLeases leases;
    private volatile Supplier<Map<String, StateSnapshot>> storedStates = Map::of;
    private volatile java.util.function.Function<String, Optional<StateSnapshot>> storedState = name -> Optional.empty();
    /** Incidents with announcements queued on their lane here: the claim sweep leaves their claims to those. */
    private final Set<Long> queuedIncidents = ConcurrentHashMap.newKeySet();
    /** Monitors with warning messages queued here (same reason). */
    private final Set<String> queuedWarnings = ConcurrentHashMap.newKeySet();
    /**
     * Claims queued on a channel's lane here, from the queueing until their delivery ended however
     * it ended (sent, failed, not taken, refused by a full lane). Such a claim is still pending in
     * the store until the lane takes it, maybe long after (a slow channel): the sweep leaves it
     * alone, or it would queue it again every second.
     */
    private final Set<IncidentStore.ClaimKey> inFlight = ConcurrentHashMap.newKeySet();
    /** The node is stopping: a delivery cut short gives its claim back for the next holder. */
    private volatile boolean closing;

    public IncidentTracker(IncidentStore incidents, ResultWriter writer, NotificationDispatcher dispatcher,
                           IncidentReports reports, MonitorMetrics metrics, Clock clock, ZoneId zone, Duration defaultReminder,
                           Supplier<CatalogView> catalog) {
        this.incidents = incidents;
        this.writer = writer;
        this.dispatcher = dispatcher;
        this.reports = reports;
        this.metrics = metrics;
        this.clock = clock;
        this.zone = zone;
        this.defaultReminder = defaultReminder;
        this.catalog = catalog;
    }

    /** Takes up where the last run stopped: stored states and open incidents. */
    public void restore(Map<String, StateSnapshot> stored) {
        stored.forEach((name, snapshot) -> states.put(name, new MonitorState(snapshot)));
        for (Incident open : incidents.open()) {
            MonitorState state = states.computeIfAbsent(open.monitor(), MonitorState::new);
            MonitorState.OpenIncident incident = new MonitorState.OpenIncident(open);
            synchronized (state) {
                state.incident = incident;
                state.status = MonitorStatus.DOWN;
            }
        }
    }

    /**
     * Clusters the tracker: results count only for monitors whose lease this node holds, and are
     * written under it; incidents are opened and resolved, and notifications claimed, under it
     * (refused in the store once it no longer holds). Gained monitors are loaded with
     * {@link #adopt}, lost ones forgotten with {@link #drop}.
     */
    public void useLeases(MonitorLeases leases, Supplier<Map<String, StateSnapshot>> storedStates,
                          java.util.function.Function<String, Optional<StateSnapshot>> storedState) {
        this.leases = leases;
        this.storedStates = storedStates;
        this.storedState = storedState;
    }

    /**
     * Takes over monitors this node now holds: their stored state and open incident, as the node
     * that held them last left them. An open incident whose DOWN message was claimed but never
     * taken (its holder died first) is announced by the claim sweep; a DOWN its holder was sending
     * when it died is sent again, marked as a possible repeat ({@link #resendOrphanedClaims}).
     */
    public void adopt(Collection<String> names) {
        Set<String> wanted = Set.copyOf(names);
        Map<String, StateSnapshot> stored = storedStates.get();
        for (String name : wanted) {
            StateSnapshot snapshot = stored.get(name);
            states.put(name, snapshot == null ? new MonitorState(name) : new MonitorState(snapshot));
        }
        for (Incident open : incidents.open()) {
            if (!wanted.contains(open.monitor())) {
                continue;
            }
            MonitorState state = states.computeIfAbsent(open.monitor(), MonitorState::new);
            MonitorState.OpenIncident incident = new MonitorState.OpenIncident(open);
            synchronized (state) {
                state.incident = incident;
                state.status = MonitorStatus.DOWN;
            }
        }
    }

    /** Forgets monitors another node now checks (their state and incident stay in the store). */
    public void drop(Collection<String> names) {
        for (String name : names) {
            MonitorState state = states.remove(name);
            if (state != null) {
                synchronized (state) {
                    state.incident = null;
                }
            }
            metrics.forget(name);
        }
    }

    /** The lease results for {@code monitor} are written under; empty when this node must not act for it. */
    private Optional<Lease> leaseOf(String monitor) {
        MonitorLeases current = leases;
        return current == null ? Optional.of(NO_LEASE) : current.lease(monitor);
    }

    /** Stands for "not clustered": written as null (unfenced). */
    private static final Lease NO_LEASE = new Lease("", -1);

    private static Lease orNull(Lease lease) {
        return lease == NO_LEASE ? null : lease;
    }

    public void startSweeping(Duration every) {
        sweeper = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon().name("monitor-reminders").unstarted(r));
        sweeper.scheduleWithFixedDelay(this::sweepQuietly, every.toMillis(), every.toMillis(), TimeUnit.MILLISECONDS);
    }

    // ---- results --------------------------------------------------------------------------------

    @Override
    public void accept(MonitorDefinition monitor, CheckResult result, long latenessMillis) {
        if (!isActive(monitor.name())) {
            return;
        }
        Optional<Lease> held = leaseOf(monitor.name());
        if (held.isEmpty()) {
            return; // another node checks it now; this result would be refused by the fence anyway
        }
        Lease lease = orNull(held.get());
        MonitorState state = states.compute(monitor.name(), (name, s) -> s == null || s.removed ? new MonitorState(name) : s);
        MonitorState.Transition transition;
        MonitorState.OpenIncident incident;
        synchronized (state) {
            // checked again under the lock: retain() marks a removed monitor's state under it, after the view changed
            if (state.removed || !isActive(monitor.name())) {
                if (state.lastCheckAt == null && state.incident == null) {
                    states.remove(monitor.name(), state);
                }
                return;
            }
            boolean keepDetails = state.keepDetails(result);
            transition = state.apply(monitor, result);
            incident = state.incident;
            metrics.checked(monitor, result);
            if (!isActive(monitor.name())) {
                // paused (or removed) while this result was on its way: the watcher may have
                // dropped the gauges just before they were set again
                metrics.forget(monitor.name());
            }
            writer.submit(new ResultWriter.ResultRow(monitor.name(), result, latenessMillis, keepDetails, lease));
            writer.submit(new ResultWriter.StateRow(state.snapshot(), lease));
        }
        switch (transition) {
            case OPEN -> open(monitor, state, result, lease);
            case STILL_DOWN -> writer.submit(new ResultWriter.IncidentProgress(incident.id, incident.failedChecks, incident.lastError,
                    lease));
            case RESOLVE -> resolve(monitor, state, result, lease);
            case WARN, WARN_END -> {
                boolean ended = transition == MonitorState.Transition.WARN_END;
                onLane(monitor.name(), () -> announceWarning(monitor.name(), state, result, ended), () -> log.warn(
                        "warning message for {} not sent: the node is stopping or {} announcements are waiting", monitor.name(),
                        lanes.capacity()));
            }
            case NONE -> {
            }
        }
    }

    /** Whether results for the monitor count: it is in the catalog in use and not paused. */
    private boolean isActive(String name) {
        MonitorDefinition current = catalog.get().monitors().get(name);
        return current != null && !current.paused();
    }

    private void open(MonitorDefinition monitor, MonitorState state, CheckResult result, Lease lease) {
        Instant now = clock.instant();
        Instant since;
        int failed;
        Long lastSuccess;
        String firstError;
        synchronized (state) {
            since = state.streakStartedAt == null ? result.startedAt() : state.streakStartedAt;
            firstError = state.streakFirstError == null ? result.error() : state.streakFirstError;
            failed = state.failures;
            lastSuccess = state.lastSuccessAt;
        }
        List<String> channels = catalog.get().channelsOf(monitor).stream().map(ChannelDefinition::name).toList();
        List<IncidentEvent> events = new ArrayList<>();
        events.add(new IncidentEvent(since, "first_failure", "first failed check: " + firstError));
        events.add(new IncidentEvent(now, "opened", monitor.name() + " is DOWN after " + failed + " failed check"
                + (failed == 1 ? "" : "s") + " in a row"));
        Incident stored;
        try {
            stored = incidents.open(monitor.name(), since, now, failed, firstError, result.error(),
                    lastSuccess == null ? null : Instant.ofEpochMilli(lastSuccess), events, channels, lease);
        } catch (LeaseLost e) {
            metrics.fenced("incident", 1);
            log.info("no incident opened for {} here: another node checks it now", monitor.name());
            return;
        } catch (IncidentStore.MonitorPaused e) {
            // this node's view of the catalog had not caught up with the pause yet; the stored
            // state must not stay DOWN without an incident, nor the streak carry over the pause
            synchronized (state) {
                if (state.incident == null) {
                    state.forgetStreak(now.toEpochMilli());
                    writer.submit(new ResultWriter.StateRow(state.snapshot(), lease));
                }
            }
            log.info("no incident opened for {}: it was paused while its last check ran", monitor.name());
            return;
        } catch (RuntimeException e) {
            log.error("could not open an incident for {} (the next failed check tries again): {}", monitor.name(), e.toString());
            return;
        }
        MonitorState.OpenIncident incident = new MonitorState.OpenIncident(stored);
        synchronized (incident) {
            incident.announcing = true;
        }
        boolean removed;
        synchronized (state) {
            removed = state.removed;
            if (!removed) {
                state.incident = incident;
            }
        }
        if (removed) {
            // deleted while the incident was being opened: nothing would ever resolve it
            store(() -> incidents.resolve(stored.id(), now, failed, null,
                    new IncidentEvent(now, "closed", "closed: the monitor " + monitor.name() + " was removed"), lease));
            return;
        }
        log.info("incident {} opened: {} is DOWN: {}", stored.id(), monitor.name(), result.error());
        onLane(monitor.name(), incident, () -> announceDown(monitor.name(), state, incident));
    }

    private void resolve(MonitorDefinition monitor, MonitorState state, CheckResult result, Lease lease) {
        MonitorState.OpenIncident incident;
        synchronized (state) {
            incident = state.incident;
        }
        Instant now = clock.instant();
        Duration down = Duration.between(incident.startedAt, now);
        int recoveryClaims;
        try {
            recoveryClaims = incidents.resolve(incident.id, now, incident.failedChecks, null, new IncidentEvent(now, "resolved",
                    monitor.name() + " is " + (result.status().passed() ? result.status().wireName() : "up") + " again after "
                            + monitor.recoveryThreshold() + " passing check" + (monitor.recoveryThreshold() == 1 ? "" : "s")
                            + "; down for " + DurationText.spoken(down)), lease);
        } catch (LeaseLost e) {
            metrics.fenced("incident", 1);
            log.info("incident {} of {} not resolved here: another node checks it now", incident.id, monitor.name());
            return;
        } catch (RuntimeException e) {
            log.error("could not resolve incident {} of {} (the next passing check tries again): {}", incident.id, monitor.name(),
                    e.toString());
            return;
        }
        synchronized (incident) {
            incident.announcing = true;
        }
        synchronized (state) {
            state.incident = null;
        }
        log.info("incident {} resolved: {} is up again after {}", incident.id, monitor.name(), DurationText.spoken(down));
        // clustered, whoever was told is known from the claims made in the resolving transaction
        boolean told = lease != null ? recoveryClaims > 0 : incident.downNotified;
        onLane(monitor.name(), incident, () -> announceRecovery(monitor.name(), incident, result, now, told));
    }

    // ---- announcements ------------------------------------------------------------------------------

    private void onLane(String monitor, MonitorState.OpenIncident incident, Runnable task) {
        queuedIncidents.add(incident.id);
        Runnable done = () -> {
            synchronized (incident) {
                incident.announcing = false;
            }
            queuedIncidents.remove(incident.id);
        };
        onLane(monitor, () -> {
            try {
                task.run();
            } catch (RuntimeException e) {
                log.error("announcing incident {} of {} failed", incident.id, monitor, e);
            } finally {
                done.run();
            }
        }, () -> {
            done.run();
            log.warn("announcement for incident {} of {} not made: the node is stopping or {} are waiting", incident.id, monitor,
                    lanes.capacity());
        });
    }

    private void onLane(String monitor, Runnable task, Runnable refused) {
        if (!lanes.submit(monitor, task)) {
            refused.run();
        }
    }

    /** The start or the end of a warning, once each, to the monitor's channels; no incident, no reminders. */
    private void announceWarning(String name, MonitorState state, CheckResult result, boolean ended) {
        CatalogView view = catalog.get();
        Optional<MonitorDefinition> found = view.monitor(name);
        if (found.isEmpty()) {
            return;
        }
        MonitorDefinition monitor = found.get();
        Instant now = clock.instant();
        String warning;
        synchronized (state) {
            warning = state.warning;
        }
        ReportFacts facts = new ReportFacts(monitor.name(), monitor.type(), monitor.displayTarget(), monitor.interval(), now, 0,
                ended ? warning : result.error(), result.worked(), now, List.of(), now, null, null, zone);
        Report report = ended ? ReportTemplate.warningEnded(facts) : ReportTemplate.warning(facts);
        log.info("{}", report.subject()); // the subject starts with the monitor's name
        List<ChannelDefinition> channels = view.channelsOf(monitor);
        if (channels.isEmpty()) {
            return;
        }
        Notification n = new Notification(ended ? Notification.Event.WARNING_ENDED : Notification.Event.WARNING, name,
                monitor.type().wireName(), monitor.displayTarget(), null, result.status().wireName(), now, 0, report.subject(),
                report.text(), now);
        Optional<MaintenanceWindow> window = view.maintenanceFor(name, now);
        if (window.isPresent()) {
            dispatcher.suppress(n, channels, "maintenance window " + window.get().name());
            if (leases == null) {
                return;
            }
        } else if (leases == null) {
            for (ChannelDefinition channel : channels) {
                dispatcher.dispatch(unclustered(n), List.of(channel), (c, delivery) -> {
                });
            }
            return;
        }
        Optional<Lease> lease = leases.lease(name);
        if (lease.isEmpty()) {
            metrics.fenced("notification", channels.size());
            return;
        }
        List<IncidentStore.ClaimKey> claims;
        try {
            claims = incidents.claimWarning(name, channels.stream().map(ChannelDefinition::name).toList(), n.event().wireName(),
                    n.status(), n.subject(), n.text(), lease.get(), now);
        } catch (LeaseLost e) {
            metrics.fenced("notification", channels.size());
            log.info("{} message of {} not sent here: another node checks it now", n.event().wireName(), name);
            return;
        } catch (RuntimeException e) {
            log.warn("could not claim the {} message of {} (not sent): {}", n.event().wireName(), name, e.toString());
            return;
        }
        if (claims.size() < channels.size()) {
            log.info("{} message of {}: {} of {} channels were told already", n.event().wireName(), name,
                    channels.size() - claims.size(), channels.size());
        }
        if (window.isPresent()) {
            // as a held-back DOWN: the start's claims stay pending and the claim sweep sends them
            // once the window is over; an end meanwhile cancels them (see claimWarning), so a
            // warning over by then is never told. An end is held back for good, as a recovery is,
            // but stored as ended so the next warning is announced.
            if (ended) {
                for (IncidentStore.ClaimKey claim : claims) {
                    cancel(name, claim, now, "suppressed");
                }
            }
            return;
        }
        for (IncidentStore.ClaimKey claim : claims) {
            channels.stream().filter(c -> c.name().equals(claim.channel())).findFirst()
                    .ifPresent(channel -> sendClaimed(n, name, null, channel, claim));
        }
    }

    private void announceDown(String name, MonitorState state, MonitorState.OpenIncident incident) {
        CatalogView view = catalog.get();
        Optional<MonitorDefinition> found = view.monitor(name);
        if (found.isEmpty()) {
            return;
        }
        MonitorDefinition monitor = found.get();
        Instant now = clock.instant();
        ReportFacts facts = facts(monitor, state, incident, now, null, null);
        Report report = reports.down(facts);
        // what this DOWN says is wrong, for the recovery to repeat: the first report's, or, when a
        // DOWN held back by a window goes out later written anew, what that one says
        boolean goesOut = view.maintenanceFor(name, now).isEmpty();
        boolean first;
        boolean toldOtherwise;
        synchronized (incident) {
            first = !incident.reported;
            incident.reported = true;
            toldOtherwise = !first && goesOut && !java.util.Objects.equals(incident.downError, facts.whatIsWrong());
            if (first) {
                incident.downError = facts.whatIsWrong();
            }
        }
        if (first) {
            underLease(name, lease -> incidents.setReport(incident.id, report.text(), report.source(), facts.whatIsWrong(), lease));
            event(name, incident.id, now, "report", report.source().equals("template") ? "report written from the template"
                    : "report rewritten by " + report.source().substring(4));
        } else if (toldOtherwise) {
            // kept only while no DOWN went out (the store decides): people read the first one that did
            underLease(name, lease -> {
                if (incidents.setDownError(incident.id, facts.whatIsWrong(), lease)) {
                    synchronized (incident) {
                        incident.downError = facts.whatIsWrong();
                    }
                }
            });
        }
        List<ChannelDefinition> channels = view.channelsOf(monitor);
        Notification n = new Notification(Notification.Event.DOWN, name, monitor.type().wireName(), monitor.displayTarget(), incident.id,
                "down", incident.startedAt, facts.failedChecks(), report.subject(), report.text(), now);
        send(n, monitor, incident, channels, view.maintenanceFor(name, now), now, null);
    }

    private void announceReminder(String name, MonitorState state, MonitorState.OpenIncident incident) {
        announceReminder(name, state, incident, null);
    }

    /** @param pendingSeq the reminder's number when sending a pending claim of it; null for a new reminder */
    private void announceReminder(String name, MonitorState state, MonitorState.OpenIncident incident, Long pendingSeq) {
        CatalogView view = catalog.get();
        Optional<MonitorDefinition> found = view.monitor(name);
        if (found.isEmpty()) {
            return;
        }
        MonitorDefinition monitor = found.get();
        Instant now = clock.instant();
        ReportFacts facts = facts(monitor, state, incident, now, null, null);
        Report report = reports.reminder(facts);
        Notification n = new Notification(Notification.Event.REMINDER, name, monitor.type().wireName(), monitor.displayTarget(),
                incident.id, "down", incident.startedAt, facts.failedChecks(), report.subject(), report.text(), now);
        send(n, monitor, incident, view.channelsOf(monitor), view.maintenanceFor(name, now), now, pendingSeq);
    }

    /**
     * @param pendingSeq for a reminder, the number of a pending claim being sent (null: a new
     *                   reminder, numbered by the time of the notification it follows)
     */
    private void send(Notification n, MonitorDefinition monitor, MonitorState.OpenIncident incident,
                      List<ChannelDefinition> channels, Optional<MaintenanceWindow> window, Instant now, Long pendingSeq) {
        if (channels.isEmpty()) {
            if (n.event() == Notification.Event.DOWN) {
                event(monitor.name(), incident.id, now, "notified", "nobody to tell: " + monitor.name() + " has no notification channels");
                markNotified(monitor.name(), incident, now);
            }
            return;
        }
        if (window.isPresent()) {
            String why = "maintenance window " + window.get().name();
            dispatcher.suppress(n, channels, why);
            if (n.event() == Notification.Event.DOWN) {
                // clustered, the DOWN claims stay pending: the claim sweep sends them once the window is over
                event(monitor.name(), incident.id, now, "suppressed", "DOWN message held back during " + why
                        + "; sent when it ends if still down");
            }
            return;
        }
        if (leases == null) {
            markNotified(monitor.name(), incident, now);
            for (ChannelDefinition channel : channels) {
                Notification identified = unclustered(n);
                dispatcher.dispatch(identified, List.of(channel),
                        (c, delivery) -> deliveryEvent(monitor.name(), incident.id, identified, c, delivery));
            }
            return;
        }
        long seq = 0;
        if (n.event() == Notification.Event.REMINDER) {
            if (pendingSeq != null) {
                seq = pendingSeq;
            } else {
                synchronized (incident) {
                    seq = incident.lastNotifiedAt != null ? incident.lastNotifiedAt.toEpochMilli() : 0;
                }
                if (!claimMessage(n, monitor.name(), incident, channels, seq, now)) {
                    return;
                }
            }
        } else if (n.event() == Notification.Event.DOWN) {
            // the claims were made with the incident; this adds those of channels it had none for
            // (it had no channel then, or was opened before claims were made there): once each
            if (!claimMessage(n, monitor.name(), incident, channels, 0, now)) {
                return;
            }
        }
        for (ChannelDefinition channel : channels) {
            sendClaimed(n, monitor.name(), incident, channel,
                    new IncidentStore.ClaimKey.Incident(incident.id, channel.name(), n.event().wireName(), seq));
        }
    }

    /**
     * Claims a DOWN or reminder message for each channel under the monitor's lease (pending
     * claims where there are none yet, taken when sent); false when this node must send nothing
     * (the lease is lost, or the store refused).
     */
    private boolean claimMessage(Notification n, String monitor, MonitorState.OpenIncident incident, List<ChannelDefinition> channels,
                                 long seq, Instant now) {
        Optional<Lease> lease = leases.lease(monitor);
        if (lease.isEmpty()) {
            metrics.fenced("notification", channels.size());
            return false;
        }
        try {
            incidents.claim(incident.id, channels.stream().map(ChannelDefinition::name).toList(), n.event().wireName(), seq,
                    lease.get(), now);
            synchronized (incident) {
                if (n.event() == Notification.Event.REMINDER) {
                    incident.lastNotifiedAt = now;
                } else {
                    incident.downNotified = true;
                }
            }
            return true;
        } catch (LeaseLost e) {
            metrics.fenced("notification", channels.size());
            log.info("{} message of incident {} not sent here: another node checks {} now", n.event().wireName(), incident.id, monitor);
            return false;
        } catch (RuntimeException e) {
            log.warn("could not claim the {} message of incident {} (not sent now): {}", n.event().wireName(), incident.id,
                    e.toString());
            return false;
        }
    }

    /**
     * Queues a claimed message for one channel: the claim is taken under the monitor's lease on the
     * channel's lane right before sending (not taken: another node sends it, or it went already),
     * and ended with the outcome, the timeline entry written with it. A delivery cut short because
     * this node stops gives the claim back for the next holder.
     *
     * @param incident the incident the message belongs to; null for a warning
     */
    private void sendClaimed(Notification n, String monitor, MonitorState.OpenIncident incident, ChannelDefinition channel,
                             IncidentStore.ClaimKey claim) {
        if (!inFlight.add(claim)) {
            return; // queued here already: that delivery ends it
        }
        // what went out: the message as the claim was taken (its id, and whether it is a repeat)
        AtomicReference<Notification> sent = new AtomicReference<>(n);
        try {
            dispatcher.dispatch(n, List.of(channel), (c, queued) -> {
                Optional<IncidentStore.Taken> taken = take(monitor, claim);
                if (taken.isEmpty()) {
                    return null;
                }
                Notification out = queued.identified(taken.get().messageId(), taken.get().repeats() > 0);
                sent.set(out);
                return out;
            }, (c, delivery) -> {
                try {
                    delivered(sent.get(), monitor, incident, claim, c, delivery);
                } finally {
                    inFlight.remove(claim);
                }
            });
        } catch (RuntimeException e) {
            inFlight.remove(claim);
            throw e;
        }
    }

    /** Ends a claim once its delivery is over (see {@link #sendClaimed}). */
    private void delivered(Notification n, String monitor, MonitorState.OpenIncident incident, IncidentStore.ClaimKey claim,
                           ChannelDefinition c, NotificationDispatcher.Delivery delivery) {
        // a delivery interrupted because the node stops still records how it ended: with the
        // thread's interrupt flag set the connection pool would refuse it a connection
        boolean interrupted = Thread.interrupted();
        try {
            recordDelivery(n, monitor, incident, claim, c, delivery);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void recordDelivery(Notification n, String monitor, MonitorState.OpenIncident incident, IncidentStore.ClaimKey claim,
                                ChannelDefinition c, NotificationDispatcher.Delivery delivery) {
        if (delivery.notTaken()) {
            return;
        }
        // stopped by this node (it lost its standing, or it is stopping), not ended by the channel
        boolean cutShort = delivery.stopped();
        // cut short before the channel was called, or after calls it all refused (it answered 503,
        // say, and the node stopped while waiting to try again): the channel does not have the
        // message, so the claim goes back to pending for the holder (this node after a restart),
        // rather than staying "being sent" or ending as unknown with nobody told
        if (cutShort && (delivery.attempts() == 0 || !delivery.mayHaveArrived())) {
            store(() -> incidents.release(claim));
            return;
        }
        Instant at = clock.instant();
        // cut short after a call: the channel may have the message (an attempt interrupted, or one
        // that timed out before the node stopped trying), so it ends as unknown and nobody sends it again
        String outcome = delivery.sent() ? "sent" : cutShort ? "unknown" : "failed";
        IncidentEvent entry = incident == null ? null : new IncidentEvent(at, switch (outcome) {
            case "sent" -> "notified";
            case "unknown" -> "notify_unknown";
            default -> "notify_failed";
        }, deliveryText(n, c, delivery) + (cutShort ? " (cut short: whether it arrived is not known; not sent again)" : ""));
        finishWithRetry(claim, outcome, at, entry);
        // sent or failed: reminders are due from here, and are the retry of a DOWN that failed everywhere
        if (incident != null && n.event() == Notification.Event.DOWN) {
            synchronized (incident) {
                if (incident.lastNotifiedAt == null) {
                    incident.lastNotifiedAt = at;
                }
            }
        }
    }

    /** Attempts to end a claim: a transient store error must not leave it "being sent" by this live node for good. */
    private static final int FINISH_ATTEMPTS = 5;

    /**
     * Ends a claim, trying again with a backoff (0.2 s doubling, about 3 s in all) when the store
     * fails: left unended, the claim would read as being sent by this node as long as it lives,
     * and be sent again only after it stops, maybe days later. What still fails is ended by the
     * sweep ({@link #endStaleClaims}).
     */
    private void finishWithRetry(IncidentStore.ClaimKey claim, String outcome, Instant at, IncidentEvent entry) {
        // an interrupt (the node stopping) must not cost the record of how the delivery ended: the
        // connection pool refuses a thread whose flag is set, so it is cleared for each attempt and
        // set again at the end
        boolean interrupted = false;
        long backoff = 200;
        try {
            for (int attempt = 1; ; attempt++) {
                interrupted |= Thread.interrupted();
                try {
                    incidents.finish(claim, outcome, at, entry);
                    return;
                } catch (RuntimeException e) {
                    if (attempt >= FINISH_ATTEMPTS) {
                        log.warn("could not end the notification claim {} as {} after {} attempts (the sweep ends it later): {}",
                                claim, outcome, attempt, e.toString());
                        return;
                    }
                }
                try {
                    Thread.sleep(backoff);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
                backoff *= 2;
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Takes {@code claim} for sending under the monitor's lease (see {@link IncidentStore#take}). */
    private Optional<IncidentStore.Taken> take(String monitor, IncidentStore.ClaimKey claim) {
        Optional<Lease> lease = leases.lease(monitor);
        if (lease.isEmpty()) {
            metrics.fenced("notification", 1);
            return Optional.empty();
        }
        try {
            return incidents.takeForSending(claim, lease.get(), clock.instant());
        } catch (LeaseLost e) {
            metrics.fenced("notification", 1);
            log.info("message to {} about {} not sent here: another node checks it now", claim.channel(), monitor);
            return Optional.empty();
        } catch (RuntimeException e) {
            // the take may have committed though this node saw an error (the connection broke after
            // the commit): the channel is not called, so the claim goes back to pending, not left
            // "being sent" by this node
            log.warn("taking the claim {} failed (sent later): {}", claim, e.toString());
            store(() -> incidents.release(claim));
            return Optional.empty();
        }
    }

    private void deliveryEvent(String monitor, long incidentId, Notification n, ChannelDefinition channel,
                               NotificationDispatcher.Delivery delivery) {
        event(monitor, incidentId, clock.instant(), delivery.sent() ? "notified" : "notify_failed", deliveryText(n, channel, delivery));
    }

    private static String deliveryText(Notification n, ChannelDefinition channel, NotificationDispatcher.Delivery delivery) {
        String what = n.event() == Notification.Event.RECOVERED ? "recovery" : n.event().wireName();
        return what + " message " + (delivery.sent() ? "sent to " : "could not be sent to ") + channel.name()
                + " (" + channel.type().wireName() + ")" + (n.repeat() ? " again, marked as a possible repeat" : "")
                + inDigest(delivery) + (delivery.attempts() > 1 && n.event()
                != Notification.Event.RECOVERED ? " after " + delivery.attempts() + " attempts" : "")
                + (delivery.sent() ? "" : ": " + delivery.error());
    }

    private void announceRecovery(String name, MonitorState.OpenIncident incident, CheckResult result, Instant resolvedAt,
                                  boolean told) {
        String how = result.latencyMillis() + " ms" + (result.details().get("status") instanceof Integer code
                ? ", " + catalog.get().monitor(name).map(m -> m.type().wireName().toUpperCase(java.util.Locale.ROOT)).orElse("")
                + " " + code : "") + (result.error() != null ? " (" + result.error() + ")" : "");
        announceRecovery(name, incident, result.status().wireName(), resolvedAt, "the check passed in " + how, null, told);
    }

    /**
     * @param recoveredWith how the check passed, for the report; null when not known (a pending claim sent by another node)
     * @param storedReport  the recovery report already written, if any
     */
    private void announceRecovery(String name, MonitorState.OpenIncident incident, String status, Instant resolvedAt,
                                  String recoveredWith, String storedReport, boolean told) {
        CatalogView view = catalog.get();
        Optional<MonitorDefinition> found = view.monitor(name);
        MonitorState state = states.get(name);
        if (found.isEmpty() || state == null) {
            return;
        }
        MonitorDefinition monitor = found.get();
        Instant now = clock.instant();
        String text;
        String subject;
        if (storedReport != null) {
            text = storedReport;
            subject = reports.recovered(facts(monitor, state, incident, now, resolvedAt, recoveredWith)).subject();
        } else {
            Report report = reports.recovered(facts(monitor, state, incident, now, resolvedAt, recoveredWith));
            text = report.text();
            subject = report.subject();
            underLease(name, lease -> incidents.setRecoveryReport(incident.id, report.text(), report.source(), lease));
        }
        if (!told) {
            event(name, incident.id, now, "notified", "no recovery message: nobody had been told about the outage");
            return;
        }
        // those told of the outage, whatever the monitor's channels are now (edited meanwhile) and
        // not those whose DOWN never got through
        // (without leases, as only tests run the tracker, the monitor's channels)
        List<ChannelDefinition> channels = new ArrayList<>();
        List<String> toldChannels;
        try {
            toldChannels = leases == null ? view.channelsOf(monitor).stream().map(ChannelDefinition::name).toList()
                    : incidents.recoveryChannels(incident.id);
        } catch (RuntimeException e) {
            // the recovery claims are stored: the sweep of pending claims sends them later
            log.warn("could not read who was told of incident {} of {}; the sweep sends the recovery later: {}",
                    incident.id, name, e.toString());
            return;
        }
        for (String channel : toldChannels) {
            ChannelDefinition defined = view.channels().get(channel);
            if (defined != null) {
                channels.add(defined);
            }
        }
        if (channels.isEmpty()) {
            event(name, incident.id, now, "notified", "no recovery message: no channel that was told about the outage is left");
            return;
        }
        Notification n = new Notification(Notification.Event.RECOVERED, name, monitor.type().wireName(), monitor.displayTarget(),
                incident.id, status, incident.startedAt, incident.failedChecks, subject, text, now);
        Optional<MaintenanceWindow> window = view.maintenanceFor(name, now);
        if (window.isPresent()) {
            dispatcher.suppress(n, channels, "maintenance window " + window.get().name());
            if (leases != null) {
                // held back for good, as unclustered: the claims end suppressed, not pending
                for (ChannelDefinition channel : channels) {
                    cancel(name, new IncidentStore.ClaimKey.Incident(incident.id, channel.name(), "recovered", 0), now, "suppressed");
                }
            }
            return;
        }
        if (leases == null) {
            for (ChannelDefinition channel : channels) {
                Notification identified = unclustered(n);
                dispatcher.dispatch(identified, List.of(channel), (c, delivery) -> deliveryEvent(name, incident.id, identified, c, delivery));
            }
            return;
        }
        for (ChannelDefinition channel : channels) {
            sendClaimed(n, name, incident, channel, new IncidentStore.ClaimKey.Incident(incident.id, channel.name(), "recovered", 0));
        }
    }

    private static String inDigest(NotificationDispatcher.Delivery delivery) {
        return delivery.digestOf() > 0 ? " in a digest of " + delivery.digestOf() + " messages" : "";
    }

    private void markNotified(String monitor, MonitorState.OpenIncident incident, Instant now) {
        synchronized (incident) {
            incident.downNotified = true;
            incident.lastNotifiedAt = now;
        }
        underLease(monitor, lease -> incidents.markNotified(incident.id, now, lease));
    }

    /**
     * Writes to the incident under the monitor's lease (null when not clustered). Clustered and no
     * longer holding it, nothing is written and the write is counted as fenced: a null lease would
     * mean "unfenced" to the store, and a node that lost the monitor would overwrite its holder's.
     */
    private void underLease(String monitor, java.util.function.Consumer<Lease> write) {
        Optional<Lease> held = leaseOf(monitor);
        if (held.isEmpty()) {
            metrics.fenced("incident", 1);
            return;
        }
        store(() -> write.accept(orNull(held.get())));
    }

    private ReportFacts facts(MonitorDefinition monitor, MonitorState state, MonitorState.OpenIncident incident, Instant now,
                              Instant resolvedAt, String recoveredWith) {
        CheckResult lastFailure;
        synchronized (state) {
            lastFailure = state.lastFailure;
        }
        String wrong = lastFailure != null ? lastFailure.error() : incident.lastError != null ? incident.lastError : incident.firstError;
        List<String> worked = lastFailure != null ? lastFailure.worked() : List.of();
        // the recovery repeats what the DOWN said was wrong (the check that crossed the threshold);
        // an incident opened before V8 does not know it and falls back to the streak's first error
        String toldWrong;
        synchronized (incident) {
            toldWrong = incident.downError != null ? incident.downError : incident.firstError;
        }
        // a recovery says how long of the outage checks were paused: "down for" counts that time too
        Duration paused = Duration.ZERO;
        if (resolvedAt != null) {
            try {
                // written with the flag's change (MonitorCatalog): read once, here, not per incident held
                paused = IncidentStore.pausedFor(incidents.events(incident.id), incident.startedAt, resolvedAt);
            } catch (RuntimeException e) {
                log.warn("could not read the timeline of incident {} of {}: its report says nothing of a pause: {}", incident.id,
                        monitor.name(), e.toString());
            }
        }
        return new ReportFacts(monitor.name(), monitor.type(), monitor.displayTarget(), monitor.interval(), incident.startedAt,
                incident.failedChecks, wrong, worked, incident.lastSuccessAt, otherChecks(monitor), now, resolvedAt,
                recoveredWith, zone, toldWrong, paused);
    }

    /**
     * The other monitors of the same host that pass, for "what still works": those up first, then
     * those degraded, by name, at most five. Ones that fail too are not "what still works".
     */
    private List<String> otherChecks(MonitorDefinition monitor) {
        String host = monitor.host();
        List<MonitorDefinition> up = new ArrayList<>();
        List<MonitorDefinition> degraded = new ArrayList<>();
        for (MonitorDefinition other : catalog.get().monitors().values()) {
            if (other.name().equals(monitor.name()) || other.paused() || !host.equals(safeHost(other))) {
                continue;
            }
            MonitorState state = states.get(other.name());
            MonitorStatus status;
            int failures = 0;
            if (state == null) {
                status = MonitorStatus.UNKNOWN;
            } else {
                synchronized (state) {
                    status = state.status;
                    failures = state.failures; // failing already, below its threshold: not "what still works"
                }
            }
            if (status == MonitorStatus.UP && failures == 0) {
                up.add(other);
            } else if (status == MonitorStatus.DEGRADED) {
                degraded.add(other);
            }
        }
        java.util.Comparator<MonitorDefinition> byName = java.util.Comparator.comparing(MonitorDefinition::name);
        up.sort(byName);
        degraded.sort(byName);
        List<String> out = new ArrayList<>();
        up.stream().limit(5).forEach(other -> out.add("the " + other.type().wireName() + " check " + other.name()
                + " of the same host is up"));
        degraded.stream().limit(5 - out.size()).forEach(other -> out.add("the " + other.type().wireName() + " check "
                + other.name() + " of the same host is degraded"));
        return out;
    }

    private static String safeHost(MonitorDefinition m) {
        try {
            return m.host();
        } catch (RuntimeException e) {
            return "";
        }
    }

    // ---- the sweep ------------------------------------------------------------------------------

    private void sweepQuietly() {
        try {
            sweep();
        } catch (RuntimeException e) {
            log.warn("reminder sweep failed: {}", e.toString());
        }
    }

    /**
     * Runs the claim sweep on the sweeper's thread now (monitors were taken over and their leases
     * published): messages the last holder claimed and did not send (it died, or handed the
     * monitor over with them queued) go out at once, not at the next periodic sweep.
     */
    public void sweepClaimsSoon() {
        ScheduledExecutorService current = sweeper;
        if (current == null || leases == null) {
            return;
        }
        try {
            current.execute(() -> {
                try {
                    sweepClaims();
                    claimSweeps.succeeded();
                } catch (RuntimeException e) {
                    claimSweeps.failed(e);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // stopping
        }
    }

    /**
     * Sends the claims nobody has taken (or that a stopping node gave back) of the monitors this
     * node holds, outside maintenance windows: a DOWN, reminder or recovery that
     * the node before did not send, or that was refused here when a handover came between its
     * queueing and its sending. Claims queued on this node's lanes are left to them; a claim
     * that can no longer be meant (the DOWN of an incident since resolved, a channel the
     * monitor no longer uses) is ended as cancelled.
     */
    void sweepClaims() {
        if (leases == null) {
            return;
        }
        CatalogView view = catalog.get();
        Instant now = clock.instant();
        Set<String> started = new java.util.HashSet<>();
        for (IncidentStore.PendingClaim pending : incidents.pending()) {
            IncidentStore.ClaimKey.Incident key = pending.key();
            String name = pending.monitor();
            if (leases.lease(name).isEmpty() || queuedIncidents.contains(key.incidentId()) || inFlight.contains(key)) {
                continue;
            }
            MonitorDefinition monitor = view.monitors().get(name);
            if (monitor == null || monitor.paused() || view.maintenanceFor(name, now).isPresent()) {
                continue;
            }
            // a recovery goes to whoever was told of the outage, even a channel taken off the monitor
            // since (it must still exist); other messages only to the monitor's channels now
            boolean channelInUse = key.event().equals("recovered") ? view.channels().containsKey(key.channel())
                    : view.channelsOf(monitor).stream().anyMatch(c -> c.name().equals(key.channel()));
            boolean downOfResolved = key.event().equals("down") && !pending.incidentStatus().equals("open");
            if (!channelInUse || downOfResolved) {
                cancel(name, key, now, "cancelled");
                continue;
            }
            if (!started.add(key.incidentId() + "/" + key.event() + "/" + key.seq())) {
                continue; // one announcement covers every channel of the message
            }
            MonitorState state = states.get(name);
            if (state == null) {
                continue; // not adopted yet: the adoption sweeps again
            }
            if (key.event().equals("recovered")) {
                Incident stored = pending.incident(); // read with the claim: no query per recovery
                MonitorState.OpenIncident incident = new MonitorState.OpenIncident(stored);
                Instant resolvedAt = stored.resolvedAt() == null ? now : stored.resolvedAt();
                String report = stored.recoveryReport();
                // the message says the monitor is up again: whatever it is now, it was up when resolved
                onLane(name, incident, () -> announceRecovery(name, incident, "up", resolvedAt, null, report, true));
                continue;
            }
            MonitorState.OpenIncident incident;
            synchronized (state) {
                incident = state.incident;
            }
            if (incident == null || incident.id != key.incidentId()) {
                continue;
            }
            synchronized (incident) {
                if (incident.announcing) {
                    continue;
                }
                incident.announcing = true;
            }
            if (key.event().equals("down")) {
                onLane(name, incident, () -> announceDown(name, state, incident));
            } else {
                long seq = key.seq();
                onLane(name, incident, () -> announceReminder(name, state, incident, seq));
            }
        }
        for (IncidentStore.PendingWarning pending : incidents.pendingWarnings()) {
            String name = pending.key().monitor();
            if (leases.lease(name).isEmpty() || queuedWarnings.contains(name) || inFlight.contains(pending.key())) {
                continue;
            }
            MonitorDefinition monitor = view.monitors().get(name);
            if (monitor == null || monitor.paused() || view.maintenanceFor(name, now).isPresent()) {
                continue;
            }
            Optional<ChannelDefinition> channel = view.channelsOf(monitor).stream()
                    .filter(c -> c.name().equals(pending.key().channel())).findFirst();
            if (channel.isEmpty()) {
                cancel(name, pending.key(), now, "cancelled");
                continue;
            }
            boolean start = pending.event().equals("warning");
            if (start) {
                // a start held back (a window) or left queued says what was so when it was claimed:
                // sent only while that still stands, not after the monitor went DOWN or the
                // warning ended meanwhile (an end cancels it too, but a failure claims no end)
                MonitorState state = states.get(name);
                if (state == null) {
                    continue; // not adopted yet: the adoption sweeps again
                }
                boolean undecided;
                boolean stillWarns;
                synchronized (state) {
                    // not checked yet (adopted without a stored state), or failing below the
                    // threshold with the warning still standing: the next results decide; a start
                    // cancelled now would never be claimed again while the warning lasts
                    undecided = state.status == MonitorStatus.UNKNOWN
                            || state.status == MonitorStatus.PENDING && state.incident == null && state.warningActive;
                    stillWarns = state.status == MonitorStatus.DEGRADED && state.warningActive && state.incident == null;
                }
                if (undecided) {
                    continue;
                }
                if (!stillWarns) {
                    // a start a node died sending may have arrived: ended as unknown, not cancelled,
                    // so that the warning's end is still claimed (IncidentStore.claimWarning)
                    cancel(name, pending.key(), now, pending.repeats() > 0 ? "unknown" : "cancelled");
                    continue;
                }
            }
            String text = start ? ReportTemplate.asOf(pending.text(), pending.claimedAt(), zone) : pending.text();
            Notification n = new Notification(start ? Notification.Event.WARNING
                    : Notification.Event.WARNING_ENDED, name, monitor.type().wireName(), monitor.displayTarget(), null, pending.status(),
                    now, 0, pending.subject(), text, now);
            queuedWarnings.add(name);
            onLane(name, () -> {
                try {
                    sendClaimed(n, name, null, channel.get(), pending.key());
                } finally {
                    queuedWarnings.remove(name);
                }
            }, () -> queuedWarnings.remove(name));
        }
    }

    /** How long a delivery may take at most (every attempt and backoff); claims of this node "being sent" longer are stale. */
    private volatile Duration maxDelivery = Duration.ofMinutes(5);

    /** Sets the longest a delivery may take, from the notification settings (attempts, timeout, backoff). */
    public void maxDelivery(Duration longest) {
        this.maxDelivery = longest;
    }

    /**
     * Ends this node's claims "being sent" for longer than a delivery can take and not queued or
     * being delivered here: their end could not be written (the store failed at every attempt).
     * Whether the channel took the message is not known, so they end as {@code unknown}, not sent
     * again: otherwise they would stay this live node's until it stops, and be sent by the next
     * holder then, maybe days late.
     */
    void endStaleClaims() {
        Instant now = clock.instant();
        for (IncidentStore.ClaimKey claim : incidents.staleOfMine(now.minus(maxDelivery))) {
            if (inFlight.contains(claim)) {
                continue;
            }
            IncidentEvent entry = claim instanceof IncidentStore.ClaimKey.Incident ? new IncidentEvent(now, "notify_unknown",
                    "message to " + claim.channel() + ": whether it was sent is not known (its end could not be stored)") : null;
            log.warn("notification claim {} was left being sent here; ended as unknown", claim);
            store(() -> incidents.finish(claim, "unknown", now, entry));
        }
    }

    /**
     * Makes the claims that a node took and then died (or was counted out) before storing how the
     * delivery went pending again, for the monitors this node holds; the claim sweep that follows
     * sends them marked as a possible repeat, with the message's id unchanged. The node may have
     * died before calling the channel (ended there, a DOWN would reach nobody) or after the
     * channel took it (a second copy, which says it may be one and which a receiver drops by its
     * id); the timeline says which node stopped and that the message is sent again. A message
     * {@value IncidentStore#MAX_REPEATS} nodes died sending already ends as unknown; for a DOWN,
     * the reminders then repeat it after their interval.
     */
    void resendOrphanedClaims() {
        Instant now = clock.instant();
        for (IncidentStore.OrphanedClaim orphan : incidents.orphaned()) {
            Optional<Lease> lease = leases.lease(orphan.monitor());
            if (lease.isEmpty()) {
                continue;
            }
            IncidentStore.ClaimKey claim = orphan.key();
            IncidentEvent again = null;
            IncidentEvent givenUp = null;
            if (claim instanceof IncidentStore.ClaimKey.Incident incidentClaim) {
                String what = incidentClaim.eventWords() + " message to " + claim.channel() + ": node " + orphan.takenBy() + " stopped while sending it";
                again = new IncidentEvent(now, "notify_again", what + "; sent again, marked as a possible repeat");
                givenUp = new IncidentEvent(now, "notify_unknown", what + ", the " + (IncidentStore.MAX_REPEATS + 1)
                        + " nodes that tried it all stopped; whether it arrived is not known, and it is not sent again");
            }
            IncidentStore.Orphan done;
            try {
                done = incidents.resendOrphaned(claim, lease.get(), now, again, givenUp);
            } catch (LeaseLost e) {
                metrics.fenced("notification", 1);
                continue;
            } catch (RuntimeException e) {
                log.warn("could not deal with {}, left by node {} (tried again at the next sweep): {}", claim.describe(),
                        orphan.takenBy(), e.toString());
                continue;
            }
            switch (done) {
                // the node may be this one's earlier run: "stopped while sending" is true of both
                case SENT_AGAIN -> log.warn("{} was being sent by node {} when it stopped; sending it again, marked as a"
                        + " possible repeat", claim.describe(), orphan.takenBy());
                case GIVEN_UP -> {
                    log.warn("{} was being sent by node {} when it stopped, as were the nodes before it ({} in all); ended"
                            + " as unknown, not sent again", claim.describe(), orphan.takenBy(), IncidentStore.MAX_REPEATS + 1);
                    if (claim instanceof IncidentStore.ClaimKey.Incident incidentClaim && incidentClaim.event().equals("down")) {
                        remindersFrom(orphan.monitor(), incidentClaim.incidentId(), now);
                    }
                }
                case NONE -> {
                }
            }
        }
    }

    /** A DOWN ended without being sent (given up): this node's memory of the incident counts it as told, reminders due from {@code now}. */
    private void remindersFrom(String monitor, long incidentId, Instant now) {
        MonitorState state = states.get(monitor);
        MonitorState.OpenIncident incident = null;
        if (state != null) {
            synchronized (state) {
                incident = state.incident;
            }
        }
        if (incident != null && incident.id == incidentId) {
            synchronized (incident) {
                incident.downNotified = true;
                if (incident.lastNotifiedAt == null) {
                    incident.lastNotifiedAt = now;
                }
            }
        }
    }

    /** A message sent by a single node to one channel, where no claim holds its id: a new one (it is never sent again). */
    private static Notification unclustered(Notification n) {
        return n.identified(IncidentStore.newMessageId(), false);
    }

    private static final Duration STORE_CHECK_EVERY = Duration.ofSeconds(10);

    /**
     * Reminders are timed from the DOWN's outcome. When this node took the incident over while
     * that outcome was still to come, the outcome was stored by another node (the old holder
     * ending its delivery after the handover) or without this node's memory seeing it (an end
     * whose commit this node saw fail, though it went through): it is read from the store,
     * or reminders would never come.
     */
    private void timeRemindersFromStore(MonitorState.OpenIncident incident, Instant now) {
        synchronized (incident) {
            if (!incident.downNotified || incident.lastNotifiedAt != null || incident.announcing
                    || (incident.storeCheckAfter != null && now.isBefore(incident.storeCheckAfter))) {
                return;
            }
            // at most one read per incident every few seconds: a mass outage behind a slow channel
            // has many DOWNs in flight at once, each in this state until its delivery ends
            incident.storeCheckAfter = now.plus(STORE_CHECK_EVERY);
        }
        Instant stored;
        try {
            stored = incidents.find(incident.id).map(Incident::lastNotifiedAt).orElse(null);
        } catch (RuntimeException e) {
            log.debug("reading when incident {} was notified failed (read again at the next sweep): {}", incident.id, e.toString());
            return;
        }
        if (stored != null) {
            synchronized (incident) {
                if (incident.lastNotifiedAt == null) {
                    incident.lastNotifiedAt = stored;
                }
            }
        }
    }

    /** Ends a claim without sending it (it can no longer be meant, or a window holds it back), under the monitor's lease. */
    private void cancel(String monitor, IncidentStore.ClaimKey claim, Instant now, String outcome) {
        if (take(monitor, claim).isPresent()) {
            store(() -> incidents.finish(claim, outcome, now, null));
        }
    }

    /**
     * Sends what is due: held-back DOWN messages once a window is over, reminders, and (in a
     * cluster) the claims nobody is sending ({@link #sweepClaims}).
     */
    public void sweep() {
        if (leases != null) {
            try {
                resendOrphanedClaims();
                orphanSweeps.succeeded();
            } catch (RuntimeException e) {
                orphanSweeps.failed(e);
            }
        }
        try {
            sweepClaims();
            claimSweeps.succeeded();
        } catch (RuntimeException e) {
            claimSweeps.failed(e);
        }
        if (leases != null) {
            try {
                endStaleClaims();
                staleClaimEnds.succeeded();
            } catch (RuntimeException e) {
                staleClaimEnds.failed(e);
            }
        }
        CatalogView view = catalog.get();
        Instant now = clock.instant();
        for (MonitorState state : states.values()) {
            MonitorState.OpenIncident incident;
            synchronized (state) {
                incident = state.incident;
                if (state.removed) {
                    continue;
                }
            }
            if (incident == null) {
                continue;
            }
            MonitorDefinition monitor = view.monitors().get(state.name);
            if (monitor == null || monitor.paused() || view.maintenanceFor(state.name, now).isPresent()) {
                continue;
            }
            Duration every = monitor.reminderEvery() != null ? monitor.reminderEvery() : defaultReminder;
            if (leases != null && !every.isZero()) {
                timeRemindersFromStore(incident, now);
            }
            Runnable task = null;
            boolean reminder = false;
            synchronized (incident) {
                if (incident.announcing) {
                    continue;
                }
                if (!incident.downNotified) {
                    task = () -> announceDown(state.name, state, incident);
                } else if (!every.isZero() && incident.lastNotifiedAt != null
                        && !now.isBefore(incident.lastNotifiedAt.plus(every))) {
                    task = () -> announceReminder(state.name, state, incident);
                    reminder = true;
                }
                if (task != null) {
                    incident.announcing = true;
                }
            }
            if (reminder) {
                event(state.name, incident.id, now, "reminder", "still down after " + DurationText.spoken(
                        Duration.between(incident.startedAt, now)) + "; reminding");
            }
            if (task != null) {
                onLane(state.name, incident, task);
            }
        }
    }

    // ---- definitions changed --------------------------------------------------------------------

    /**
     * Forgets monitors that were removed, closing their open incidents without a message. Call it
     * after the view without them is in use: a result being handled finishes first (it holds the
     * state's lock), and results after that see the state marked removed and are dropped.
     */
    public void retain(CatalogView view) {
        for (MonitorState state : List.copyOf(states.values())) {
            if (view.monitors().containsKey(state.name)) {
                continue;
            }
            MonitorState.OpenIncident incident;
            synchronized (state) {
                state.removed = true;
                incident = state.incident;
                state.incident = null;
            }
            states.remove(state.name, state);
            metrics.forget(state.name);
            if (incident != null) {
                Instant now = clock.instant();
                store(() -> incidents.resolve(incident.id, now, incident.failedChecks, null,
                        new IncidentEvent(now, "closed", "closed: the monitor " + state.name + " was removed")));
            }
        }
    }

    /** A monitor's current state, if it has been checked or restored. */
    public Optional<StateSnapshot> state(String monitor) {
        MonitorState state = states.get(monitor);
        if (state == null) {
            // in a cluster another node may check it: its state as that node last stored it
            return leases == null || leases.lease(monitor).isPresent() ? Optional.empty() : storedState.apply(monitor);
        }
        synchronized (state) {
            return Optional.of(state.snapshot());
        }
    }

    /** The open incident's id, if any. */
    public Optional<Long> openIncident(String monitor) {
        MonitorState state = states.get(monitor);
        if (state == null) {
            if (leases == null) {
                return Optional.empty();
            }
            return incidents.list("open", monitor, null, 1).stream().findFirst().map(Incident::id);
        }
        synchronized (state) {
            return state.incident == null ? Optional.empty() : Optional.of(state.incident.id);
        }
    }

    /** A timeline entry, written under the monitor's lease (refused, and counted, once this node no longer holds it). */
    private void event(String monitor, long incident, Instant at, String kind, String detail) {
        Optional<Lease> held = leaseOf(monitor);
        if (held.isEmpty()) {
            metrics.fenced("incident", 1);
            return;
        }
        store(() -> incidents.event(incident, new IncidentEvent(at, kind, detail), orNull(held.get())));
    }

    private void store(Runnable write) {
        try {
            write.run();
        } catch (LeaseLost e) {
            metrics.fenced("incident", 1);
            log.info("{}", e.getMessage());
        } catch (RuntimeException e) {
            log.warn("could not store an incident update: {}", e.toString());
        }
    }

    @Override
    public void close() {
        closing = true;
        if (sweeper != null) {
            sweeper.shutdownNow();
        }
        lanes.close(5, TimeUnit.SECONDS);
    }
}
