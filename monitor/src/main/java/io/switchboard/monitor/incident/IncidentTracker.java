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
 * incident. Results for a monitor that is no longer in the catalog, or is paused, are dropped: a
 * check that was running when its monitor was deleted brings back no state, gauges or incident.
 */
public final class IncidentTracker implements CheckScheduler.ResultSink, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(IncidentTracker.class);

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
    private ScheduledExecutorService sweeper;
    /** In a cluster: the monitors this node holds the lease of (null: every monitor is this node's, unfenced). */
    private volatile MonitorLeases leases;
    private volatile String nodeId = "node";
    private volatile Supplier<Map<String, StateSnapshot>> storedStates = Map::of;
    private volatile java.util.function.Function<String, Optional<StateSnapshot>> storedState = name -> Optional.empty();

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
            synchronized (state) {
                state.incident = new MonitorState.OpenIncident(open);
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
    public void useLeases(MonitorLeases leases, String nodeId, Supplier<Map<String, StateSnapshot>> storedStates,
                          java.util.function.Function<String, Optional<StateSnapshot>> storedState) {
        this.leases = leases;
        this.nodeId = nodeId;
        this.storedStates = storedStates;
        this.storedState = storedState;
    }

    /**
     * Takes over monitors this node now holds: their stored state and open incident, as the node
     * that held them last left them. An open incident whose DOWN message was claimed but never sent
     * (its holder died first) is announced again: the claim is taken over, so it goes out once.
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
            if (incident.downNotified && incidents.hasUnsentDown(open.id())) {
                incident.downNotified = false; // the sweep announces it; the claim makes it once per channel
            }
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
        List<IncidentEvent> events = new ArrayList<>();
        events.add(new IncidentEvent(since, "first_failure", "first failed check: " + firstError));
        events.add(new IncidentEvent(now, "opened", monitor.name() + " is DOWN after " + failed + " failed check"
                + (failed == 1 ? "" : "s") + " in a row"));
        Incident stored;
        try {
            stored = incidents.open(monitor.name(), since, now, failed, firstError, result.error(),
                    lastSuccess == null ? null : Instant.ofEpochMilli(lastSuccess), events, lease);
        } catch (LeaseLost e) {
            metrics.fenced("incident", 1);
            log.info("no incident opened for {} here: another node checks it now", monitor.name());
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
                    new IncidentEvent(now, "closed", "closed: the monitor " + monitor.name() + " was removed")));
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
        try {
            incidents.resolve(incident.id, now, incident.failedChecks, null, new IncidentEvent(now, "resolved",
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
        onLane(monitor.name(), incident, () -> announceRecovery(monitor.name(), incident, result, now));
    }

    // ---- announcements ------------------------------------------------------------------------------

    private void onLane(String monitor, MonitorState.OpenIncident incident, Runnable task) {
        Runnable done = () -> {
            synchronized (incident) {
                incident.announcing = false;
            }
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
        log.info("{}: {}", name, report.subject());
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
            return;
        }
        dispatcher.dispatch(n, channels, (channel, delivery) -> {
        });
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
        boolean first;
        synchronized (incident) {
            first = !incident.downNotified;
        }
        if (first) {
            store(() -> incidents.setReport(incident.id, report.text(), report.source()));
            event(incident.id, now, "report", report.source().equals("template") ? "report written from the template"
                    : "report rewritten by " + report.source().substring(4));
        }
        List<ChannelDefinition> channels = view.channelsOf(monitor);
        Notification n = new Notification(Notification.Event.DOWN, name, monitor.type().wireName(), monitor.displayTarget(), incident.id,
                "down", incident.startedAt, facts.failedChecks(), report.subject(), report.text(), now);
        send(n, monitor, incident, channels, view.maintenanceFor(name, now), now);
    }

    private void announceReminder(String name, MonitorState state, MonitorState.OpenIncident incident) {
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
        send(n, monitor, incident, view.channelsOf(monitor), view.maintenanceFor(name, now), now);
    }

    private void send(Notification n, MonitorDefinition monitor, MonitorState.OpenIncident incident,
                      List<ChannelDefinition> channels, Optional<MaintenanceWindow> window, Instant now) {
        if (channels.isEmpty()) {
            if (n.event() == Notification.Event.DOWN) {
                event(incident.id, now, "notified", "nobody to tell: " + monitor.name() + " has no notification channels");
                markNotified(incident, now);
            }
            return;
        }
        if (window.isPresent()) {
            String why = "maintenance window " + window.get().name();
            dispatcher.suppress(n, channels, why);
            if (n.event() == Notification.Event.DOWN) {
                event(incident.id, now, "suppressed", "DOWN message held back during " + why + "; sent when it ends if still down");
            }
            return;
        }
        long seq;
        synchronized (incident) {
            seq = n.event() == Notification.Event.REMINDER && incident.lastNotifiedAt != null
                    ? incident.lastNotifiedAt.toEpochMilli() : 0;
        }
        if (leases != null) {
            Optional<List<ChannelDefinition>> claimed = claim(n, monitor.name(), incident.id, channels, seq, now);
            if (claimed.isEmpty()) {
                return;
            }
            synchronized (incident) {
                incident.downNotified = true;
                incident.lastNotifiedAt = now;
            }
            channels = claimed.get();
            if (channels.isEmpty()) {
                return;
            }
        } else {
            markNotified(incident, now);
        }
        dispatcher.dispatch(n, channels, (channel, delivery) -> {
            if (leases != null && delivery.sent()) {
                store(() -> incidents.claimSent(incident.id, channel.name(), n.event().wireName(), seq, clock.instant()));
            }
            event(incident.id, clock.instant(), delivery.sent() ? "notified" : "notify_failed",
                    n.event().wireName() + " message " + (delivery.sent() ? "sent to " : "could not be sent to ") + channel.name()
                            + " (" + channel.type().wireName() + ")" + inDigest(delivery) + (delivery.attempts() > 1 ? " after "
                            + delivery.attempts() + " attempts" : "") + (delivery.sent() ? "" : ": " + delivery.error()));
        });
    }

    /**
     * Claims {@code n} for each channel under the monitor's lease (see {@link IncidentStore#claim}):
     * the channels this node sends to; empty when this node must send nothing (the lease is lost,
     * or the store refused the claim: the sweep tries a DOWN message again).
     */
    private Optional<List<ChannelDefinition>> claim(Notification n, String monitor, long incidentId,
                                                    List<ChannelDefinition> channels, long seq, Instant now) {
        Optional<Lease> lease = leases.lease(monitor);
        if (lease.isEmpty()) {
            metrics.fenced("notification", channels.size());
            return Optional.empty();
        }
        try {
            List<String> mine = incidents.claim(incidentId, channels.stream().map(ChannelDefinition::name).toList(),
                    n.event().wireName(), seq, lease.get(), nodeId, now);
            if (mine.size() < channels.size()) {
                log.info("{} message of incident {}: {} of {} channels already claimed by another node", n.event().wireName(),
                        incidentId, channels.size() - mine.size(), channels.size());
            }
            return Optional.of(channels.stream().filter(c -> mine.contains(c.name())).toList());
        } catch (LeaseLost e) {
            metrics.fenced("notification", channels.size());
            log.info("{} message of incident {} not sent here: another node checks {} now", n.event().wireName(), incidentId, monitor);
            return Optional.empty();
        } catch (RuntimeException e) {
            log.warn("could not claim the {} message of incident {} (not sent now): {}", n.event().wireName(), incidentId, e.toString());
            return Optional.empty();
        }
    }

    private void announceRecovery(String name, MonitorState.OpenIncident incident, CheckResult result, Instant resolvedAt) {
        CatalogView view = catalog.get();
        Optional<MonitorDefinition> found = view.monitor(name);
        MonitorState state = states.get(name);
        if (found.isEmpty() || state == null) {
            return;
        }
        MonitorDefinition monitor = found.get();
        Instant now = clock.instant();
        String how = result.latencyMillis() + " ms" + (result.details().get("status") instanceof Integer code
                ? ", " + monitor.type().wireName().toUpperCase(java.util.Locale.ROOT) + " " + code : "")
                + (result.error() != null ? " (" + result.error() + ")" : "");
        ReportFacts facts = facts(monitor, state, incident, now, resolvedAt, "the check passed in " + how);
        Report report = reports.recovered(facts);
        store(() -> incidents.setRecoveryReport(incident.id, report.text()));
        boolean told;
        synchronized (incident) {
            told = incident.downNotified;
        }
        if (!told) {
            event(incident.id, now, "notified", "no recovery message: nobody had been told about the outage");
            return;
        }
        List<ChannelDefinition> channels = view.channelsOf(monitor);
        if (channels.isEmpty()) {
            return;
        }
        Notification n = new Notification(Notification.Event.RECOVERED, name, monitor.type().wireName(), monitor.displayTarget(),
                incident.id, result.status().wireName(), incident.startedAt, incident.failedChecks, report.subject(), report.text(),
                now);
        Optional<MaintenanceWindow> window = view.maintenanceFor(name, now);
        if (window.isPresent()) {
            dispatcher.suppress(n, channels, "maintenance window " + window.get().name());
            return;
        }
        if (leases != null) {
            Optional<List<ChannelDefinition>> claimed = claim(n, name, incident.id, channels, 0, now);
            if (claimed.isEmpty() || claimed.get().isEmpty()) {
                return;
            }
            channels = claimed.get();
        }
        dispatcher.dispatch(n, channels, (channel, delivery) -> {
            if (leases != null && delivery.sent()) {
                store(() -> incidents.claimSent(incident.id, channel.name(), n.event().wireName(), 0, clock.instant()));
            }
            recoveryEvent(incident, channel, delivery);
        });
    }

    private void recoveryEvent(MonitorState.OpenIncident incident, ChannelDefinition channel, NotificationDispatcher.Delivery delivery) {
        event(incident.id, clock.instant(),
                delivery.sent() ? "notified" : "notify_failed",
                "recovery message " + (delivery.sent() ? "sent to " : "could not be sent to ") + channel.name() + " ("
                        + channel.type().wireName() + ")" + inDigest(delivery) + (delivery.sent() ? "" : ": " + delivery.error()));
    }

    private static String inDigest(NotificationDispatcher.Delivery delivery) {
        return delivery.digestOf() > 0 ? " in a digest of " + delivery.digestOf() + " messages" : "";
    }

    private void markNotified(MonitorState.OpenIncident incident, Instant now) {
        synchronized (incident) {
            incident.downNotified = true;
            incident.lastNotifiedAt = now;
        }
        store(() -> incidents.markNotified(incident.id, now));
    }

    private ReportFacts facts(MonitorDefinition monitor, MonitorState state, MonitorState.OpenIncident incident, Instant now,
                              Instant resolvedAt, String recoveredWith) {
        CheckResult lastFailure;
        synchronized (state) {
            lastFailure = state.lastFailure;
        }
        String wrong = lastFailure != null ? lastFailure.error() : incident.lastError != null ? incident.lastError : incident.firstError;
        List<String> worked = lastFailure != null ? lastFailure.worked() : List.of();
        return new ReportFacts(monitor.name(), monitor.type(), monitor.displayTarget(), monitor.interval(), incident.startedAt,
                incident.failedChecks, wrong, worked, incident.lastSuccessAt, otherChecks(monitor), now, resolvedAt,
                recoveredWith, zone);
    }

    /** How the other monitors of the same host fare: part of "what still works". */
    private List<String> otherChecks(MonitorDefinition monitor) {
        String host = monitor.host();
        List<String> out = new ArrayList<>();
        for (MonitorDefinition other : catalog.get().monitors().values()) {
            if (other.name().equals(monitor.name()) || other.paused() || !host.equals(safeHost(other))) {
                continue;
            }
            MonitorState state = states.get(other.name());
            MonitorStatus status;
            if (state == null) {
                status = MonitorStatus.UNKNOWN;
            } else {
                synchronized (state) {
                    status = state.status;
                }
            }
            if (status == MonitorStatus.UNKNOWN) {
                continue;
            }
            out.add("the " + other.type().wireName() + " check " + other.name() + " of the same host is " + status.wireName());
            if (out.size() == 5) {
                break;
            }
        }
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

    /** Sends what is due: held-back DOWN messages once a window is over, and reminders. */
    public void sweep() {
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
                event(incident.id, now, "reminder", "still down after " + DurationText.spoken(
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

    private void event(long incident, Instant at, String kind, String detail) {
        store(() -> incidents.event(incident, new IncidentEvent(at, kind, detail)));
    }

    private static void store(Runnable write) {
        try {
            write.run();
        } catch (RuntimeException e) {
            log.warn("could not store an incident update: {}", e.toString());
        }
    }

    @Override
    public void close() {
        if (sweeper != null) {
            sweeper.shutdownNow();
        }
        lanes.close(5, TimeUnit.SECONDS);
    }
}
