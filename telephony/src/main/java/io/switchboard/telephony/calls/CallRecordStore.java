package io.switchboard.telephony.calls;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.Query;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import io.switchboard.platform.http.StorableText;
import java.util.Base64;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Call history in the {@code call_records} table. Writes come from SIP threads that must not
 * block, so {@link #submit} only queues a snapshot of the call; one writer thread commits whatever
 * has queued up in one transaction (as {@code BindingStore} does for registrations).
 * <p>
 * Every write is the whole row (an upsert keyed by the call's id), so writes are idempotent and a
 * batch keeps only the newest snapshot of each call: a short call whose start, answer and end
 * queue up together costs one row write. The tracker queues a call's snapshots in the order the
 * call changed, and the single writer keeps that order.
 * <p>
 * Caveats: the queue is bounded; when it is full (the database is down or slower than the call
 * rate) a snapshot is refused and the caller counts the loss. Nobody is acknowledged on a call
 * record, so refusing is safer than filling memory. A failed batch is retried with backoff; after
 * a few failures rows are tried one by one: a row refused while others go in is logged and
 * dropped, so one bad row cannot stall history; while nothing goes in, the batch is retried as
 * long as the database does not answer at all (an outage), and given up after about half a minute
 * when it answers yet refuses the rows.
 */
public final class CallRecordStore implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CallRecordStore.class);
    private static final int MAX_BATCH = 2000;
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(5);
    private static final long MAX_BACKOFF_MILLIS = 5000;
    /** Failed attempts of a batch before its rows are tried one by one. */
    private static final int ROW_BY_ROW_AFTER = 3;
    /** Failed attempts (about half a minute) before rows are dropped although the database answers. */
    private static final int GIVE_UP_AFTER = 10;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<List<String>> STRING_LIST = new TypeReference<>() {
    };

    private final Jdbi jdbi;
    private final BlockingQueue<CallRecord> queue;
    private final Thread writer;
    private volatile boolean running = true;

    /** A page of history, newest first; {@code nextCursor} is null on the last page. */
    public record Page(List<CallRecord> records, String nextCursor) {
    }

    public CallRecordStore(Jdbi jdbi, int queueCapacity) {
        this.jdbi = jdbi;
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        this.writer = new Thread(this::writeLoop, "call-record-writer");
        this.writer.setDaemon(true);
    }

    public void start() {
        writer.start();
    }

    /** Queues a snapshot to be written; false when the queue is full or the store is stopping. Never blocks. */
    public boolean submit(CallRecord record) {
        return running && queue.offer(record);
    }

    /** Snapshots queued and not yet written. */
    public int backlog() {
        return queue.size();
    }

    /**
     * Marks calls this node left open (it stopped without seeing their end) as ended now with
     * status "interrupted". Their duration stays unknown. Call before {@link #start()}.
     *
     * @return how many records were closed
     */
    public int markInterrupted(String node, long nowMillis) {
        return markInterrupted(node, Long.MAX_VALUE, nowMillis);
    }

    /**
     * Marks the calls another node left open when it died (the cluster view counts it dead) as
     * ended now with status "interrupted", if they started before {@code startedBeforeMillis}:
     * the moment the death was seen, so that calls of the same node id started after a quick
     * restart are left alone.
     *
     * @return how many records were closed
     */
    public int markInterrupted(String node, long startedBeforeMillis, long nowMillis) {
        return jdbi.withHandle(h -> h.createUpdate("UPDATE call_records SET status = 'interrupted', ended_at = :now, "
                        + "ended_by = 'node' WHERE node = :node AND ended_at IS NULL AND started_at < :before")
                .bind("now", nowMillis)
                .bind("node", node)
                .bind("before", startedBeforeMillis)
                .execute());
    }

    /**
     * Marks open calls of any node that started before {@code startedBeforeMillis} as
     * interrupted: no node keeps a call that long, so their node is gone (a container that came
     * back under another name never marks its own).
     */
    public int markAbandoned(long startedBeforeMillis, long nowMillis) {
        return jdbi.withHandle(h -> h.createUpdate("UPDATE call_records SET status = 'interrupted', ended_at = :now, "
                        + "ended_by = 'node' WHERE ended_at IS NULL AND started_at < :before")
                .bind("now", nowMillis)
                .bind("before", startedBeforeMillis)
                .execute());
    }

    public Optional<CallRecord> find(String id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM call_records WHERE id = :id")
                .bind("id", id)
                .map((rs, ctx) -> read(rs))
                .findOne());
    }

    /**
     * History newest first (by start time, then id), for calls that started in
     * [{@code fromMillis}, {@code toMillis}); either bound may be null. Pages are keyset-based:
     * pass the previous page's {@code nextCursor} to continue; rows written meanwhile never shift
     * a page.
     *
     * @throws IllegalArgumentException when the cursor is not one this store issued
     */
    public Page list(Long fromMillis, Long toMillis, String cursor, int limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be at least 1");
        }
        Cursor after = cursor == null ? null : Cursor.decode(cursor);
        StringBuilder sql = new StringBuilder("SELECT * FROM call_records WHERE 1 = 1");
        if (fromMillis != null) {
            sql.append(" AND started_at >= :from");
        }
        if (toMillis != null) {
            sql.append(" AND started_at < :to");
        }
        if (after != null) {
            sql.append(" AND (started_at < :afterStarted OR (started_at = :afterStarted AND id < :afterId))");
        }
        sql.append(" ORDER BY started_at DESC, id DESC LIMIT :limit");
        List<CallRecord> rows = jdbi.withHandle(h -> {
            Query query = h.createQuery(sql.toString()).bind("limit", limit + 1);
            if (fromMillis != null) {
                query.bind("from", fromMillis.longValue());
            }
            if (toMillis != null) {
                query.bind("to", toMillis.longValue());
            }
            if (after != null) {
                query.bind("afterStarted", after.startedAt()).bind("afterId", after.id());
            }
            return query.map((rs, ctx) -> read(rs)).list();
        });
        if (rows.size() <= limit) {
            return new Page(rows, null);
        }
        List<CallRecord> page = List.copyOf(rows.subList(0, limit));
        CallRecord last = page.get(limit - 1);
        return new Page(page, new Cursor(last.startedAt().toEpochMilli(), last.id()).encode());
    }

    /** The position after a row: base64url of "startedAt:id". Opaque to clients. */
    record Cursor(long startedAt, String id) {
        String encode() {
            return Base64.getUrlEncoder().withoutPadding()
                    .encodeToString((startedAt + ":" + id).getBytes(StandardCharsets.UTF_8));
        }

        static Cursor decode(String text) {
            String plain;
            try {
                plain = new String(Base64.getUrlDecoder().decode(text), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("not a cursor this server issued");
            }
            int colon = plain.indexOf(':');
            if (colon <= 0 || colon == plain.length() - 1 || plain.length() - colon - 1 > 36) {
                throw new IllegalArgumentException("not a cursor this server issued");
            }
            if (StorableText.problem(plain).isPresent()) {
                throw new IllegalArgumentException("not a cursor this server issued");
            }
            try {
                return new Cursor(Long.parseLong(plain.substring(0, colon)), plain.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a cursor this server issued");
            }
        }
    }

    // ---- writer ---------------------------------------------------------------------------------

    private void writeLoop() {
        List<CallRecord> drained = new ArrayList<>(MAX_BATCH);
        Map<String, CallRecord> newest = new LinkedHashMap<>();
        while (running || !queue.isEmpty()) {
            try {
                CallRecord first = queue.poll(200, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                drained.add(first);
                queue.drainTo(drained, MAX_BATCH - 1);
                for (CallRecord record : drained) {
                    newest.put(record.id(), record); // later snapshots of a call replace earlier ones
                }
                writeWithRetry(List.copyOf(newest.values()));
            } catch (InterruptedException e) {
                if (!running) {
                    break;
                }
            } catch (RuntimeException e) {
                log.error("could not store {} call records: {}", newest.size(), e.toString());
            } finally {
                drained.clear();
                newest.clear();
            }
        }
    }

    private void writeWithRetry(List<CallRecord> rows) throws InterruptedException {
        long backoff = 250;
        for (int attempt = 1; ; attempt++) {
            try {
                upsert(rows);
                if (attempt > 1) {
                    log.info("call records stored again after {} attempts", attempt);
                }
                return;
            } catch (SQLException | RuntimeException e) {
                if (attempt == 1) {
                    log.warn("storing {} call records failed, retrying: {}", rows.size(), e.toString());
                }
            }
            if (attempt >= ROW_BY_ROW_AFTER) {
                List<CallRecord> failed = upsertEach(rows);
                boolean someWritten = failed.size() < rows.size();
                rows = failed;
                if (rows.isEmpty()) {
                    return;
                }
                // rows refused while others go in, or for long while the database answers: give them up
                if (someWritten || (attempt >= GIVE_UP_AFTER && databaseAnswers())) {
                    log.error("dropping {} call records the database refuses (first: {})", rows.size(), rows.get(0).id());
                    return;
                }
            }
            if (!running && attempt >= 2) {
                log.error("dropping {} call records: the store is unavailable while the node stops", rows.size());
                return;
            }
            Thread.sleep(backoff);
            backoff = Math.min(backoff * 2, MAX_BACKOFF_MILLIS);
        }
    }

    /** Writes rows one transaction each; returns those that failed. */
    private List<CallRecord> upsertEach(List<CallRecord> rows) {
        List<CallRecord> failed = new ArrayList<>();
        for (CallRecord row : rows) {
            try {
                upsert(List.of(row));
            } catch (SQLException | RuntimeException e) {
                failed.add(row);
            }
        }
        return failed;
    }

    private boolean databaseAnswers() {
        try {
            return jdbi.withHandle(h -> h.createQuery("SELECT 1").mapTo(Integer.class).one()) == 1;
        } catch (RuntimeException e) {
            return false;
        }
    }

    private static final String UPSERT = "INSERT INTO call_records (id, call_id, caller, callee, dialed, devices_rung, "
            + "answered_by, started_at, ringing_at, answered_at, ended_at, duration_ms, status, final_code, ended_by, node) "
            + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            + "ON CONFLICT (id) DO UPDATE SET devices_rung = excluded.devices_rung, answered_by = excluded.answered_by, "
            + "ringing_at = excluded.ringing_at, answered_at = excluded.answered_at, ended_at = excluded.ended_at, "
            + "duration_ms = excluded.duration_ms, status = excluded.status, final_code = excluded.final_code, "
            + "ended_by = excluded.ended_by";

    /** One transaction, one JDBC batch (plain JDBC, as on the registrar's hot path). */
    private void upsert(Collection<CallRecord> rows) throws SQLException {
        jdbi.useTransaction(h -> {
            Connection connection = h.getConnection();
            try (PreparedStatement statement = connection.prepareStatement(UPSERT)) {
                for (CallRecord r : rows) {
                    statement.setString(1, r.id());
                    statement.setString(2, clean(r.callId() == null ? "" : r.callId()));
                    statement.setString(3, clean(r.caller()));
                    statement.setString(4, clean(r.callee()));
                    statement.setString(5, clean(r.dialed()));
                    statement.setString(6, clean(devicesJson(r.devicesRung())));
                    statement.setString(7, clean(r.answeredBy()));
                    statement.setLong(8, r.startedAt().toEpochMilli());
                    setMillis(statement, 9, r.ringingAt());
                    setMillis(statement, 10, r.answeredAt());
                    setMillis(statement, 11, r.endedAt());
                    if (r.durationMillis() == null) {
                        statement.setNull(12, Types.BIGINT);
                    } else {
                        statement.setLong(12, r.durationMillis());
                    }
                    statement.setString(13, r.status());
                    if (r.finalCode() == null) {
                        statement.setNull(14, Types.INTEGER);
                    } else {
                        statement.setInt(14, r.finalCode());
                    }
                    statement.setString(15, r.endedBy());
                    statement.setString(16, clean(r.node()));
                    statement.addBatch();
                }
                statement.executeBatch();
            }
        });
    }

    private static void setMillis(PreparedStatement statement, int index, Instant at) throws SQLException {
        if (at == null) {
            statement.setNull(index, Types.BIGINT);
        } else {
            statement.setLong(index, at.toEpochMilli());
        }
    }

    /**
     * The text without NUL, which PostgreSQL cannot store: written as its SIP escape, %00 (RFC 3261
     * §19.1.2), so "10%0002" dialed is recorded as such, not as "1002" (an existing account the
     * call never went to).
     */
    private static String clean(String text) {
        return text == null || text.indexOf('\0') < 0 ? text : text.replace("\0", "%00");
    }

    private static String devicesJson(List<String> devices) {
        try {
            return JSON.writeValueAsString(devices);
        } catch (JsonProcessingException impossible) {
            throw new IllegalStateException(impossible);
        }
    }

    private static CallRecord read(ResultSet rs) throws SQLException {
        List<String> devices;
        try {
            devices = JSON.readValue(rs.getString("devices_rung"), STRING_LIST);
        } catch (JsonProcessingException | IllegalArgumentException e) {
            devices = List.of();
        }
        Long ringing = nullableLong(rs, "ringing_at");
        Long answered = nullableLong(rs, "answered_at");
        Long ended = nullableLong(rs, "ended_at");
        Long finalCode = nullableLong(rs, "final_code");
        return new CallRecord(rs.getString("id"), rs.getString("call_id"), rs.getString("caller"),
                rs.getString("callee"), rs.getString("dialed"), devices, rs.getString("answered_by"),
                Instant.ofEpochMilli(rs.getLong("started_at")), instant(ringing), instant(answered), instant(ended),
                nullableLong(rs, "duration_ms"), rs.getString("status"),
                finalCode == null ? null : finalCode.intValue(), rs.getString("ended_by"), rs.getString("node"));
    }

    private static Long nullableLong(ResultSet rs, String column) throws SQLException {
        long value = rs.getLong(column);
        return rs.wasNull() ? null : value;
    }

    private static Instant instant(Long millis) {
        return millis == null ? null : Instant.ofEpochMilli(millis);
    }

    /** Stops taking snapshots and writes what is queued, waiting at most a few seconds. */
    @Override
    public void close() {
        running = false;
        if (writer.isAlive()) {
            try {
                writer.join(CLOSE_WAIT.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        int left = queue.size();
        if (left > 0) {
            log.warn("{} call record writes were not stored before the node stopped", left);
            queue.clear();
        }
    }
}
