package io.switchboard.telephony.calls;

import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** The call history store on SQLite; {@link CallRecordStorePostgresTest} runs every test on PostgreSQL. */
class CallRecordStoreTest {
    private static final Instant T0 = Instant.parse("2030-03-01T10:00:00Z");

    @TempDir
    Path dir;
    Store store;
    CallRecordStore records;

    StoreSettings storeSettings() throws Exception {
        return StoreSettings.sqliteIn(dir);
    }

    void dropDatabase() throws Exception {
    }

    @BeforeEach
    void open() throws Exception {
        store = Store.open(storeSettings());
        store.migrate("telephony");
        records = new CallRecordStore(store.jdbi(), 10_000);
        records.start();
    }

    @AfterEach
    void close() throws Exception {
        records.close();
        store.close();
        dropDatabase();
    }

    static CallRecord ringing(String id, Instant startedAt, String node) {
        return new CallRecord(id, "call-" + id, "sip:alice@example.test", "sip:bob@example.test", "100",
                List.of("sip:bob@10.0.0.1:5060"), null, startedAt, null, null, null, null, "ringing", null, null, node);
    }

    static CallRecord completed(CallRecord r, Instant answeredAt, Instant endedAt) {
        return new CallRecord(r.id(), r.callId(), r.caller(), r.callee(), r.dialed(), r.devicesRung(),
                r.devicesRung().get(0), r.startedAt(), answeredAt, answeredAt, endedAt,
                endedAt.toEpochMilli() - answeredAt.toEpochMilli(), "completed", 200, "callee", r.node());
    }

    private CallRecord awaitRecord(String id, String status) {
        await().atMost(Duration.ofSeconds(10))
                .until(() -> records.find(id).map(r -> r.status().equals(status)).orElse(false));
        return records.find(id).orElseThrow();
    }

    @Test
    void aRowIsWrittenAtStartAndUpdatedAtTheEnd() {
        String id = UUID.randomUUID().toString();
        CallRecord start = ringing(id, T0, "node-a");
        assertThat(records.submit(start)).isTrue();
        assertThat(awaitRecord(id, "ringing")).isEqualTo(start);

        CallRecord end = completed(start, T0.plusSeconds(3), T0.plusSeconds(63));
        assertThat(records.submit(end)).isTrue();
        CallRecord stored = awaitRecord(id, "completed");
        assertThat(stored).isEqualTo(end);
        assertThat(stored.durationMillis()).isEqualTo(60_000L);
        assertThat(stored.isFinished()).isTrue();
    }

    @Test
    void snapshotsQueuedTogetherLeaveTheNewest() {
        String id = UUID.randomUUID().toString();
        CallRecord start = ringing(id, T0, "node-a");
        CallRecord end = completed(start, T0.plusSeconds(1), T0.plusSeconds(2));
        for (int i = 0; i < 50; i++) {
            records.submit(start);
        }
        records.submit(end);
        assertThat(awaitRecord(id, "completed")).isEqualTo(end);
    }

    @Test
    void oddTextRoundTrips() {
        String id = UUID.randomUUID().toString();
        CallRecord odd = new CallRecord(id, "a\"b'c\\d", "\"Zoë 😀\" <sip:zoe@example.test>", null, null,
                List.of("sip:x@[2001:db8::1]:5060;transport=tcp", "sip:\"q\"@h"), null, T0, null, null, T0.plusMillis(5),
                null, "not_found", 404, null, "node-a");
        records.submit(odd);
        assertThat(awaitRecord(id, "not_found")).isEqualTo(odd);
    }

    @Test
    void aNulCharacterIsWrittenAsItsEscapeNotDroppedAndNotTheRow() {
        String id = UUID.randomUUID().toString();
        CallRecord withNul = new CallRecord(id, "c\0d", "sip:a\0b@example.test", "sip:bob@example.test", null,
                List.of(), null, T0, null, null, null, null, "ringing", null, null, "node-a");
        records.submit(withNul);
        CallRecord stored = awaitRecord(id, "ringing");
        // dropped, "sip:a%00b" would read as another caller, "sip:ab"
        assertThat(stored.callId()).isEqualTo("c%00d");
        assertThat(stored.caller()).isEqualTo("sip:a%00b@example.test");
    }

    @Test
    void pagesGoNewestFirstAndCursorsAreStable() {
        List<CallRecord> written = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            // three calls share a start time: the id breaks the tie
            Instant startedAt = i < 3 ? T0 : T0.plusSeconds(i);
            written.add(ringing(UUID.randomUUID().toString(), startedAt, "node-a"));
        }
        written.forEach(records::submit);
        await().atMost(Duration.ofSeconds(10)).until(() -> records.list(null, null, null, 100).records().size() == 7);
        List<String> expected = written.stream()
                .sorted(Comparator.comparing(CallRecord::startedAt).thenComparing(CallRecord::id).reversed())
                .map(CallRecord::id).toList();

        CallRecordStore.Page first = records.list(null, null, null, 3);
        assertThat(first.records()).hasSize(3);
        assertThat(first.nextCursor()).isNotNull();

        // a newer call written between pages does not shift the next page
        String newer = UUID.randomUUID().toString();
        records.submit(ringing(newer, T0.plusSeconds(100), "node-a"));
        await().atMost(Duration.ofSeconds(10)).until(() -> records.find(newer).isPresent());

        CallRecordStore.Page second = records.list(null, null, first.nextCursor(), 3);
        CallRecordStore.Page third = records.list(null, null, second.nextCursor(), 3);
        assertThat(third.records()).hasSize(1);
        assertThat(third.nextCursor()).isNull();
        List<String> seen = new ArrayList<>();
        for (CallRecordStore.Page page : List.of(first, second, third)) {
            page.records().forEach(r -> seen.add(r.id()));
        }
        assertThat(seen).isEqualTo(expected);

        // an exact multiple of the page size ends without an empty extra page
        CallRecordStore.Page all = records.list(null, null, null, 8);
        assertThat(all.records()).hasSize(8);
        assertThat(all.nextCursor()).isNull();
    }

    @Test
    void timeBoundsAreFromInclusiveToExclusive() {
        for (int i = 0; i < 5; i++) {
            records.submit(ringing(UUID.randomUUID().toString(), T0.plusSeconds(i), "node-a"));
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> records.list(null, null, null, 100).records().size() == 5);
        CallRecordStore.Page window = records.list(T0.plusSeconds(1).toEpochMilli(), T0.plusSeconds(3).toEpochMilli(),
                null, 100);
        assertThat(window.records()).extracting(CallRecord::startedAt)
                .containsExactly(T0.plusSeconds(2), T0.plusSeconds(1));
        assertThat(records.list(T0.plusSeconds(10).toEpochMilli(), null, null, 10).records()).isEmpty();
    }

    @Test
    void aCursorNotIssuedHereIsRefused() {
        String bad = Base64.getUrlEncoder().encodeToString("abc".getBytes(StandardCharsets.UTF_8));
        for (String cursor : List.of("not base64!", bad, "", Base64.getUrlEncoder().encodeToString("x:y".getBytes()))) {
            assertThatThrownBy(() -> records.list(null, null, cursor, 10))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("cursor");
        }
    }

    @Test
    void openCallsOfThisNodeAreMarkedInterrupted() {
        CallRecord mine = ringing(UUID.randomUUID().toString(), T0, "node-a");
        CallRecord mineDone = completed(ringing(UUID.randomUUID().toString(), T0, "node-a"), T0, T0.plusSeconds(5));
        CallRecord other = ringing(UUID.randomUUID().toString(), T0, "node-b");
        List.of(mine, mineDone, other).forEach(records::submit);
        await().atMost(Duration.ofSeconds(10)).until(() -> records.list(null, null, null, 10).records().size() == 3);

        long now = T0.plusSeconds(600).toEpochMilli();
        assertThat(records.markInterrupted("node-a", now)).isEqualTo(1);

        CallRecord interrupted = records.find(mine.id()).orElseThrow();
        assertThat(interrupted.status()).isEqualTo("interrupted");
        assertThat(interrupted.endedAt()).isEqualTo(Instant.ofEpochMilli(now));
        assertThat(interrupted.endedBy()).isEqualTo("node");
        assertThat(interrupted.durationMillis()).isNull();
        assertThat(records.find(mineDone.id()).orElseThrow()).isEqualTo(mineDone);
        assertThat(records.find(other.id()).orElseThrow().status()).isEqualTo("ringing");
        assertThat(records.markInterrupted("node-a", now)).isZero();
    }

    @Test
    void aDeadNodesOpenCallsStartedBeforeItsDeathWasSeenAreMarkedInterrupted() {
        CallRecord before = ringing(UUID.randomUUID().toString(), T0, "node-a");
        // started by the same node id after the death was seen: a quick restart's call
        CallRecord after = ringing(UUID.randomUUID().toString(), T0.plusSeconds(10), "node-a");
        CallRecord other = ringing(UUID.randomUUID().toString(), T0, "node-b");
        List.of(before, after, other).forEach(records::submit);
        await().atMost(Duration.ofSeconds(10)).until(() -> records.list(null, null, null, 10).records().size() == 3);

        long seenDead = T0.plusSeconds(10).toEpochMilli();
        long now = T0.plusSeconds(11).toEpochMilli();
        assertThat(records.markInterrupted("node-a", seenDead, now)).isEqualTo(1);

        CallRecord interrupted = records.find(before.id()).orElseThrow();
        assertThat(interrupted.status()).isEqualTo("interrupted");
        assertThat(interrupted.endedAt()).isEqualTo(Instant.ofEpochMilli(now));
        assertThat(interrupted.endedBy()).isEqualTo("node");
        assertThat(records.find(after.id()).orElseThrow().status()).isEqualTo("ringing");
        assertThat(records.find(other.id()).orElseThrow().status()).isEqualTo("ringing");
    }

    @Test
    void openCallsOlderThanAnyCallCanLastAreAbandoned() {
        CallRecord old = ringing(UUID.randomUUID().toString(), T0, "node-gone");
        CallRecord recent = ringing(UUID.randomUUID().toString(), T0.plusSeconds(3600), "node-b");
        List.of(old, recent).forEach(records::submit);
        await().atMost(Duration.ofSeconds(10)).until(() -> records.list(null, null, null, 10).records().size() == 2);

        assertThat(records.markAbandoned(T0.plusSeconds(60).toEpochMilli(), T0.plusSeconds(7200).toEpochMilli()))
                .isEqualTo(1);
        assertThat(records.find(old.id()).orElseThrow().status()).isEqualTo("interrupted");
        assertThat(records.find(recent.id()).orElseThrow().status()).isEqualTo("ringing");
    }

    @Test
    void queuedWritesAreStoredOnCloseAndLaterOnesRefused() {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            String id = UUID.randomUUID().toString();
            ids.add(id);
            records.submit(ringing(id, T0.plusMillis(i), "node-a"));
        }
        records.close();
        assertThat(records.submit(ringing(UUID.randomUUID().toString(), T0, "node-a"))).isFalse();
        assertThat(records.list(null, null, null, 500).records()).extracting(CallRecord::id)
                .containsExactlyInAnyOrderElementsOf(ids);
    }

    @Test
    void aFullQueueRefusesInsteadOfBlocking() {
        CallRecordStore tiny = new CallRecordStore(store.jdbi(), 2); // not started: nothing drains it
        assertThat(tiny.submit(ringing(UUID.randomUUID().toString(), T0, "n"))).isTrue();
        assertThat(tiny.submit(ringing(UUID.randomUUID().toString(), T0, "n"))).isTrue();
        assertThat(tiny.submit(ringing(UUID.randomUUID().toString(), T0, "n"))).isFalse();
        assertThat(tiny.backlog()).isEqualTo(2);
        tiny.close();
    }

    @Test
    void writesWaitOutAnUnavailableTable() throws Exception {
        store.jdbi().useHandle(h -> h.execute("ALTER TABLE call_records RENAME TO call_records_away"));
        String id = UUID.randomUUID().toString();
        records.submit(ringing(id, T0, "node-a"));
        Thread.sleep(1200); // several failed attempts, row by row too
        store.jdbi().useHandle(h -> h.execute("ALTER TABLE call_records_away RENAME TO call_records"));
        awaitRecord(id, "ringing");
    }

    @Test
    void aRowThatCannotBeWrittenDoesNotHoldUpTheOthers() {
        CallRecordStore fresh = new CallRecordStore(store.jdbi(), 100);
        CallRecord good = ringing(UUID.randomUUID().toString(), T0, "node-a");
        CallRecord broken = new CallRecord(UUID.randomUUID().toString(), "x", null, null, null, List.of(), null,
                null, null, null, null, null, "ringing", null, null, "node-a"); // no start time
        CallRecord alsoGood = ringing(UUID.randomUUID().toString(), T0, "node-a");
        List.of(good, broken, alsoGood).forEach(fresh::submit); // queued before the writer runs: one batch
        fresh.start();
        try {
            awaitRecord(good.id(), "ringing");
            awaitRecord(alsoGood.id(), "ringing");
            CallRecord later = ringing(UUID.randomUUID().toString(), T0, "node-a");
            fresh.submit(later);
            awaitRecord(later.id(), "ringing");
            assertThat(records.find(broken.id())).isEmpty();
        } finally {
            fresh.close();
        }
    }
}
