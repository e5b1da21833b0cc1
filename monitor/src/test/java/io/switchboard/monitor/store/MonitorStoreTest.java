package io.switchboard.monitor.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.monitor.MonitorMetrics;
import io.switchboard.monitor.check.CheckResult;
import io.switchboard.monitor.check.CheckStatus;
import io.switchboard.monitor.definition.Catalog;
import io.switchboard.monitor.definition.CatalogFile;
import io.switchboard.monitor.definition.ChannelDefinition;
import io.switchboard.monitor.definition.CheckOptions;
import io.switchboard.monitor.definition.DefinitionException;
import io.switchboard.monitor.definition.MonitorCatalog;
import io.switchboard.monitor.history.HistoryFolder;
import io.switchboard.monitor.history.ResultStore;
import io.switchboard.monitor.history.ResultWriter;
import io.switchboard.monitor.incident.Incident;
import io.switchboard.monitor.incident.IncidentEvent;
import io.switchboard.monitor.incident.IncidentStore;
import io.switchboard.monitor.incident.MonitorStatus;
import io.switchboard.monitor.incident.StateSnapshot;
import io.switchboard.monitor.notify.DeliveryLog;
import io.switchboard.monitor.support.Defs;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import io.switchboard.platform.testing.MutableClock;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The module's tables on SQLite; {@link MonitorStorePostgresTest} runs every test again on PostgreSQL. */
class MonitorStoreTest {
    static final Instant NOW = Instant.parse("2025-06-10T12:30:00Z");
    static final String FILE = """
            channels:
              - name: ops-hook
                type: webhook
                url: http://127.0.0.1:9000/hook
                secret: hook-secret
              - name: oncall
                type: telegram
                botToken: '123456:ABCdef'
                chatId: '-100123'
            monitors:
              - name: shop
                type: http
                target: http://127.0.0.1:8000/health
                interval: 1s
                timeout: 2s
                failureThreshold: 2
                channels: [ops-hook]
              - name: shop-dns
                type: dns
                target: shop.example.org
                recordType: AAAA
                expect: ['2001:db8::1']
                resolver: 127.0.0.1:5353
                channels: [ops-hook, oncall]
              - name: panel
                type: sip
                target: sip:panel@10.0.0.5:5060;transport=tcp
                expectStatus: [200]
            maintenance:
              - name: nightly
                start: 2025-06-01T02:00:00Z
                duration: 30m
                repeat: daily
                monitors: [shop]
            """;

    @TempDir
    Path dir;
    Store store;
    MonitorCatalog catalog;

    StoreSettings settings() throws Exception {
        return StoreSettings.sqliteIn(dir);
    }

    @BeforeEach
    void open() throws Exception {
        store = Store.open(settings());
        store.migrate("platform");
        store.migrate("monitor");
        catalog = new MonitorCatalog(store.jdbi(), Clock.fixed(NOW, ZoneOffset.UTC));
    }

    @AfterEach
    void close() throws Exception {
        store.close();
    }

    @Test
    void theFileRoundTripsThroughTheStore() {
        Catalog read = CatalogFile.read(FILE, Set.of());
        MonitorCatalog.ImportSummary summary = catalog.importCatalog(read, false);
        assertThat(summary.monitors()).isEqualTo(new MonitorCatalog.Counts(3, 0, 0));
        Catalog stored = catalog.load();
        // the store lists by name; the file's order is not kept
        assertThat(stored.channels()).containsExactlyInAnyOrderElementsOf(read.channels());
        assertThat(stored.monitors()).containsExactlyInAnyOrderElementsOf(read.monitors());
        assertThat(stored.maintenance()).containsExactlyInAnyOrderElementsOf(read.maintenance());
        String exported = CatalogFile.write(stored);
        assertThat(CatalogFile.read(exported, Set.of())).isEqualTo(stored);
        assertThat(exported).contains("secret: hook-secret").contains("name: nightly");
    }

    /**
     * An export imported again is all unchanged, the defaults the file leaves out and the ones it
     * writes alike, and secrets as exported; an entry that differs counts as changed, a new one as added.
     */
    @Test
    void anImportCountsWhatItAddedChangedAndFoundUnchanged() {
        MonitorCatalog.ImportSummary first = catalog.importCatalog(CatalogFile.read(FILE.replace("maintenance:\n", """
                  - name: api
                    type: http
                    target: https://ops:pw@127.0.0.1:8443/health
                    headers: {X-Api-Key: abc}
                    expectStatus: [2xx, 301-302]
                  - name: cert
                    type: tls
                    target: 127.0.0.1:443
                maintenance:
                """), Set.of()), false);
        assertThat(first.all()).isEqualTo(new MonitorCatalog.Counts(8, 0, 0));

        MonitorCatalog.ImportSummary again = catalog.importCatalog(CatalogFile.read(CatalogFile.write(catalog.load()), Set.of()),
                false);
        assertThat(again.channels()).isEqualTo(new MonitorCatalog.Counts(0, 0, 2));
        assertThat(again.monitors()).isEqualTo(new MonitorCatalog.Counts(0, 0, 5));
        assertThat(again.maintenance()).isEqualTo(new MonitorCatalog.Counts(0, 0, 1));

        MonitorCatalog.ImportSummary edited = catalog.importCatalog(CatalogFile.read("""
                monitors:
                  - name: panel
                    type: sip
                    target: sip:panel@10.0.0.5:5060;transport=tcp
                    expectStatus: [200]
                    interval: 60s
                    timeout: 10s
                    failureThreshold: 3
                  - name: shop-dns
                    type: dns
                    target: shop.example.org
                    recordType: AAAA
                    expect: ['2001:db8::1']
                    resolver: 127.0.0.1:5353
                    channels: [oncall]
                  - name: db
                    type: tcp
                    target: 127.0.0.1:5432
                """, Set.of("ops-hook", "oncall")), false);
        assertThat(edited.monitors()).as("the defaults written out, one channel less, one new").isEqualTo(new MonitorCatalog.Counts(1, 1, 1));
    }

    /**
     * A monitor stored by an earlier version that breaks a rule added since (a port written "+80")
     * still loads, pauses and comes back unchanged through an export and import; changed, it meets
     * the rule.
     */
    @Test
    void aStoredMonitorOlderThanTheRulesKeepsWorking() {
        catalog.putMonitor(Defs.monitor("name: legacy\ntype: tcp\ntarget: '127.0.0.1:80'\ninterval: 30s"));
        store.jdbi().useHandle(h -> h.execute("UPDATE monitor_monitors SET definition = replace(definition, '127.0.0.1:80',"
                + " '127.0.0.1:+80') WHERE name = 'legacy'"));
        assertThat(catalog.monitor("legacy").orElseThrow().target()).isEqualTo("127.0.0.1:+80");
        assertThat(catalog.load().monitors()).extracting(m -> m.name()).contains("legacy");
        assertThat(catalog.setPaused("legacy", true).paused()).isTrue();

        Catalog exported = CatalogFile.read(CatalogFile.write(catalog.load()), Set.of());
        catalog.importCatalog(exported, false);
        assertThat(catalog.monitor("legacy").orElseThrow().target()).isEqualTo("127.0.0.1:+80");

        Catalog changed = CatalogFile.read(CatalogFile.write(catalog.load()).replace("interval: 30s", "interval: 1m"), Set.of());
        assertThatThrownBy(() -> catalog.importCatalog(changed, false)).isInstanceOfSatisfying(DefinitionException.class,
                e -> assertThat(e.describe()).isEqualTo("monitors[0] (legacy).target: \"127.0.0.1:+80\": \"+80\" is not a port number"));
    }

    /**
     * A dns monitor stored before expect values were checked against the record type (text for an
     * A record) still loads and comes back unchanged through an export and import; changed, it
     * meets the rule.
     */
    @Test
    void aStoredDnsMonitorExpectingWhatItsRecordTypeCannotHoldStillLoads() {
        catalog.putMonitor(Defs.monitor("name: names\ntype: dns\ntarget: shop.test\nexpect: [192.0.2.10]\ninterval: 30s"));
        store.jdbi().useHandle(h -> h.execute("UPDATE monitor_monitors SET definition = replace(definition, '192.0.2.10',"
                + " 'not an ip') WHERE name = 'names'"));
        assertThat(((CheckOptions.Dns) catalog.monitor("names").orElseThrow().options()).expectValues()).containsExactly("not an ip");
        assertThat(catalog.load().monitors()).extracting(m -> m.name()).contains("names");

        catalog.importCatalog(CatalogFile.read(CatalogFile.write(catalog.load()), Set.of()), false);
        assertThat(((CheckOptions.Dns) catalog.monitor("names").orElseThrow().options()).expectValues()).containsExactly("not an ip");

        Catalog changed = CatalogFile.read(CatalogFile.write(catalog.load()).replace("interval: 30s", "interval: 1m"), Set.of());
        assertThatThrownBy(() -> catalog.importCatalog(changed, false)).isInstanceOfSatisfying(DefinitionException.class,
                e -> assertThat(e.describe()).isEqualTo("monitors[0] (names).expect[0]: \"not an ip\" is not an IPv4 address,"
                        + " which an A record holds (e.g. 192.0.2.10)"));
    }

    @Test
    void everyWriteMovesTheRevision() {
        long before = catalog.revision();
        catalog.importCatalog(CatalogFile.read(FILE, Set.of()), false);
        long afterImport = catalog.revision();
        catalog.setPaused("shop", true);
        assertThat(afterImport).isGreaterThan(before);
        assertThat(catalog.revision()).isGreaterThan(afterImport);
        assertThat(catalog.monitor("shop").orElseThrow().paused()).isTrue();
    }

    @Test
    void conflictsAndReferencesAreRefusedByKind() {
        catalog.importCatalog(CatalogFile.read(FILE, Set.of()), false);
        assertThatThrownBy(() -> catalog.createMonitor(Defs.monitor("name: shop\ntype: tcp\ntarget: 127.0.0.1:1\n")))
                .isInstanceOfSatisfying(DefinitionException.class, e -> assertThat(e.kind()).isEqualTo(DefinitionException.Kind.CONFLICT));
        assertThatThrownBy(() -> catalog.putMonitor(Defs.monitor("name: db\ntype: tcp\ntarget: 127.0.0.1:5432\nchannels: [pager]\n")))
                .isInstanceOfSatisfying(DefinitionException.class, e -> {
                    assertThat(e.kind()).isEqualTo(DefinitionException.Kind.UNKNOWN_REFERENCE);
                    assertThat(e.describe()).isEqualTo("channels: no channel pager; channels are [oncall, ops-hook]");
                });
        assertThatThrownBy(() -> catalog.removeChannel("ops-hook"))
                .isInstanceOfSatisfying(DefinitionException.class, e -> {
                    assertThat(e.kind()).isEqualTo(DefinitionException.Kind.CONFLICT);
                    assertThat(e.getMessage()).isEqualTo("channel ops-hook is used by monitors shop, shop-dns; take it out of them first");
                });
        assertThatThrownBy(() -> catalog.removeMonitor("nothing"))
                .isInstanceOfSatisfying(DefinitionException.class, e -> assertThat(e.kind()).isEqualTo(DefinitionException.Kind.NOT_FOUND));
        // an import that fails half-way changes nothing
        long revision = catalog.revision();
        assertThatThrownBy(() -> catalog.importCatalog(new Catalog(List.of(), List.of(
                Defs.monitor("name: fresh\ntype: tcp\ntarget: 127.0.0.1:1\n"),
                Defs.monitor("name: broken\ntype: tcp\ntarget: 127.0.0.1:1\nchannels: [pager]\n")), List.of()), false))
                .isInstanceOfSatisfying(DefinitionException.class, e -> assertThat(e.describe())
                        .isEqualTo("monitors[1] (broken).channels: no channel pager; channels are [oncall, ops-hook]"));
        assertThat(catalog.monitor("fresh")).isEmpty();
        assertThat(catalog.revision()).isEqualTo(revision);
    }

    @Test
    void aMaskedSecretKeepsTheStoredOne() {
        catalog.importCatalog(CatalogFile.read(FILE, Set.of()), false);
        catalog.putChannel(Defs.channel("name: oncall\ntype: telegram\nbotToken: '***'\nchatId: '-100999'\n"));
        ChannelDefinition.ChannelSettings.Telegram t = (ChannelDefinition.ChannelSettings.Telegram) catalog.channel("oncall")
                .orElseThrow().settings();
        assertThat(t.botToken()).isEqualTo("123456:ABCdef");
        assertThat(t.chatId()).isEqualTo("-100999");
        assertThatThrownBy(() -> catalog.putChannel(Defs.channel("name: new\ntype: telegram\nbotToken: '***'\nchatId: '1'\n")))
                .isInstanceOfSatisfying(DefinitionException.class, e -> assertThat(e.field()).isEqualTo("botToken"));
    }

    @Test
    void whatTheApiShowsMaskedGoesBackAsStored() {
        catalog.putChannel(Defs.channel("name: slack\ntype: webhook\nurl: https://hooks.example.org/services/T00/B00/XXXX\n"
                + "headers: {Authorization: 'Bearer hook-token', X-Team: ops}\n"));
        catalog.putMonitor(Defs.monitor("name: web\ntype: http\ntarget: https://ops:pa55@shop.example.org/health\n"
                + "headers: {X-Api-Key: 'abc'}\n"));
        // a PUT of exactly what GET showed
        Map<String, Object> shownChannel = io.switchboard.monitor.definition.DefinitionWriter.channel(
                catalog.channel("slack").orElseThrow(), io.switchboard.monitor.definition.DefinitionWriter.Secrets.MASK);
        assertThat(shownChannel).containsEntry("url", "https://hooks.example.org/***");
        assertThat(shownChannel.get("headers")).isEqualTo(Map.of("Authorization", "***", "X-Team", "ops"));
        Map<String, Object> shownMonitor = io.switchboard.monitor.definition.DefinitionWriter.monitor(
                catalog.monitor("web").orElseThrow(), io.switchboard.monitor.definition.DefinitionWriter.Secrets.MASK);
        assertThat(shownMonitor).containsEntry("target", "https://ops:***@shop.example.org/health");
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        catalog.putChannel(io.switchboard.monitor.definition.DefinitionReader.channel(json.valueToTree(shownChannel)));
        catalog.putMonitor(io.switchboard.monitor.definition.DefinitionReader.monitor(json.valueToTree(shownMonitor)));

        ChannelDefinition.ChannelSettings.Webhook hook = (ChannelDefinition.ChannelSettings.Webhook) catalog.channel("slack")
                .orElseThrow().settings();
        assertThat(hook.url()).isEqualTo("https://hooks.example.org/services/T00/B00/XXXX");
        assertThat(hook.headers()).containsEntry("Authorization", "Bearer hook-token").containsEntry("X-Team", "ops");
        var web = catalog.monitor("web").orElseThrow();
        assertThat(web.target()).isEqualTo("https://ops:pa55@shop.example.org/health");
        assertThat(((io.switchboard.monitor.definition.CheckOptions.Http) web.options()).headers())
                .containsEntry("X-Api-Key", "abc");
        // a mask with nothing (or something else) behind it is refused, naming the field
        assertThatThrownBy(() -> catalog.putChannel(Defs.channel("name: other\ntype: webhook\nurl: https://x.example.org/\n"
                + "headers: {Authorization: '***'}\n")))
                .isInstanceOfSatisfying(DefinitionException.class, e -> assertThat(e.field()).isEqualTo("headers.Authorization"));
        assertThatThrownBy(() -> catalog.putChannel(Defs.channel("name: slack\ntype: webhook\nurl: https://elsewhere.example.org/***\n")))
                .isInstanceOfSatisfying(DefinitionException.class, e -> assertThat(e.field()).isEqualTo("url"));
        assertThatThrownBy(() -> catalog.putMonitor(Defs.monitor("name: web\ntype: http\ntarget: https://ops:***@other.example.org/\n")))
                .isInstanceOfSatisfying(DefinitionException.class, e -> assertThat(e.field()).isEqualTo("target"));
    }

    @Test
    void changesSinceReadsOnlyWhatWasWritten() {
        catalog.importCatalog(CatalogFile.read(FILE, Set.of()), false);
        MonitorCatalog.Changes all = catalog.changesSince(-1, 0, 0);
        assertThat(all.changed()).hasSize(3);
        assertThat(all.channels()).hasSize(2);
        long revision = all.revision();
        catalog.setPaused("panel", true);
        MonitorCatalog.Changes one = catalog.changesSince(revision, 2, 1);
        assertThat(one.changed()).containsOnlyKeys("panel");
        assertThat(one.changed().get("panel").paused()).isTrue();
        assertThat(one.names()).containsExactly("panel", "shop", "shop-dns");
        assertThat(one.channels()).isNull();
        assertThat(one.windows()).isNull();
        catalog.removeMonitor("panel");
        MonitorCatalog.Changes removed = catalog.changesSince(one.revision(), 2, 1);
        assertThat(removed.changed()).isEmpty();
        assertThat(removed.names()).containsExactly("shop", "shop-dns");
        catalog.removeWindow("nightly");
        assertThat(catalog.changesSince(removed.revision(), 2, 1).windows()).isEmpty();
    }

    /**
     * A removed monitor's results go however many there are, a batch at a time (more than a batch
     * sharing one time among them), with its aggregates; other monitors keep theirs.
     */
    @Test
    void aRemovedMonitorsResultsGoInBatchesAndOthersKeepTheirs() {
        catalog.importCatalog(CatalogFile.read(FILE, Set.of()), false);
        long start = NOW.toEpochMilli() - java.time.Duration.ofDays(1).toMillis();
        int many = 5000 * 2 + 17; // over two of MonitorCatalog.DROP_BATCH
        store.jdbi().useHandle(h -> {
            var batch = h.prepareBatch("INSERT INTO monitor_results (monitor, started_at, status, latency_ms, latency_bucket,"
                    + " lateness_ms) VALUES (:m, :t, 'down', 1, 0, 0)");
            for (int i = 0; i < many; i++) {
                // the first 6,000 at one time: a batch's bound cannot split them
                batch.bind("m", "panel").bind("t", i < 6000 ? start : start + i).add();
            }
            batch.bind("m", "shop").bind("t", start).add();
            batch.execute();
            for (String monitor : List.of("panel", "shop")) {
                h.execute("INSERT INTO monitor_hourly (monitor, period_start, checks, up, degraded, down, latency_sum, histogram)"
                        + " VALUES (?, ?, 1, 0, 0, 1, 1, '')", monitor, start);
            }
        });
        catalog.removeMonitor("panel");
        store.jdbi().useHandle(h -> {
            assertThat(h.createQuery("SELECT COUNT(*) FROM monitor_results WHERE monitor = 'panel'").mapTo(Long.class).one()).isZero();
            assertThat(h.createQuery("SELECT COUNT(*) FROM monitor_hourly WHERE monitor = 'panel'").mapTo(Long.class).one()).isZero();
            assertThat(h.createQuery("SELECT COUNT(*) FROM monitor_results WHERE monitor = 'shop'").mapTo(Long.class).one()).isOne();
            assertThat(h.createQuery("SELECT COUNT(*) FROM monitor_hourly WHERE monitor = 'shop'").mapTo(Long.class).one()).isOne();
        });
    }

    /**
     * Pausing and resuming a monitor writes "paused" and "resumed" on its open incident's timeline in
     * the transaction that changes the flag (pause, resume, an import), stamped at the change: no
     * node has to run, and "resumed" is not left to the first check after it. The recovery counts
     * the pairs, an open pause up to its end.
     */
    @Test
    void aPauseIsOnTheOpenIncidentsTimelineWhenTheFlagChanges() {
        MutableClock clock = MutableClock.fixedAt(NOW);
        MonitorCatalog catalog = new MonitorCatalog(store.jdbi(), clock);
        catalog.putMonitor(Defs.monitor("name: shop\ntype: tcp\ntarget: 127.0.0.1:80\n"));
        catalog.putMonitor(Defs.monitor("name: db\ntype: tcp\ntarget: 127.0.0.1:5432\n"));
        IncidentStore incidents = new IncidentStore(store.jdbi());
        Incident earlier = incidents.open("shop", NOW.minusSeconds(600), NOW.minusSeconds(600), 2, "refused", "refused", null,
                List.of());
        incidents.resolve(earlier.id(), NOW.minusSeconds(300), 2, null, new IncidentEvent(NOW.minusSeconds(300), "resolved", "up"));
        Incident open = incidents.open("shop", NOW, NOW, 2, "refused", "refused", null,
                List.of(new IncidentEvent(NOW, "opened", "shop is DOWN")));

        clock.advance(Duration.ofMinutes(1));
        catalog.setPaused("shop", true);
        catalog.setPaused("shop", true); // no change: nothing more on the timeline
        catalog.setPaused("db", true); // no open incident: nothing anywhere
        clock.advance(Duration.ofHours(2));
        catalog.setPaused("shop", false);
        List<IncidentEvent> timeline = incidents.events(open.id());
        assertThat(timeline).extracting(IncidentEvent::kind).containsExactly("opened", "paused", "resumed");
        assertThat(timeline.get(1).at()).isEqualTo(NOW.plus(Duration.ofMinutes(1)));
        assertThat(timeline.get(2).at()).isEqualTo(NOW.plus(Duration.ofMinutes(121)));
        assertThat(timeline.get(2).detail()).isEqualTo("checks resumed after a pause of 2 h");
        assertThat(incidents.events(earlier.id())).extracting(IncidentEvent::kind).containsExactly("resolved");

        // an import that pauses it is a pause too, still open when the incident resolves
        clock.advance(Duration.ofMinutes(29));
        catalog.importCatalog(CatalogFile.read("""
                monitors:
                  - name: shop
                    type: tcp
                    target: 127.0.0.1:80
                    paused: true
                """, Set.of()), false);
        timeline = incidents.events(open.id());
        assertThat(timeline).extracting(IncidentEvent::kind).containsExactly("opened", "paused", "resumed", "paused");
        assertThat(timeline.get(3).at()).isEqualTo(NOW.plus(Duration.ofMinutes(150)));
        Instant end = NOW.plus(Duration.ofMinutes(180));
        assertThat(IncidentStore.pausedFor(timeline, NOW, end)).isEqualTo(Duration.ofMinutes(150));
        // never more than the time down
        assertThat(IncidentStore.pausedFor(timeline, NOW.plus(Duration.ofMinutes(100)), end)).isEqualTo(Duration.ofMinutes(80));
    }

    /**
     * No incident is opened for a paused monitor: a failing check's result can come in while this
     * node's view of the catalog still has the monitor active, and an incident opened then would be
     * told about (a DOWN) and lack the "paused" entry its recovery reads. A pause in progress
     * (its transaction has written the flag and not committed yet) is waited for, then seen.
     */
    @Test
    void noIncidentIsOpenedForAMonitorPausedWhileItsCheckRan() throws Exception {
        catalog.putMonitor(Defs.monitor("name: shop\ntype: tcp\ntarget: 127.0.0.1:80\n"));
        IncidentStore incidents = new IncidentStore(store.jdbi());
        catalog.setPaused("shop", true);
        assertThatThrownBy(() -> incidents.open("shop", NOW, NOW, 2, "refused", "refused", null, List.of()))
                .isInstanceOf(IncidentStore.MonitorPaused.class).hasMessage("shop was paused while its check ran");
        assertThat(incidents.list(null, "shop", null, 10)).isEmpty();
        String pausedDefinition = store.jdbi().withHandle(h -> h.createQuery("SELECT definition FROM monitor_monitors WHERE name = 'shop'")
                .mapTo(String.class).one());
        catalog.setPaused("shop", false);
        if (!store.settings().isPostgresql()) {
            return; // SQLite's one connection runs one transaction at a time: nothing to interleave
        }

        try (org.jdbi.v3.core.Handle pausing = store.jdbi().open()) {
            pausing.begin();
            pausing.createUpdate("UPDATE monitor_monitors SET definition = :d WHERE name = 'shop'").bind("d", pausedDefinition).execute();
            java.util.concurrent.CompletableFuture<Incident> opening = java.util.concurrent.CompletableFuture.supplyAsync(
                    () -> incidents.open("shop", NOW, NOW, 2, "refused", "refused", null, List.of()));
            Thread.sleep(300);
            assertThat(opening).as("waits for the pause's transaction").isNotDone();
            pausing.commit();
            assertThatThrownBy(() -> opening.get(10, java.util.concurrent.TimeUnit.SECONDS))
                    .hasCauseInstanceOf(IncidentStore.MonitorPaused.class);
        }
        // a catalog write that holds the row for long (a big import) is waited for 2 s at most
        try (org.jdbi.v3.core.Handle importing = store.jdbi().open()) {
            importing.begin();
            importing.createUpdate("UPDATE monitor_monitors SET definition = definition WHERE name = 'shop'").execute();
            long start = System.nanoTime();
            assertThatThrownBy(() -> incidents.open("shop", NOW, NOW, 2, "refused", "refused", null, List.of()))
                    .hasStackTraceContaining("lock timeout");
            assertThat((System.nanoTime() - start) / 1_000_000).isBetween(1_900L, 9_000L);
            importing.rollback();
        }
        assertThat(incidents.list(null, "shop", null, 10)).isEmpty();
    }

    @Test
    void anIncidentOfAMonitorNotInTheCatalogIsStillOpened() {
        // a monitor not in the catalog (removed meanwhile) is the tracker's to handle, as before
        IncidentStore incidents = new IncidentStore(store.jdbi());
        assertThat(incidents.open("gone", NOW, NOW, 2, "refused", "refused", null, List.of()).monitor()).isEqualTo("gone");
    }

    @Test
    void timelineNumbersStayDistinctUnderConcurrentAppends() throws Exception {
        IncidentStore incidents = new IncidentStore(store.jdbi());
        Incident incident = incidents.open("shop", NOW, NOW, 2, "refused", "refused", null,
                List.of(new IncidentEvent(NOW, "opened", "shop is DOWN")));
        int threads = 8;
        int each = 25;
        java.util.concurrent.CountDownLatch start = new java.util.concurrent.CountDownLatch(1);
        List<Thread> workers = new java.util.ArrayList<>();
        List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            workers.add(Thread.ofPlatform().start(() -> {
                try {
                    start.await();
                    for (int i = 0; i < each; i++) {
                        incidents.event(incident.id(), new IncidentEvent(NOW, "notified", "worker " + id + " event " + i));
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }));
        }
        start.countDown();
        for (Thread worker : workers) {
            worker.join(Duration.ofSeconds(60));
        }
        assertThat(failures).isEmpty();
        assertThat(incidents.events(incident.id())).hasSize(1 + threads * each);
        List<Integer> seqs = store.jdbi().withHandle(h -> h.createQuery(
                "SELECT seq FROM monitor_incident_events WHERE incident_id = :id ORDER BY seq").bind("id", incident.id())
                .mapTo(Integer.class).list());
        assertThat(seqs).doesNotHaveDuplicates().hasSize(1 + threads * each).startsWith(1).endsWith(1 + threads * each);
    }

    @Test
    void longModelNamesAndNulCharactersAreStored() {
        IncidentStore incidents = new IncidentStore(store.jdbi());
        Incident incident = incidents.open("shop", NOW, NOW, 2, "first\0error", "last\0error", null,
                List.of(new IncidentEvent(NOW, "first_failure", "first failed check: first\0error")));
        String model = "llm:accounts/example-provider/models/" + "a-very-long-fine-tuned-model-name-".repeat(4) + "v2";
        incidents.setReport(incident.id(), "shop is\0 DOWN.", model);
        incidents.setRecoveryReport(incident.id(), "shop is UP\0 again.", "template");
        incidents.resolve(incident.id(), NOW.plusSeconds(5), 3, "gone\0away", new IncidentEvent(NOW.plusSeconds(5), "resolved", "up"));
        Incident stored = incidents.find(incident.id()).orElseThrow();
        assertThat(stored.reportSource()).isEqualTo(model);
        assertThat(stored.report()).isEqualTo("shop is DOWN.");
        assertThat(stored.recoveryReport()).isEqualTo("shop is UP again.");
        assertThat(stored.recoveryReportSource()).isEqualTo("template");
        assertThat(stored.firstError()).isEqualTo("firsterror");
        assertThat(stored.lastError()).isEqualTo("goneaway");
        assertThat(incidents.events(incident.id()).getFirst().detail()).isEqualTo("first failed check: firsterror");
        DeliveryLog deliveries = new DeliveryLog(store.jdbi());
        deliveries.record(new DeliveryLog.Attempt(NOW, incident.id(), "shop", "hook", "webhook", "down", 1, "failed", "bad\0byte", 3));
        assertThat(deliveries.list(incident.id(), null, null, null, 1).getFirst().error()).isEqualTo("badbyte");
    }

    @Test
    void pruneRemovesWhatTheFileDoesNotName() {
        catalog.importCatalog(CatalogFile.read(FILE, Set.of()), false);
        MonitorCatalog.ImportSummary summary = catalog.importCatalog(CatalogFile.read("""
                channels:
                  - name: ops-hook
                    type: webhook
                    url: http://127.0.0.1:9000/hook
                monitors:
                  - name: shop
                    type: http
                    target: http://127.0.0.1:8000/health
                    channels: [ops-hook]
                """, Set.of()), true);
        assertThat(summary.removed()).containsExactlyInAnyOrder("monitor shop-dns", "monitor panel", "maintenance window nightly",
                "channel oncall");
        assertThat(catalog.load().monitors()).extracting(m -> m.name()).containsExactly("shop");
    }

    @Test
    void resultsGiveUptimeAndPercentilesAndFoldIntoHoursAndDays() throws Exception {
        MutableClock clock = MutableClock.fixedAt(NOW);
        MonitorMetrics metrics = new MonitorMetrics(new SimpleMeterRegistry());
        ResultWriter writer = new ResultWriter(store.jdbi(), metrics, 10_000);
        writer.start();
        // three days of a check every 10 minutes: latency 10..99 ms, every 20th check down
        Instant first = NOW.minus(Duration.ofDays(3));
        int n = 0;
        for (Instant at = first; at.isBefore(NOW); at = at.plus(Duration.ofMinutes(10)), n++) {
            boolean down = n % 20 == 0;
            writer.submit(new ResultWriter.ResultRow("shop", new CheckResult(down ? CheckStatus.DOWN : CheckStatus.UP, at,
                    10 + n % 90, down ? "nothing accepted the connection" : null, List.of(), Map.of("status", 200)), n % 3));
        }
        writer.submit(new ResultWriter.StateRow(new StateSnapshot("shop", MonitorStatus.UP, 0, 5, NOW.toEpochMilli(),
                NOW.toEpochMilli(), null, 12L, null, NOW.toEpochMilli())));
        writer.flush(Duration.ofSeconds(10));
        writer.close();
        int total = n;
        long downs = (total + 19) / 20;

        ResultStore results = new ResultStore(store.jdbi(), clock);
        ResultStore.WindowSummary before = results.summary("shop", Duration.ofDays(30));
        assertThat(before.checks()).isEqualTo(total);
        assertThat(before.down()).isEqualTo(downs);
        assertThat(before.uptimePercent()).isEqualTo(Math.round((total - downs) * 100_000.0 / total) / 1000.0);
        assertThat(before.p50Millis()).isBetween(50.0, 60.0);
        assertThat(before.p95Millis()).isBetween(88.0, 100.0);
        assertThat(results.recent("shop", 2, null)).hasSize(2).first().satisfies(r -> {
            assertThat(r.details()).containsEntry("status", 200);
            assertThat(r.startedAt()).isBefore(NOW);
        });
        // a result written without its details keeps everything else
        ResultWriter quiet = new ResultWriter(store.jdbi(), metrics, 1000);
        quiet.start();
        quiet.submit(new ResultWriter.ResultRow("quiet", new CheckResult(CheckStatus.UP, NOW.minusSeconds(1), 7, null, List.of(),
                Map.of("status", 200)), 0, false));
        quiet.flush(Duration.ofSeconds(10));
        quiet.close();
        assertThat(results.recent("quiet", 1, null)).singleElement().satisfies(r -> {
            assertThat(r.details()).isEmpty();
            assertThat(r.latencyMillis()).isEqualTo(7);
        });
        assertThat(results.states()).containsKey("shop");

        // before any folding, periods are summed from the raw results: the newest is the one so far
        Instant dayBefore = first.minus(Duration.ofDays(1));
        List<ResultStore.Period> daysUnfolded = results.periods("shop", "day", dayBefore, NOW);
        assertThat(daysUnfolded).extracting(d -> d.start().toString()).containsExactly("2025-06-07T00:00:00Z",
                "2025-06-08T00:00:00Z", "2025-06-09T00:00:00Z", "2025-06-10T00:00:00Z");
        assertThat(daysUnfolded).extracting(ResultStore.Period::checks).containsExactly(69L, 144L, 144L, 75L);
        List<ResultStore.Period> hoursUnfolded = results.periods("shop", "hour", NOW.minus(Duration.ofHours(3)), NOW);
        assertThat(hoursUnfolded).extracting(d -> d.start().toString()).as("an hour begun before 'from' is left out")
                .containsExactly("2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z", "2025-06-10T12:00:00Z");
        assertThat(hoursUnfolded).extracting(ResultStore.Period::checks).containsExactly(6L, 6L, 3L);
        // a 'to' inside an hour counts that hour whole, as a folded hour would be
        assertThat(results.periods("shop", "hour", NOW.minus(Duration.ofHours(3)), NOW.minus(Duration.ofMinutes(45))))
                .extracting(ResultStore.Period::checks).containsExactly(6L, 6L);

        HistoryFolder folder = new HistoryFolder(store.jdbi(), clock, Duration.ofDays(2), Duration.ofDays(31), Duration.ofDays(365));
        HistoryFolder.Run run = folder.runOnce();
        assertThat(run.hoursFolded()).isEqualTo(72);   // bounded per run
        // folded days, a day of folded hours and the raw current hour: the same periods as before
        assertThat(results.periods("shop", "day", dayBefore, NOW)).isEqualTo(daysUnfolded);
        assertThat(results.periods("shop", "hour", NOW.minus(Duration.ofHours(3)), NOW)).isEqualTo(hoursUnfolded);
        folder.runOnce();
        // raw results older than two days are gone, but the windows count the same from the aggregates
        assertThat(results.recent("shop", 1000, null)).allSatisfy(r -> assertThat(r.startedAt())
                .isAfterOrEqualTo(NOW.minus(Duration.ofDays(2)).minus(Duration.ofHours(1))));
        ResultStore.WindowSummary after = results.summary("shop", Duration.ofDays(30));
        assertThat(after.checks()).isEqualTo(before.checks());
        assertThat(after.down()).isEqualTo(before.down());
        assertThat(after.p50Millis()).isEqualTo(before.p50Millis());
        assertThat(results.summary("shop", Duration.ofHours(24)).checks()).isBetween(144L, 150L);
        List<ResultStore.Period> days = results.periods("shop", "day", first.minus(Duration.ofDays(1)), NOW);
        assertThat(days).extracting(ResultStore.Period::start).contains(Instant.parse("2025-06-08T00:00:00Z"),
                Instant.parse("2025-06-09T00:00:00Z"));
        assertThat(days).filteredOn(d -> d.start().equals(Instant.parse("2025-06-08T00:00:00Z"))).singleElement()
                .satisfies(d -> assertThat(d.checks()).isEqualTo(144));

        // far later: hours past their retention are gone, days stay
        clock.set(NOW.plus(Duration.ofDays(40)));
        folder.runOnce();
        assertThat(results.periods("shop", "hour", first, NOW)).isEmpty();
        assertThat(results.periods("shop", "day", first.minus(Duration.ofDays(1)), NOW)).isNotEmpty();
    }

    /**
     * During a rolling upgrade an older node ends a claim 'sent' without writing told_at: the
     * incident counts as told from the claim itself until pruning copies it over.
     */
    @Test
    void whoWasToldIsReadFromTheIncidentOrFromASentClaimAnOlderNodeLeft() {
        IncidentStore incidents = new IncidentStore(store.jdbi());
        List<Incident> opened = new java.util.ArrayList<>();
        for (String monitor : List.of("marked", "old-node", "failed", "recovery-only", "nothing")) {
            opened.add(incidents.open(monitor, NOW, NOW, 2, "refused", "refused", null, List.of()));
        }
        long marked = opened.get(0).id();
        store.jdbi().useHandle(h -> {
            h.execute("UPDATE monitor_incidents SET told_at = ? WHERE id = ?", NOW.toEpochMilli(), marked);
            String claim = "INSERT INTO monitor_notification_claims (incident_id, channel, event, seq, node_id, fence, claimed_at,"
                    + " sent_at, outcome) VALUES (?, 'hook', ?, 0, 'node-old', 1, ?, ?, ?)";
            h.execute(claim, opened.get(1).id(), "down", NOW.toEpochMilli(), NOW.toEpochMilli(), "sent");
            h.execute(claim, opened.get(2).id(), "down", NOW.toEpochMilli(), NOW.toEpochMilli(), "failed");
            h.execute(claim, opened.get(3).id(), "recovered", NOW.toEpochMilli(), NOW.toEpochMilli(), "sent");
        });

        assertThat(incidents.told(opened)).containsExactlyInAnyOrder(marked, opened.get(1).id());
        assertThat(incidents.told(List.of())).isEmpty();
    }

    @Test
    void incidentsKeepATimelineAndDeliveriesEveryAttempt() {
        IncidentStore incidents = new IncidentStore(store.jdbi());
        Incident opened = incidents.open("shop", NOW.minusSeconds(2), NOW, 2, "refused", "refused", NOW.minusSeconds(3),
                List.of(new IncidentEvent(NOW.minusSeconds(2), "first_failure", "first failed check: refused"),
                        new IncidentEvent(NOW, "opened", "shop is DOWN after 2 failed checks in a row")));
        Incident second = incidents.open("db", NOW, NOW, 1, "timeout", "timeout", null, List.of());
        assertThat(second.id()).isEqualTo(opened.id() + 1);
        incidents.setReport(opened.id(), "shop is DOWN.", "template");
        incidents.markNotified(opened.id(), NOW.plusSeconds(1));
        incidents.event(opened.id(), new IncidentEvent(NOW.plusSeconds(1), "notified", "down message sent to ops-hook (webhook)"));
        incidents.resolve(opened.id(), NOW.plusSeconds(60), 30, null, new IncidentEvent(NOW.plusSeconds(60), "resolved", "up again"));

        Incident resolved = incidents.find(opened.id()).orElseThrow();
        assertThat(resolved.status()).isEqualTo("resolved");
        assertThat(resolved.failedChecks()).isEqualTo(30);
        assertThat(resolved.downNotified()).isTrue();
        assertThat(resolved.report()).isEqualTo("shop is DOWN.");
        assertThat(incidents.events(opened.id())).extracting(IncidentEvent::kind)
                .containsExactly("first_failure", "opened", "notified", "resolved");
        assertThat(incidents.open()).extracting(Incident::monitor).containsExactly("db");
        assertThat(incidents.list(null, null, null, 10)).extracting(Incident::id).containsExactly(second.id(), opened.id());
        assertThat(incidents.list("resolved", "shop", null, 10)).hasSize(1);

        DeliveryLog deliveries = new DeliveryLog(store.jdbi());
        deliveries.record(new DeliveryLog.Attempt(NOW, opened.id(), "shop", "ops-hook", "webhook", "down", 1, "failed",
                "answered HTTP 500", 12));
        deliveries.record(new DeliveryLog.Attempt(NOW.plusSeconds(2), opened.id(), "shop", "ops-hook", "webhook", "down", 2, "sent",
                null, 8));
        assertThat(deliveries.list(opened.id(), null, null, null, 10)).extracting(DeliveryLog.Attempt::outcome)
                .containsExactly("sent", "failed");
    }
}
