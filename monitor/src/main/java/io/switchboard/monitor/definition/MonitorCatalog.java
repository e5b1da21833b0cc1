package io.switchboard.monitor.definition;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.monitor.definition.ChannelDefinition.ChannelSettings;
import io.switchboard.monitor.incident.IncidentStore;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Monitors, channels and maintenance windows in the node's store, shared by the running node, the
 * API and the CLI. Every change bumps {@code monitor_revision} in its transaction; the running
 * node polls that value and reloads (see {@code CatalogWatcher}). Each write takes the revision
 * row first, so on PostgreSQL writes run one after another and a check made inside one (does the
 * channel exist? is it still used?) still holds at commit.
 */
public final class MonitorCatalog {
    private static final Logger log = LoggerFactory.getLogger(MonitorCatalog.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Jdbi jdbi;
    private final Clock clock;

    /** A definition after a write, and whether the write created it. */
    public record Saved<T>(T value, boolean created) {
    }

    /** What an import did, by kind of entry, and what it removed (with prune). */
    public record ImportSummary(Counts channels, Counts monitors, Counts maintenance, List<String> removed) {
        /** Every kind's counts together. */
        public Counts all() {
            return new Counts(channels.added + monitors.added + maintenance.added,
                    channels.changed + monitors.changed + maintenance.changed,
                    channels.unchanged + monitors.unchanged + maintenance.unchanged);
        }
    }

    /**
     * Entries of one kind an import named: created, replaced by a different definition, or the same
     * as stored (defaults filled in and masked secrets resolved on both sides before comparing, so
     * an export imported again is all unchanged).
     */
    public record Counts(int added, int changed, int unchanged) {
        public int total() {
            return added + changed + unchanged;
        }

        Counts plus(Optional<?> stored, Object imported) {
            if (stored.isEmpty()) {
                return new Counts(added + 1, changed, unchanged);
            }
            return stored.get().equals(imported) ? new Counts(added, changed, unchanged + 1) : new Counts(added, changed + 1, unchanged);
        }
    }

    public MonitorCatalog(Jdbi jdbi, Clock clock) {
        this.jdbi = jdbi;
        this.clock = clock;
    }

    public long revision() {
        return jdbi.withHandle(MonitorCatalog::revision);
    }

    /**
     * What changed since a revision, read in one transaction: every monitor row written after it
     * (each row carries the revision of its last write), the names of all monitors (so removals
     * show), and channels and windows in full, but only when one of them changed. Reading 10,000
     * monitors after one write parses one definition, not 10,000.
     *
     * @param since        the revision the caller has; negative for everything
     * @param channelCount how many channels the caller has (a removal leaves no newer row behind)
     * @param windowCount  how many maintenance windows the caller has
     */
    public Changes changesSince(long since, int channelCount, int windowCount) {
        return jdbi.inTransaction(h -> {
            long revision = revision(h);
            Map<String, MonitorDefinition> changed = new java.util.LinkedHashMap<>();
            Set<String> changedNames = new HashSet<>();
            h.createQuery("SELECT name, definition FROM monitor_monitors WHERE revision > :since ORDER BY name")
                    .bind("since", since)
                    .map((rs, ctx) -> Map.entry(rs.getString(1), rs.getString(2)))
                    .forEach(row -> {
                        changedNames.add(row.getKey());
                        try {
                            changed.put(row.getKey(), DefinitionReader.monitor(tree(row.getValue())));
                        } catch (DefinitionException e) {
                            log.warn("stored monitor {} is no longer valid and is ignored: {}", row.getKey(), e.describe());
                        }
                    });
            List<String> names = h.createQuery("SELECT name FROM monitor_monitors ORDER BY name").mapTo(String.class).list();
            List<ChannelDefinition> channels = changedTable(h, "monitor_channels", since, channelCount) ? channels(h) : null;
            List<MaintenanceWindow> windows = changedTable(h, "monitor_maintenance", since, windowCount) ? windows(h) : null;
            return new Changes(revision, changed, changedNames, names, channels, windows);
        });
    }

    private static boolean changedTable(Handle h, String table, long since, int knownCount) {
        return h.createQuery("SELECT COUNT(*) AS n, COALESCE(MAX(revision), 0) AS r FROM " + table)
                .map((rs, ctx) -> rs.getLong("n") != knownCount || rs.getLong("r") > since).one();
    }

    /**
     * See {@link #changesSince}.
     *
     * @param changed      the monitors written since, that validate
     * @param changedNames the monitors written since, valid or not (an invalid one is dropped from the view)
     * @param names        every stored monitor, by name
     * @param channels     every channel, or null when none changed
     * @param windows      every maintenance window, or null when none changed
     */
    public record Changes(long revision, Map<String, MonitorDefinition> changed, Set<String> changedNames, List<String> names,
                          List<ChannelDefinition> channels, List<MaintenanceWindow> windows) {
    }

    /** Everything, read in one transaction, each list by name. Rows that no longer validate are skipped with a warning. */
    public Catalog load() {
        return jdbi.inTransaction(h -> new Catalog(channels(h), monitors(h), windows(h)));
    }

    // ---- monitors -------------------------------------------------------------------------------

    public List<MonitorDefinition> monitors() {
        return jdbi.withHandle(MonitorCatalog::monitors);
    }

    public Optional<MonitorDefinition> monitor(String name) {
        return jdbi.withHandle(h -> findMonitor(h, name));
    }

    /** Creates the monitor, or replaces the one of that name. */
    public Saved<MonitorDefinition> putMonitor(MonitorDefinition monitor) {
        DefinitionReader.requireInputRules(monitor);
        long asked = clock.millis();
        Saved<MonitorDefinition> saved = jdbi.inTransaction(h -> {
            bumpRevision(h);
            boolean created = writeMonitor(h, monitor);
            return new Saved<>(findMonitor(h, monitor.name()).orElseThrow(), created);
        });
        if (saved.created()) {
            dropChecks(monitor.name(), asked);
        }
        return saved;
    }

    /** Creates the monitor; a monitor of that name already there is a conflict. */
    public MonitorDefinition createMonitor(MonitorDefinition monitor) {
        DefinitionReader.requireInputRules(monitor);
        long asked = clock.millis();
        MonitorDefinition created = jdbi.inTransaction(h -> {
            bumpRevision(h);
            if (findMonitor(h, monitor.name()).isPresent()) {
                throw new DefinitionException(DefinitionException.Kind.CONFLICT, "name", "monitor " + monitor.name()
                        + " exists; PUT /api/v1/monitors/" + monitor.name() + " replaces it");
            }
            writeMonitor(h, monitor);
            return monitor;
        });
        dropChecks(monitor.name(), asked);
        return created;
    }

    /**
     * Removes a monitor no maintenance window names (a window left naming it could not be saved
     * or imported again, and one naming only it must not come to cover every monitor), with its
     * running state and check history ({@link #forgetRunningState}, {@link #dropChecks}).
     */
    public void removeMonitor(String name) {
        long asked = clock.millis();
        jdbi.useTransaction(h -> {
            bumpRevision(h);
            if (findMonitor(h, name).isEmpty()) {
                throw notFound("monitor", name);
            }
            List<String> windows = windows(h).stream().filter(w -> w.monitors().contains(name)).map(MaintenanceWindow::name).toList();
            if (!windows.isEmpty()) {
                throw new DefinitionException(DefinitionException.Kind.CONFLICT, "name", "monitor " + name
                        + " is named in maintenance window" + (windows.size() == 1 ? " " : "s ") + String.join(", ", windows)
                        + "; take it out of " + (windows.size() == 1 ? "it" : "them") + " first");
            }
            h.createUpdate("DELETE FROM monitor_monitors WHERE name = :n").bind("n", name).execute();
            forgetRunningState(h, name);
        });
        dropChecks(name, asked);
    }

    /**
     * A monitor's running state and the warnings sent for it, in the transaction that removes or
     * creates it: a new monitor of a removed one's name must not start counting from its failures,
     * nor find its last warning still standing (its first warning would not be sent). Incidents and
     * deliveries stay, listed under the name, as docs/monitor.md says; a warning not sent yet is
     * left to the dispatcher that holds it.
     */
    private static void forgetRunningState(Handle h, String monitor) {
        h.createUpdate("DELETE FROM monitor_state WHERE monitor = :m").bind("m", monitor).execute();
        h.createUpdate("DELETE FROM monitor_warning_claims WHERE monitor = :m AND sent_at IS NOT NULL").bind("m", monitor).execute();
    }

    /**
     * Deletes a monitor's check results and aggregates from before {@code cutoff} (when it was
     * removed, or made under a removed one's name: nothing reads a removed monitor's results, and a
     * new one must not show another's uptime). Outside the catalog's transaction and
     * {@value #DROP_BATCH} results per statement, as the history job deletes: a long history must
     * not hold the catalog, or on SQLite the one connection the result writer also needs, for as
     * long as it takes. What a failure leaves is said and expires with the retention.
     */
    private void dropChecks(String monitor, long cutoff) {
        try {
            while (true) {
                Long bound = jdbi.withHandle(h -> h.createQuery("SELECT started_at FROM monitor_results WHERE monitor = :m"
                                + " AND started_at < :c ORDER BY started_at LIMIT 1 OFFSET :n")
                        .bind("m", monitor).bind("c", cutoff).bind("n", DROP_BATCH).mapTo(Long.class).findOne().orElse(null));
                long upTo = bound == null ? cutoff : bound;
                int removed = jdbi.withHandle(h -> h.createUpdate("DELETE FROM monitor_results WHERE monitor = :m AND started_at < :b")
                        .bind("m", monitor).bind("b", upTo).execute());
                if (removed == 0 && bound != null) {
                    // more than a batch share the oldest time: take that time whole
                    jdbi.useHandle(h -> h.createUpdate("DELETE FROM monitor_results WHERE monitor = :m AND started_at <= :b")
                            .bind("m", monitor).bind("b", upTo).execute());
                }
                if (bound == null) {
                    break;
                }
            }
            jdbi.useHandle(h -> {
                h.createUpdate("DELETE FROM monitor_hourly WHERE monitor = :m AND period_start < :c").bind("m", monitor)
                        .bind("c", cutoff).execute();
                h.createUpdate("DELETE FROM monitor_daily WHERE monitor = :m AND period_start < :c").bind("m", monitor)
                        .bind("c", cutoff).execute();
            });
        } catch (RuntimeException e) {
            log.warn("the check results of monitor {} from before {} were not all deleted ({}); they expire with the"
                    + " retention, and a monitor made under that name meanwhile counts them in its uptime", monitor,
                    java.time.Instant.ofEpochMilli(cutoff), e.toString());
        }
    }

    /** Results deleted per statement when a monitor's history goes. */
    static final int DROP_BATCH = 5000;

    /** When each paused monitor was paused, by name (a monitor paused before V9 was written down: when it was last written). */
    public Map<String, java.time.Instant> pausedAt() {
        return jdbi.withHandle(h -> h.createQuery("SELECT name, paused_at FROM monitor_monitors WHERE paused_at IS NOT NULL")
                .map((rs, ctx) -> Map.entry(rs.getString("name"), java.time.Instant.ofEpochMilli(rs.getLong("paused_at")))).list())
                .stream().collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue));
    }

    public MonitorDefinition setPaused(String name, boolean paused) {
        return jdbi.inTransaction(h -> {
            bumpRevision(h);
            MonitorDefinition current = findMonitor(h, name).orElseThrow(() -> notFound("monitor", name));
            MonitorDefinition changed = current.withPaused(paused);
            writeMonitor(h, changed);
            return changed;
        });
    }

    private boolean writeMonitor(Handle h, MonitorDefinition given) {
        Optional<MonitorDefinition> stored = findMonitor(h, given.name());
        MonitorDefinition monitor = unmask(given, stored);
        Set<String> channels = new HashSet<>(h.createQuery("SELECT name FROM monitor_channels").mapTo(String.class).list());
        for (String channel : monitor.channels()) {
            if (!channels.contains(channel)) {
                throw new DefinitionException(DefinitionException.Kind.UNKNOWN_REFERENCE, "channels",
                        "no channel " + channel + (channels.isEmpty() ? "; create it first" : "; channels are " + sorted(channels)));
            }
        }
        boolean inserted = upsert(h, "monitor_monitors", monitor.name(), monitor.type().wireName(),
                json(DefinitionWriter.monitor(monitor, DefinitionWriter.Secrets.REVEAL)));
        if (inserted) {
            forgetRunningState(h, monitor.name()); // its results and aggregates go after the commit (dropChecks)
        }
        if (monitor.paused() != stored.map(MonitorDefinition::paused).orElse(false)) {
            h.createUpdate("UPDATE monitor_monitors SET paused_at = :at WHERE name = :n").bind("n", monitor.name())
                    .bind("at", monitor.paused() ? (Long) clock.millis() : null).execute();
        }
        if (stored.isPresent() && stored.get().paused() != monitor.paused()) {
            // paused or resumed (pause, resume, a PUT or an import): the open incident's timeline
            // says so in this transaction, stamped now, whether or not a node runs to see it
            IncidentStore.pauseChanged(h, monitor.name(), monitor.paused(), clock.instant());
        }
        return inserted;
    }

    /**
     * What the API showed masked and was sent back as it was keeps the stored value: credential
     * header values ({@value DefinitionReader#MASK}) and a target's password ({@code user:***@}).
     */
    static MonitorDefinition unmask(MonitorDefinition given, Optional<MonitorDefinition> stored) {
        String target = given.target();
        if (target.contains(":" + DefinitionReader.MASK + "@")) {
            String current = stored.map(MonitorDefinition::target).orElse(null);
            if (current == null || !Redaction.target(current).equals(target)) {
                throw DefinitionException.invalid("target", "\"" + DefinitionReader.MASK + "\" stands for the stored password, and "
                        + (current == null ? "there is no stored target" : "the stored target is another address")
                        + "; send the real one");
            }
            target = current;
        }
        CheckOptions options = given.options();
        if (options instanceof CheckOptions.Http http && http.headers().containsValue(DefinitionReader.MASK)) {
            Map<String, String> storedHeaders = stored.filter(m -> m.options() instanceof CheckOptions.Http)
                    .map(m -> ((CheckOptions.Http) m.options()).headers()).orElse(Map.of());
            options = new CheckOptions.Http(http.method(), unmaskHeaders(http.headers(), storedHeaders), http.body(),
                    http.expectStatus(), http.maxRedirects(), http.keyword(), http.jsonPath(), http.jsonValue(), http.caFile());
        }
        if (target.equals(given.target()) && options == given.options()) {
            return given;
        }
        return new MonitorDefinition(given.name(), given.type(), target, given.interval(), given.timeout(),
                given.failureThreshold(), given.recoveryThreshold(), given.channels(), given.paused(), given.degradedAbove(),
                given.reminderEvery(), options);
    }

    /** Header values sent back as {@value DefinitionReader#MASK} take the stored value of the same header. */
    private static Map<String, String> unmaskHeaders(Map<String, String> given, Map<String, String> stored) {
        Map<String, String> headers = new java.util.LinkedHashMap<>(given);
        for (var e : given.entrySet()) {
            if (!DefinitionReader.MASK.equals(e.getValue())) {
                continue;
            }
            String current = stored.get(e.getKey());
            if (current == null) {
                throw DefinitionException.invalid("headers." + e.getKey(), "\"" + DefinitionReader.MASK
                        + "\" stands for the stored value, and there is none; send the real value");
            }
            headers.put(e.getKey(), current);
        }
        return headers;
    }

    private static List<MonitorDefinition> monitors(Handle h) {
        return read(h, "SELECT name, definition FROM monitor_monitors ORDER BY name", DefinitionReader::monitor, "monitor");
    }

    /**
     * Whether the monitor is paused, read under its row's lock in the caller's transaction, so that
     * the caller and a pause are serialised (IncidentStore#open): a pause committed before is seen
     * here, and one made after waits on the lock until the caller commits, and then finds what it
     * wrote ({@link IncidentStore#pauseChanged}). The update changes nothing; it is how a row is
     * locked on both PostgreSQL and SQLite (which has no SELECT … FOR UPDATE). False for a monitor
     * not in the catalog.
     * <p>
     * On PostgreSQL the wait is bounded by 2 s: an import rewrites every monitor's row in one
     * transaction, and openings waiting behind a long one would hold the pool's connections (the
     * cluster's heartbeat needs one within 5 s). An opening that gives up fails as any store
     * error does, and the next failed check opens the incident.
     */
    public static boolean pausedUnderLock(Handle h, String name) {
        boolean postgresql = isPostgresql(h);
        if (postgresql) {
            h.execute("SET LOCAL lock_timeout = '2s'");
        }
        h.createUpdate("UPDATE monitor_monitors SET definition = definition WHERE name = :n").bind("n", name).execute();
        if (postgresql) {
            h.execute("SET LOCAL lock_timeout TO DEFAULT");
        }
        return findMonitor(h, name).map(MonitorDefinition::paused).orElse(false);
    }

    private static boolean isPostgresql(Handle h) {
        try {
            return "PostgreSQL".equals(h.getConnection().getMetaData().getDatabaseProductName());
        } catch (java.sql.SQLException e) {
            return false;
        }
    }

    private static Optional<MonitorDefinition> findMonitor(Handle h, String name) {
        return h.createQuery("SELECT definition FROM monitor_monitors WHERE name = :n").bind("n", name)
                .mapTo(String.class).findOne().map(text -> DefinitionReader.monitor(tree(text)));
    }

    // ---- channels -------------------------------------------------------------------------------

    public List<ChannelDefinition> channels() {
        return jdbi.withHandle(MonitorCatalog::channels);
    }

    public Optional<ChannelDefinition> channel(String name) {
        return jdbi.withHandle(h -> findChannel(h, name));
    }

    /** Creates or replaces a channel; a secret sent back masked ({@value DefinitionReader#MASK}) keeps the stored one. */
    public Saved<ChannelDefinition> putChannel(ChannelDefinition channel) {
        DefinitionReader.requireInputRules(channel);
        return jdbi.inTransaction(h -> {
            bumpRevision(h);
            ChannelDefinition resolved = unmask(channel, findChannel(h, channel.name()));
            DefinitionReader.requireCredentialsOnce(resolved);
            return new Saved<>(resolved, writeChannel(h, resolved));
        });
    }

    public ChannelDefinition createChannel(ChannelDefinition channel) {
        DefinitionReader.requireInputRules(channel);
        return jdbi.inTransaction(h -> {
            bumpRevision(h);
            if (findChannel(h, channel.name()).isPresent()) {
                throw new DefinitionException(DefinitionException.Kind.CONFLICT, "name", "channel " + channel.name()
                        + " exists; PUT /api/v1/notification-channels/" + channel.name() + " replaces it");
            }
            ChannelDefinition resolved = unmask(channel, Optional.empty());
            writeChannel(h, resolved);
            return resolved;
        });
    }

    /** Removes a channel no monitor uses. */
    public void removeChannel(String name) {
        jdbi.useTransaction(h -> {
            bumpRevision(h);
            if (findChannel(h, name).isEmpty()) {
                throw notFound("channel", name);
            }
            List<String> users = monitors(h).stream().filter(m -> m.channels().contains(name)).map(MonitorDefinition::name).toList();
            if (!users.isEmpty()) {
                throw new DefinitionException(DefinitionException.Kind.CONFLICT, "name", "channel " + name
                        + " is used by monitor" + (users.size() == 1 ? " " : "s ") + String.join(", ", users)
                        + "; take it out of them first");
            }
            h.createUpdate("DELETE FROM monitor_channels WHERE name = :n").bind("n", name).execute();
        });
    }

    private boolean writeChannel(Handle h, ChannelDefinition channel) {
        return upsert(h, "monitor_channels", channel.name(), channel.type().wireName(),
                json(DefinitionWriter.channel(channel, DefinitionWriter.Secrets.REVEAL)));
    }

    private static List<ChannelDefinition> channels(Handle h) {
        return read(h, "SELECT name, definition FROM monitor_channels ORDER BY name", DefinitionReader::channel, "channel");
    }

    private static Optional<ChannelDefinition> findChannel(Handle h, String name) {
        return h.createQuery("SELECT definition FROM monitor_channels WHERE name = :n").bind("n", name)
                .mapTo(String.class).findOne().map(text -> DefinitionReader.channel(tree(text)));
    }

    /** Replaces masked secrets by the stored ones of the same channel; a mask with nothing behind it is an error. */
    static ChannelDefinition unmask(ChannelDefinition given, Optional<ChannelDefinition> stored) {
        ChannelSettings settings = switch (given.settings()) {
            case ChannelSettings.Webhook w -> {
                ChannelSettings.Webhook before = stored.map(ChannelDefinition::settings)
                        .filter(s -> s instanceof ChannelSettings.Webhook).map(s -> (ChannelSettings.Webhook) s).orElse(null);
                yield new ChannelSettings.Webhook(webhookUrl(w.url(), before),
                        keep("secret", w.secret(), stored, s -> s instanceof ChannelSettings.Webhook sw ? sw.secret() : null),
                        unmaskHeaders(w.headers(), before == null ? Map.of() : before.headers()));
            }
            case ChannelSettings.Telegram t -> new ChannelSettings.Telegram(
                    keep("botToken", t.botToken(), stored, s -> s instanceof ChannelSettings.Telegram st ? st.botToken() : null),
                    t.chatId(), t.apiUrl());
            case ChannelSettings.Email e -> new ChannelSettings.Email(e.host(), e.port(), e.security(), e.username(),
                    keep("password", e.password(), stored, s -> s instanceof ChannelSettings.Email se ? se.password() : null),
                    e.from(), e.to(), e.caFile());
        };
        return new ChannelDefinition(given.name(), settings);
    }

    /** A webhook URL sent back as the API showed it ({@code https://hooks.example.org/***}) keeps the stored URL. */
    private static String webhookUrl(String given, ChannelSettings.Webhook stored) {
        if (!given.contains("/" + DefinitionReader.MASK)) {
            return given;
        }
        if (stored == null || !Redaction.url(stored.url()).equals(given)) {
            throw DefinitionException.invalid("url", "\"" + given + "\" is the masked form of a stored URL, and "
                    + (stored == null ? "there is none" : "the stored one is " + Redaction.url(stored.url())) + "; send the real URL");
        }
        return stored.url();
    }

    private static String keep(String field, String value, Optional<ChannelDefinition> stored,
                               Function<ChannelSettings, String> storedValue) {
        if (!DefinitionReader.MASK.equals(value)) {
            return value;
        }
        String current = stored.map(c -> storedValue.apply(c.settings())).orElse(null);
        if (current == null) {
            throw DefinitionException.invalid(field, "\"" + DefinitionReader.MASK
                    + "\" stands for the stored value, and there is none; send the real value");
        }
        return current;
    }

    // ---- maintenance windows --------------------------------------------------------------------

    public List<MaintenanceWindow> windows() {
        return jdbi.withHandle(MonitorCatalog::windows);
    }

    public Optional<MaintenanceWindow> window(String name) {
        return jdbi.withHandle(h -> findWindow(h, name));
    }

    private static Optional<MaintenanceWindow> findWindow(Handle h, String name) {
        return h.createQuery("SELECT definition FROM monitor_maintenance WHERE name = :n")
                .bind("n", name).mapTo(String.class).findOne().map(text -> DefinitionReader.maintenance(tree(text)));
    }

    public Saved<MaintenanceWindow> putWindow(MaintenanceWindow window) {
        return jdbi.inTransaction(h -> {
            bumpRevision(h);
            return new Saved<>(window, writeWindow(h, window));
        });
    }

    public void removeWindow(String name) {
        jdbi.useTransaction(h -> {
            bumpRevision(h);
            if (h.createUpdate("DELETE FROM monitor_maintenance WHERE name = :n").bind("n", name).execute() == 0) {
                throw notFound("maintenance window", name);
            }
        });
    }

    private boolean writeWindow(Handle h, MaintenanceWindow window) {
        Set<String> monitors = new HashSet<>(h.createQuery("SELECT name FROM monitor_monitors").mapTo(String.class).list());
        for (String monitor : window.monitors()) {
            if (!monitors.contains(monitor)) {
                throw new DefinitionException(DefinitionException.Kind.UNKNOWN_REFERENCE, "monitors", "no monitor " + monitor);
            }
        }
        return upsert(h, "monitor_maintenance", window.name(), null, json(DefinitionWriter.maintenance(window)));
    }

    private static List<MaintenanceWindow> windows(Handle h) {
        return read(h, "SELECT name, definition FROM monitor_maintenance ORDER BY name", DefinitionReader::maintenance,
                "maintenance window");
    }

    // ---- the monitor file -----------------------------------------------------------------------

    /**
     * Writes a whole file in one transaction: channels first, then monitors, then windows, each
     * created or replaced by name. With {@code prune}, whatever the file does not name is removed
     * (monitors and windows before channels, so nothing is left pointing at a removed channel).
     */
    public ImportSummary importCatalog(Catalog catalog, boolean prune) {
        long asked = clock.millis();
        Set<String> startedOver = new HashSet<>(); // monitors removed or made: their checks go after the commit
        ImportSummary summary = jdbi.inTransaction(h -> {
            bumpRevision(h);
            Counts channelCounts = new Counts(0, 0, 0);
            Counts monitorCounts = new Counts(0, 0, 0);
            Counts windowCounts = new Counts(0, 0, 0);
            for (int i = 0; i < catalog.channels().size(); i++) {
                ChannelDefinition channel = catalog.channels().get(i);
                try {
                    Optional<ChannelDefinition> stored = findChannel(h, channel.name());
                    ChannelDefinition resolved = unmask(channel, stored);
                    if (!stored.equals(Optional.of(resolved))) {
                        // an export imported again (a backup restored) carries entries older
                        // versions stored; unchanged, they are taken as they are
                        DefinitionReader.requireInputRules(channel);
                        DefinitionReader.requireCredentialsOnce(resolved);
                    }
                    channelCounts = channelCounts.plus(stored, resolved);
                    writeChannel(h, resolved);
                } catch (DefinitionException e) {
                    throw e.under(entry("channels", i, channel.name()));
                }
            }
            List<String> removed = new ArrayList<>();
            if (prune) {
                Set<String> keep = new HashSet<>(catalog.monitors().stream().map(MonitorDefinition::name).toList());
                for (MonitorDefinition m : monitors(h)) {
                    if (!keep.contains(m.name())) {
                        h.createUpdate("DELETE FROM monitor_monitors WHERE name = :n").bind("n", m.name()).execute();
                        forgetRunningState(h, m.name());
                        startedOver.add(m.name());
                        removed.add("monitor " + m.name());
                    }
                }
                Set<String> keepWindows = new HashSet<>(catalog.maintenance().stream().map(MaintenanceWindow::name).toList());
                for (MaintenanceWindow w : windows(h)) {
                    if (!keepWindows.contains(w.name())) {
                        h.createUpdate("DELETE FROM monitor_maintenance WHERE name = :n").bind("n", w.name()).execute();
                        removed.add("maintenance window " + w.name());
                    }
                }
            }
            for (int i = 0; i < catalog.monitors().size(); i++) {
                MonitorDefinition monitor = catalog.monitors().get(i);
                try {
                    Optional<MonitorDefinition> stored = findMonitor(h, monitor.name());
                    MonitorDefinition resolved = unmask(monitor, stored);
                    if (!stored.equals(Optional.of(resolved))) {
                        DefinitionReader.requireInputRules(monitor); // unchanged entries: as for channels above
                    }
                    monitorCounts = monitorCounts.plus(stored, resolved);
                    if (writeMonitor(h, monitor)) {
                        startedOver.add(monitor.name());
                    }
                } catch (DefinitionException e) {
                    throw e.under(entry("monitors", i, monitor.name()));
                }
            }
            for (int i = 0; i < catalog.maintenance().size(); i++) {
                MaintenanceWindow window = catalog.maintenance().get(i);
                try {
                    windowCounts = windowCounts.plus(findWindow(h, window.name()), window);
                    writeWindow(h, window);
                } catch (DefinitionException e) {
                    throw e.under(entry("maintenance", i, window.name()));
                }
            }
            if (prune) {
                Set<String> keep = new HashSet<>(catalog.channels().stream().map(ChannelDefinition::name).toList());
                Set<String> used = new HashSet<>();
                monitors(h).forEach(m -> used.addAll(m.channels()));
                for (ChannelDefinition c : channels(h)) {
                    if (!keep.contains(c.name()) && !used.contains(c.name())) {
                        h.createUpdate("DELETE FROM monitor_channels WHERE name = :n").bind("n", c.name()).execute();
                        removed.add("channel " + c.name());
                    }
                }
            }
            return new ImportSummary(channelCounts, monitorCounts, windowCounts, List.copyOf(removed));
        });
        startedOver.forEach(name -> dropChecks(name, asked));
        return summary;
    }

    /** An entry of the file the way the file reader names it: {@code monitors[0] (shop)}. */
    private static String entry(String list, int index, String name) {
        return list + "[" + index + "] (" + name + ")";
    }

    // ---- rows -----------------------------------------------------------------------------------

    /** Inserts or updates by name; true when it inserted. */
    private boolean upsert(Handle h, String table, String name, String type, String definition) {
        long now = clock.millis();
        // the catalog revision this transaction moved to: the row's own, so a reload reads only rows written since
        long revision = revision(h);
        int updated = h.createUpdate("UPDATE " + table + " SET definition = :d, updated_at = :now, revision = :r"
                        + (type == null ? "" : ", type = :t") + " WHERE name = :n")
                .bind("d", definition).bind("now", now).bind("r", revision).bind("n", name).bind("t", type).execute();
        if (updated > 0) {
            return false;
        }
        h.createUpdate("INSERT INTO " + table + " (name, " + (type == null ? "" : "type, ")
                        + "definition, created_at, updated_at, revision) VALUES (:n, " + (type == null ? "" : ":t, ")
                        + ":d, :now, :now, :r)")
                .bind("n", name).bind("t", type).bind("d", definition).bind("now", now).bind("r", revision).execute();
        return true;
    }

    private static long revision(Handle h) {
        return h.createQuery("SELECT revision FROM monitor_revision WHERE id = 1").mapTo(Long.class).one();
    }

    private static <T> List<T> read(Handle h, String sql, Function<com.fasterxml.jackson.databind.JsonNode, T> reader,
                                    String what) {
        List<T> out = new ArrayList<>();
        h.createQuery(sql).map((rs, ctx) -> Map.entry(rs.getString(1), rs.getString(2))).forEach(row -> {
            try {
                out.add(reader.apply(tree(row.getValue())));
            } catch (DefinitionException e) {
                log.warn("stored {} {} is no longer valid and is ignored: {}", what, row.getKey(), e.describe());
            }
        });
        return out;
    }

    private static void bumpRevision(Handle h) {
        h.createUpdate("UPDATE monitor_revision SET revision = revision + 1 WHERE id = 1").execute();
    }

    static String json(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a definition as JSON", e);
        }
    }

    static com.fasterxml.jackson.databind.JsonNode tree(String text) {
        try {
            return JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw DefinitionException.invalid(null, "stored definition is not JSON: " + e.getOriginalMessage());
        }
    }

    private static DefinitionException notFound(String what, String name) {
        return new DefinitionException(DefinitionException.Kind.NOT_FOUND, null, "no " + what + " " + name);
    }

    private static List<String> sorted(Set<String> names) {
        return names.stream().sorted().toList();
    }
}
