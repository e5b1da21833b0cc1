package io.switchboard.monitor;

import io.switchboard.monitor.definition.CatalogView;
import io.switchboard.monitor.definition.MonitorCatalog;
import io.switchboard.monitor.definition.MonitorDefinition;
import io.switchboard.monitor.incident.IncidentTracker;
import io.switchboard.monitor.schedule.CheckScheduler;
import java.time.Duration;
import java.util.Set;
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
        } catch (RuntimeException e) {
            log.warn("could not reload monitors from the store: {}", e.toString());
        }
    }

    /** Reloads when the stored revision moved; the API calls it after a write so the change applies at once. */
    synchronized void refresh() {
        long revision = catalog.revision();
        if (revision == view.revision()) {
            return;
        }
        CatalogView next = CatalogView.of(revision, catalog.load());
        CatalogView previous = view;
        view = next;
        int active = 0;
        for (MonitorDefinition monitor : next.monitors().values()) {
            MonitorDefinition before = previous.monitors().get(monitor.name());
            if (before != null && before.type() != monitor.type()) {
                metrics.forget(monitor.name());
            }
            if (monitor.paused()) {
                scheduler.unschedule(monitor.name());
            } else {
                scheduler.schedule(monitor);
                active++;
            }
        }
        Set<String> scheduled = scheduler.scheduled();
        for (String name : scheduled) {
            if (!next.monitors().containsKey(name)) {
                scheduler.unschedule(name);
            }
        }
        for (String name : previous.monitors().keySet()) {
            if (!next.monitors().containsKey(name)) {
                removed.accept(name);
            }
        }
        tracker.retain(next);
        log.info("monitors loaded at revision {}: {} active, {} paused, {} channels, {} maintenance windows", revision, active,
                next.monitors().size() - active, next.channels().size(), next.maintenance().size());
    }

    @Override
    public void close() {
        if (poller != null) {
            poller.shutdownNow();
        }
    }
}
