package io.switchboard.monitor;

import io.switchboard.monitor.definition.CatalogView;
import io.switchboard.monitor.definition.MonitorCatalog;
import io.switchboard.monitor.definition.MonitorDefinition;
import io.switchboard.monitor.incident.IncidentTracker;
import io.switchboard.monitor.schedule.CheckScheduler;
import io.switchboard.monitor.definition.ChannelDefinition;
import io.switchboard.monitor.definition.MaintenanceWindow;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the running node in step with the stored definitions: polls the catalog's revision a few
 * times a second (so a change made by the CLI, the API or another node is seen within a second),
 * reloads when it moved, and tells the scheduler and the tracker what was added, changed, paused
 * or removed. The definitions in use are one immutable {@link CatalogView}, swapped whole.
 */
final class CatalogWatcher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CatalogWatcher.class);
    private final io.switchboard.platform.RecurringFailure refreshes = new io.switchboard.platform.RecurringFailure(log,
            "could not reload monitors from the store", "monitors are read from the store again");

    private final MonitorCatalog catalog;
    private final CheckScheduler scheduler;
    private final IncidentTracker tracker;
    private final MonitorMetrics metrics;
    private final Duration pollInterval;
    private final java.util.function.Consumer<String> removed;
    private volatile CatalogView view = CatalogView.empty();
    private ScheduledExecutorService poller;

    CatalogWatcher(MonitorCatalog catalog, CheckScheduler scheduler, IncidentTracker tracker, MonitorMetrics metrics,
                   Duration pollInterval, java.util.function.Consumer<String> removed) {
        this.removed = removed;
        this.catalog = catalog;
        this.scheduler = scheduler;
        this.tracker = tracker;
        this.metrics = metrics;
        this.pollInterval = pollInterval;
    }

    CatalogView view() {
        return view;
    }

    void start() {
        refresh();
        poller = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon().name("monitor-catalog").unstarted(r));
        long every = pollInterval.toMillis();
        poller.scheduleWithFixedDelay(this::refreshQuietly, every, every, TimeUnit.MILLISECONDS);
    }

    private void refreshQuietly() {
        try {
            refresh();
            refreshes.succeeded();
        } catch (RuntimeException e) {
            refreshes.failed(e); // once, while the store is away: not at every poll
        }
    }

    /**
     * Reloads when the stored revision moved; the API calls it after a write so the change applies
     * at once. Only what changed is read and applied: the monitor rows written since the revision
     * in use (see {@link MonitorCatalog#changesSince}), removals, and channels and windows when one
     * of them changed, so creating 10,000 monitors one request at a time stays linear.
     */
    synchronized void refresh() {
        long revision = catalog.revision();
        CatalogView previous = view;
        if (revision == previous.revision()) {
            return;
        }
        MonitorCatalog.Changes changes = catalog.changesSince(previous.revision(), previous.channels().size(),
                previous.maintenance().size());
        Map<String, MonitorDefinition> monitors = new LinkedHashMap<>();
        for (String name : changes.names()) {
            MonitorDefinition monitor = changes.changedNames().contains(name) ? changes.changed().get(name)
                    : previous.monitors().get(name);
            if (monitor != null) {
                monitors.put(name, monitor);
            }
        }
        Map<String, ChannelDefinition> channels = previous.channels();
        if (changes.channels() != null) {
            channels = new LinkedHashMap<>();
            for (ChannelDefinition c : changes.channels()) {
                channels.put(c.name(), c);
                metrics.channel(c.name(), c.type().wireName());
            }
        }
        List<MaintenanceWindow> windows = changes.windows() != null ? changes.windows() : previous.maintenance();
        CatalogView next = new CatalogView(changes.revision(), monitors, channels, windows);
        view = next;

        for (MonitorDefinition monitor : changes.changed().values()) {
            MonitorDefinition before = previous.monitors().get(monitor.name());
            if (before != null && before.type() != monitor.type()) {
                metrics.forget(monitor.name());
            }
            if (monitor.paused()) {
                scheduler.unschedule(monitor.name());
                // not checked while paused: its last result must not read as the monitor's state now
                metrics.forget(monitor.name());
            } else {
                scheduler.schedule(monitor);
            }
        }
        List<String> gone = new ArrayList<>();
        for (String name : previous.monitors().keySet()) {
            if (!monitors.containsKey(name)) {
                gone.add(name);
                scheduler.unschedule(name);
            }
        }
        if (previous.revision() < 0) {
            // the first load: nothing scheduled may be left that the store does not hold
            for (String name : scheduler.scheduled()) {
                if (!monitors.containsKey(name)) {
                    scheduler.unschedule(name);
                }
            }
        }
        if (!gone.isEmpty()) {
            // the tracker first (it waits for a result being handled), then what is stored about them
            tracker.retain(next);
            gone.forEach(removed);
        }
        log.info("monitors at revision {}: changed {}, removed {}; now monitors {}, channels {}, maintenance windows {}", revision,
                changes.changedNames().size(), gone.size(), monitors.size(), channels.size(), windows.size());
    }

    @Override
    public void close() {
        if (poller != null) {
            poller.shutdownNow();
        }
    }
}
