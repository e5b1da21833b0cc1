package io.switchboard.monitor;

import io.switchboard.monitor.api.ChannelsApi;
import io.switchboard.monitor.api.IncidentsApi;
import io.switchboard.monitor.api.MaintenanceApi;
import io.switchboard.monitor.api.MonitorsApi;
import io.switchboard.monitor.check.CertificateTrust;
import io.switchboard.monitor.check.CheckRunner;
import io.switchboard.monitor.cluster.MonitorLeases;
import io.switchboard.monitor.definition.CatalogView;
import io.switchboard.monitor.definition.ChannelType;
import io.switchboard.monitor.definition.MonitorCatalog;
import io.switchboard.monitor.history.HistoryFolder;
import io.switchboard.monitor.history.ResultStore;
import io.switchboard.monitor.history.ResultWriter;
import io.switchboard.monitor.incident.IncidentStore;
import io.switchboard.monitor.incident.IncidentTracker;
import io.switchboard.monitor.notify.DeliveryLog;
import io.switchboard.monitor.notify.NotificationDispatcher;
import io.switchboard.monitor.notify.NotifierEmail;
import io.switchboard.monitor.notify.NotifierTelegram;
import io.switchboard.monitor.notify.NotifierWebhook;
import io.switchboard.monitor.report.IncidentReports;
import io.switchboard.monitor.report.ReportRewriter;
import io.switchboard.monitor.schedule.CheckScheduler;
import io.switchboard.platform.lifecycle.Component;
import io.switchboard.platform.config.ConfigSection;
import io.switchboard.platform.lifecycle.NodeContext;
import io.switchboard.platform.lifecycle.NodeModule;
import java.net.http.HttpClient;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The monitor module: checks web services, DNS, certificates, ports and SIP devices on a schedule,
 * keeps their history, opens incidents and tells people in plain words. Its config block is
 * {@code monitor:} (see README, "Monitor"); what it watches is defined through the API or the
 * monitor file ({@code switchboard monitor import}).
 */
public final class Monitor implements NodeModule {
    private static final Logger log = LoggerFactory.getLogger(Monitor.class);
    static final Duration CATALOG_POLL = Duration.ofMillis(250);
    /** The lease name of retention and history folding. */
    static final String HISTORY_JOB = "history";
    /** How long a graceful handover waits for the results accepted under the leases it lets go to be written. */
    static final Duration HANDOVER_FLUSH = Duration.ofSeconds(5);

    private final Clock clock;
    private final CheckRunner runner;
    private volatile CheckScheduler scheduler;
    private volatile IncidentTracker tracker;
    private volatile ResultWriter writer;
    private volatile HistoryFolder folder;
    private volatile CatalogWatcher watcher;
    private volatile MonitorLeases leases;

    public Monitor() {
        this(Clock.systemUTC(), null);
    }

    /** For tests: a clock, and a runner whose checks may be replaced (null: the real checks). */
    public Monitor(Clock clock, CheckRunner runner) {
        this.clock = clock;
        this.runner = runner;
    }

    @Override
    public String name() {
        return "monitor";
    }

    @Override
    public void checkConfig(ConfigSection section) {
        MonitorSettings.from(section);
    }

    @Override
    public void assemble(NodeContext context) {
        MonitorSettings settings = MonitorSettings.from(context.section());
        Jdbi jdbi = context.store().jdbi();
        MonitorMetrics metrics = new MonitorMetrics(context.meters(), clock);
        MonitorCatalog catalog = new MonitorCatalog(jdbi, clock);
        ResultStore results = new ResultStore(jdbi, clock);
        IncidentStore incidents = new IncidentStore(jdbi);
        DeliveryLog deliveries = new DeliveryLog(jdbi);
        writer = new ResultWriter(jdbi, metrics, settings.resultQueue());
        folder = new HistoryFolder(jdbi, clock, settings.rawRetention(), settings.hourlyRetention(), settings.dailyRetention());

        CertificateTrust trust = new CertificateTrust();
        // HTTP/1.1: on plain http:// the client would otherwise offer "Upgrade: h2c" with every
        // POST, which receivers and proxies in front of them may refuse (RFC 9113 §3.1 dropped it)
        HttpClient http = HttpClient.newBuilder().connectTimeout(settings.notifyTimeout())
                .version(HttpClient.Version.HTTP_1_1).followRedirects(HttpClient.Redirect.NEVER).build();
        NotificationDispatcher dispatcher = new NotificationDispatcher(Map.of(
                ChannelType.WEBHOOK, new NotifierWebhook(http, settings.notifyTimeout()),
                ChannelType.TELEGRAM, new NotifierTelegram(http, settings.notifyTimeout()),
                ChannelType.EMAIL, new NotifierEmail(trust, settings.notifyTimeout())),
                deliveries, metrics, clock, settings.notifyAttempts(), settings.notifyBackoff());
        ReportRewriter rewriter = settings.llmBaseUrl() == null ? null
                : new ReportRewriter(settings.llmBaseUrl(), settings.llmModel(), settings.llmApiKey(), settings.llmTimeout());
        tracker = new IncidentTracker(incidents, writer, dispatcher, new IncidentReports(rewriter, settings.llmConcurrency()), metrics, clock,
                settings.timeZone(), settings.reminderEvery(), () -> watcher == null ? CatalogView.empty() : watcher.view());
        scheduler = new CheckScheduler(runner != null ? runner : new CheckRunner(clock), tracker, metrics,
                settings.maxConcurrentChecks());
        // through the writer, so a removed monitor's state row goes after any of its states queued before
        watcher = new CatalogWatcher(catalog, scheduler, tracker, metrics, CATALOG_POLL,
                name -> writer.submit(new ResultWriter.ForgetState(name)));
        metrics.bindGauges(scheduler::size, scheduler::running, writer::backlog);
        metrics.bindNotificationsWaiting(dispatcher::waiting);

        // Clustering: each monitor is checked by the node that owns it (rendezvous hashing over the
        // live nodes) under a fenced lease; the history job runs under a lease of its own. A single
        // node owns everything.
        leases = new MonitorLeases(context.cluster(),
                () -> watcher == null ? java.util.Set.of() : watcher.view().monitors().keySet(), java.util.Set.of(HISTORY_JOB));
        writer.fenceWith(leases::holds);
        dispatcher.stopWhenOut(context.cluster()::inGoodStanding);
        // every attempt's timeout and the backoffs between them, doubled for margin
        tracker.maxDelivery(settings.notifyTimeout().multipliedBy(settings.notifyAttempts())
                .plus(settings.notifyBackoff().multipliedBy(1L << Math.min(settings.notifyAttempts(), 20)))
                .multipliedBy(2).plusSeconds(60));
        incidents.fenceWith(leases::holds);
        io.switchboard.platform.cluster.Leases clusterLeases = context.cluster().leases();
        incidents.claimAs(new IncidentStore.Claimant(context.nodeId(), clusterLeases.incarnation(), clusterLeases::aliveSql,
                clusterLeases.expiryMillis()));
        tracker.useLeases(leases, results::states, results::state);
        leases.onChange(tracker::adopt, tracker::drop);
        leases.onHandingOver(names -> {
            try {
                if (!writer.flush(HANDOVER_FLUSH)) {
                    log.warn("results of {} monitors handed over were not all written within {} s; the rest are refused by the"
                            + " fence and counted", names.size(), HANDOVER_FLUSH.toSeconds());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        // monitors taken over from a node that died are checked soon, not at their old due times
        // ... and the messages their last holder left unsent go out now
        leases.onTakenOver(names -> {
            scheduler.runSoon(names);
            tracker.sweepClaimsSoon();
        });
        scheduler.gate(leases::runsHere);
        folder.gate(() -> leases.job(HISTORY_JOB).isPresent());
        folder.fence(h -> leases.job(HISTORY_JOB).map(lease -> leases.holds(h, lease)).orElse(false));
        metrics.bindHeld(leases::heldCount);

        context.addComponent(Component.of("monitor",
                () -> {
                    writer.start();
                    scheduler.start();
                    watcher.start();
                    leases.start(); // takes this node's monitors; the tracker loads their state and open incidents
                    tracker.startSweeping(Duration.ofSeconds(1));
                    folder.start(Duration.ofMinutes(1));
                    log.info("monitors scheduled: {}; reports from {}", scheduler.size(),
                            rewriter == null ? "the template" : "the template rewritten by " + settings.llmModel());
                },
                () -> {
                    watcher.close();
                    scheduler.close();
                    tracker.close();
                    dispatcher.close();
                    folder.close();
                    writer.close();
                    leases.close(); // after the writer: what it stored was written under the leases
                }));
        context.addReadinessCheck("scheduler", () -> scheduler.isRunning() ? Optional.empty()
                : Optional.of("the monitor scheduler is not running"));
        Runnable apply = () -> {
            try {
                watcher.refresh();
                leases.refreshSoon();
            } catch (RuntimeException e) {
                log.warn("applying a monitor change failed (the poller retries): {}", e.toString());
            }
        };
        context.addRoutes(new MonitorsApi(catalog, apply, tracker, results, context.adminAuth(), context.json())::register);
        context.addRoutes(new ChannelsApi(catalog, apply, dispatcher, context.adminAuth(), context.json(), clock)::register);
        context.addRoutes(new MaintenanceApi(catalog, apply, context.adminAuth(), context.json(), clock)::register);
        context.addRoutes(new IncidentsApi(incidents, deliveries, context.adminAuth(),
                name -> catalog.monitor(name).isPresent(), name -> catalog.channel(name).isPresent())::register);
        context.addRoutes(routes -> {
            routes.before("/api/v1/monitor-stats", context.adminAuth()::requireAdmin);
            routes.get("/api/v1/monitor-stats", ctx -> {
                io.switchboard.platform.http.QueryParams.allowOnly(ctx, java.util.Set.of());
                Map<String, Object> out = new java.util.LinkedHashMap<>();
                out.put("monitors", scheduler.size());
                out.put("running", scheduler.running());
                out.put("checks", (long) metrics.checksTotal());
                out.put("checksFailed", (long) metrics.checksFailedTotal());
                out.put("checksSkipped", (long) metrics.skippedTotal());
                out.put("lateness", metrics.latenessSummary());
                out.put("resultsBacklog", writer.backlog());
                out.put("resultsDropped", (long) metrics.resultsDroppedTotal());
                ctx.json(out);
            });
        });
    }

    /** For tests: sends due reminders now. */
    public void sweep() {
        tracker.sweep();
    }
}
