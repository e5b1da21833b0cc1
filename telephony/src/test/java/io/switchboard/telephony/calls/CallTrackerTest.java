package io.switchboard.telephony.calls;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import io.switchboard.platform.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class CallTrackerTest {
    private static final String ALICE = "sip:alice@example.test";
    private static final String BOB = "sip:bob@example.test";
    private static final String PHONE = "sip:bob@192.0.2.10:5060";
    private static final String APP = "sip:bob@192.0.2.11:5070;transport=tcp";

    @TempDir
    Path dir;
    final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T08:00:00Z"));
    final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    Store store;
    CallRecordStore records;
    CallMetrics metrics;
    CallTracker tracker;

    @BeforeEach
    void start() {
        store = Store.open(StoreSettings.sqliteIn(dir));
        store.migrate("telephony");
        records = new CallRecordStore(store.jdbi(), 10_000);
        metrics = new CallMetrics(meters);
        tracker = new CallTracker(records, metrics, clock, "node-a", Duration.ofHours(1));
        tracker.start();
    }

    @AfterEach
    void stop() {
        tracker.close();
        store.close();
    }

    private CallRecord awaitRecord(ActiveCall call, String status) {
        await().atMost(Duration.ofSeconds(10))
                .until(() -> records.find(call.id()).map(r -> r.status().equals(status)).orElse(false));
        return records.find(call.id()).orElseThrow();
    }

    private double counter(String name, String... tags) {
        var counter = meters.find(name).tags(tags).counter();
        return counter == null ? -1 : counter.count();
    }

    private double gauge() {
        return meters.get("switchboard.calls.active").gauge().value();
    }

    private ActiveCall call(String callId) {
        return tracker.started(callId, "tag-" + callId, ALICE, BOB, "100", List.of(PHONE, APP));
    }

    @Test
    void aCallGoesFromStartToRingingToAnswerToEnd() {
        Instant t0 = clock.instant();
        ActiveCall call = call("c1");
        assertThat(call.id()).hasSize(36);
        assertThat(call.phase()).isEqualTo(ActiveCall.Phase.RINGING);
        assertThat(call.callerTag()).isEqualTo("tag-c1");
        assertThat(call.node()).isEqualTo("node-a");
        assertThat(tracker.find("c1")).containsSame(call);
        assertThat(tracker.active()).containsExactly(call);
        assertThat(gauge()).isEqualTo(1);
        assertThat(counter("switchboard.calls.started")).isEqualTo(1);
        CallRecord started = awaitRecord(call, "ringing");
        assertThat(started.startedAt()).isEqualTo(t0);
        assertThat(started.devicesRung()).containsExactly(PHONE, APP);
        assertThat(started.endedAt()).isNull();

        clock.advance(Duration.ofMillis(300));
        tracker.ringing(call);
        clock.advance(Duration.ofMillis(300));
        tracker.ringing(call); // a second 180 does not end setup again
        var setup = meters.get("switchboard.call.setup").timer();
        assertThat(setup.count()).isEqualTo(1);
        assertThat(setup.totalTime(TimeUnit.MILLISECONDS)).isEqualTo(300);
        assertThat(call.ringingAt()).isEqualTo(t0.plusMillis(300));

        clock.advance(Duration.ofSeconds(2));
        tracker.answered(call, APP);
        assertThat(call.phase()).isEqualTo(ActiveCall.Phase.ANSWERED);
        assertThat(call.answeredBy()).isEqualTo(APP);
        assertThat(counter("switchboard.calls.answered")).isEqualTo(1);
        assertThat(setup.count()).isEqualTo(1);
        awaitRecord(call, "answered");

        clock.advance(Duration.ofSeconds(65));
        tracker.ended(call, "callee");
        assertThat(tracker.find("c1")).isEmpty();
        assertThat(tracker.active()).isEmpty();
        assertThat(gauge()).isZero();
        var duration = meters.get("switchboard.call.duration").timer();
        assertThat(duration.count()).isEqualTo(1);
        assertThat(duration.totalTime(TimeUnit.SECONDS)).isEqualTo(65);

        CallRecord done = awaitRecord(call, "completed");
        assertThat(done.callId()).isEqualTo("c1");
        assertThat(done.caller()).isEqualTo(ALICE);
        assertThat(done.callee()).isEqualTo(BOB);
        assertThat(done.dialed()).isEqualTo("100");
        assertThat(done.answeredBy()).isEqualTo(APP);
        assertThat(done.ringingAt()).isEqualTo(t0.plusMillis(300));
        assertThat(done.answeredAt()).isEqualTo(t0.plusMillis(2600));
        assertThat(done.endedAt()).isEqualTo(t0.plusMillis(67_600));
        assertThat(done.durationMillis()).isEqualTo(65_000L);
        assertThat(done.finalCode()).isEqualTo(200);
        assertThat(done.endedBy()).isEqualTo("callee");
        assertThat(done.node()).isEqualTo("node-a");
        assertThat(counter("switchboard.calls.failed", "reason", "busy")).isZero();
    }

    @Test
    void anAnswerWithoutRingingEndsSetupToo() {
        ActiveCall call = call("c2");
        clock.advance(Duration.ofMillis(120));
        tracker.answered(call, PHONE);
        assertThat(call.ringingAt()).isEqualTo(call.answeredAt());
        var setup = meters.get("switchboard.call.setup").timer();
        assertThat(setup.count()).isEqualTo(1);
        assertThat(setup.totalTime(TimeUnit.MILLISECONDS)).isEqualTo(120);
        tracker.ringing(call); // a late 180 changes nothing
        assertThat(setup.count()).isEqualTo(1);
    }

    @Test
    void aFailedCallEndsUnanswered() {
        ActiveCall call = call("c3");
        tracker.ringing(call);
        clock.advance(Duration.ofSeconds(4));
        tracker.failed(call, 486, "Busy Here");
        assertThat(tracker.find("c3")).isEmpty();
        assertThat(gauge()).isZero();
        assertThat(counter("switchboard.calls.failed", "reason", "busy")).isEqualTo(1);
        CallRecord record = awaitRecord(call, "busy");
        assertThat(record.finalCode()).isEqualTo(486);
        assertThat(record.endedBy()).as("the callee was busy").isEqualTo("callee");
        assertThat(record.answeredAt()).isNull();
        assertThat(record.durationMillis()).isNull();
        assertThat(record.endedAt()).isEqualTo(call.startedAt().plusSeconds(4));
        assertThat(meters.get("switchboard.call.duration").timer().count()).isZero();
    }

    @Test
    void secondTransitionsAreIgnored() {
        ActiveCall answered = call("c4");
        tracker.answered(answered, PHONE);
        tracker.answered(answered, APP);
        tracker.failed(answered, 500, "late"); // a failure after the answer is not a failure
        assertThat(answered.answeredBy()).isEqualTo(PHONE);
        assertThat(counter("switchboard.calls.answered")).isEqualTo(1);
        assertThat(counter("switchboard.calls.failed", "reason", "error")).isZero();
        clock.advance(Duration.ofSeconds(10));
        tracker.ended(answered, "caller");
        clock.advance(Duration.ofSeconds(10));
        tracker.ended(answered, "callee");
        assertThat(meters.get("switchboard.call.duration").timer().count()).isEqualTo(1);
        CallRecord record = awaitRecord(answered, "completed");
        assertThat(record.endedBy()).isEqualTo("caller");
        assertThat(record.durationMillis()).isEqualTo(10_000L);

        ActiveCall failed = call("c5");
        tracker.failed(failed, 404, "Not Found");
        tracker.failed(failed, 486, "Busy Here");
        tracker.answered(failed, PHONE);
        tracker.ended(failed, "caller");
        assertThat(counter("switchboard.calls.failed", "reason", "not_found")).isEqualTo(1);
        assertThat(counter("switchboard.calls.failed", "reason", "busy")).isZero();
        assertThat(counter("switchboard.calls.answered")).isEqualTo(1);
        assertThat(awaitRecord(failed, "not_found").finalCode()).isEqualTo(404);
        assertThat(gauge()).isZero();
    }

    /** Who ended an unanswered call: the caller's CANCEL, the callee's busy or decline, else nobody. */
    @Test
    void whoEndedAnUnansweredCall() {
        ActiveCall cancelled = call("c7");
        tracker.failed(cancelled, 487, "Request Terminated");
        assertThat(awaitRecord(cancelled, "cancelled").endedBy()).isEqualTo("caller");
        ActiveCall declined = call("c8");
        tracker.failed(declined, 603, "Decline");
        assertThat(awaitRecord(declined, "declined").endedBy()).isEqualTo("callee");
        ActiveCall noAnswer = call("c9");
        tracker.failed(noAnswer, 408, "Request Timeout");
        assertThat(awaitRecord(noAnswer, "no_answer").endedBy()).isNull();
    }

    @Test
    void anEndBeforeTheAnswerIsACancelledCall() {
        ActiveCall call = call("c6");
        tracker.ringing(call);
        tracker.ended(call, "caller");
        assertThat(tracker.active()).isEmpty();
        assertThat(counter("switchboard.calls.failed", "reason", "cancelled")).isEqualTo(1);
        CallRecord record = awaitRecord(call, "cancelled");
        assertThat(record.finalCode()).isEqualTo(487);
        assertThat(record.endedBy()).isEqualTo("caller");
    }

    @Test
    void laterBranchesAddDevices() {
        ActiveCall call = tracker.started("c7", "t", ALICE, BOB, null, List.of(PHONE));
        tracker.rung(call, APP);
        tracker.rung(call, APP);
        assertThat(call.devicesRung()).containsExactly(PHONE, APP);
        await().atMost(Duration.ofSeconds(10)).until(() -> records.find(call.id())
                .map(r -> r.devicesRung().size() == 2).orElse(false));
        tracker.answered(call, APP);
        tracker.rung(call, "sip:late@192.0.2.99"); // not ringing any more
        assertThat(call.devicesRung()).containsExactly(PHONE, APP);
    }

    @ParameterizedTest
    @CsvSource({"486,busy", "600,busy", "487,cancelled", "404,not_found", "604,not_found", "480,unavailable",
            "408,no_answer", "403,rejected", "401,rejected", "407,rejected", "500,error", "503,error", "599,error",
            "603,declined", "488,failed", "400,failed"})
    void failureCodesMapToStatuses(int code, String status) {
        assertThat(CallTracker.statusFor(code)).isEqualTo(status);
        ActiveCall call = call("m" + code);
        tracker.failed(call, code, "x");
        assertThat(counter("switchboard.calls.failed", "reason", status)).isEqualTo(1);
        assertThat(awaitRecord(call, status).finalCode()).isEqualTo(code);
    }

    /** A request is of the answered dialog only with both its tags (RFC 3261 §12: Call-ID, local and remote tag). */
    @Test
    void onlyTheAnsweredDialogsTagsNameASide() {
        ActiveCall call = call("d1");
        assertThat(call.sideOf("tag-d1", "fork-a")).as("before the answer: an early dialog").isNull();
        tracker.answered(call, PHONE);
        call.hangUpWith(null, "fork-a");
        assertThat(call.sideOf("tag-d1", "fork-a")).isTrue();
        assertThat(call.sideOf("fork-a", "tag-d1")).isFalse();
        assertThat(call.sideOf("tag-d1", "fork-b")).as("another fork's dialog").isNull();
        assertThat(call.sideOf("fork-b", "tag-d1")).isNull();
        assertThat(call.sideOf("tag-d1", null)).isNull();
    }

    /** A hang-up that sent its BYEs counts them itself; one that could make none, or failed, counts both phones unsent. */
    @Test
    void aHangUpThatSentNothingCountsBothPhonesUnsent() {
        ActiveCall sent = call("h1");
        tracker.answered(sent, PHONE);
        sent.hangUpWith(() -> true, "t1");
        ActiveCall none = call("h2");
        tracker.answered(none, PHONE);
        none.hangUpWith(() -> false, "t2");
        ActiveCall failing = call("h3");
        tracker.answered(failing, PHONE);
        failing.hangUpWith(() -> {
            throw new IllegalStateException("no route");
        }, "t3");
        clock.advance(Duration.ofMinutes(61)); // over the 1 h maximum
        tracker.sweep();
        assertThat(tracker.active()).isEmpty();
        assertThat(counter("switchboard.call.hangups", "result", "unsent")).isEqualTo(4);
    }

    @Test
    void theSweepEndsCallsWhoseEndWasNeverSeen() {
        ActiveCall talking = call("s1");
        tracker.answered(talking, PHONE);
        clock.advance(Duration.ofMinutes(5));
        ActiveCall ringingLong = call("s2");
        clock.advance(Duration.ofMinutes(6));
        ActiveCall ringingShort = call("s3");

        tracker.sweep(); // 11 min: s2 has rung only 6, s1 talked only 11
        assertThat(tracker.active()).containsExactly(talking, ringingLong, ringingShort);

        clock.advance(Duration.ofMinutes(5)); // s2 unanswered for 11 min
        tracker.sweep();
        assertThat(tracker.active()).containsExactly(talking, ringingShort);
        CallRecord failed = awaitRecord(ringingLong, "failed");
        assertThat(failed.endedBy()).isEqualTo("timeout");
        assertThat(counter("switchboard.calls.failed", "reason", "failed")).isEqualTo(1);

        clock.advance(Duration.ofMinutes(45)); // s1 answered 61 min ago, over the 1 h maximum
        tracker.sweep();
        assertThat(tracker.find("s1")).isEmpty();
        CallRecord timedOut = awaitRecord(talking, "completed");
        assertThat(timedOut.endedBy()).isEqualTo("timeout");
        assertThat(timedOut.durationMillis()).isEqualTo(Duration.ofMinutes(61).toMillis());
        // no hang-up was attached (no proxy here): both phones are counted as not sent a BYE
        assertThat(counter("switchboard.call.hangups", "result", "unsent")).isEqualTo(2);
        assertThat(counter("switchboard.call.hangups", "result", "answered")).isZero();
        assertThat(tracker.active()).isEmpty(); // s3 rang 50 min
        assertThat(gauge()).isZero();
    }

    @Test
    void callsLeftOpenByAPreviousRunAreInterruptedAtStart() {
        ActiveCall call = call("r1");
        tracker.answered(call, PHONE);
        awaitRecord(call, "answered");
        CallRecord otherNode = CallRecordStoreTest.ringing("00000000-0000-0000-0000-000000000001",
                clock.instant(), "node-b");
        records.submit(otherNode);
        await().atMost(Duration.ofSeconds(10)).until(() -> records.find(otherNode.id()).isPresent());

        // the node "restarts" without having closed: a second tracker of the same node over the same data
        clock.advance(Duration.ofMinutes(2));
        CallRecordStore again = new CallRecordStore(store.jdbi(), 100);
        CallTracker restarted = new CallTracker(again, new CallMetrics(new SimpleMeterRegistry()), clock, "node-a");
        restarted.start();
        try {
            CallRecord interrupted = records.find(call.id()).orElseThrow();
            assertThat(interrupted.status()).isEqualTo("interrupted");
            assertThat(interrupted.endedBy()).isEqualTo("node");
            assertThat(interrupted.endedAt()).isEqualTo(clock.instant());
            assertThat(records.find(otherNode.id()).orElseThrow().status()).isEqualTo("ringing");
            assertThat(restarted.active()).isEmpty();
        } finally {
            restarted.close();
        }
    }

    @Test
    void stoppingRecordsCallsInProgressAsInterrupted() {
        ActiveCall talking = call("x1");
        tracker.answered(talking, PHONE);
        ActiveCall ringing = call("x2");
        clock.advance(Duration.ofSeconds(30));
        tracker.close();
        assertThat(gauge()).isZero();
        assertThat(tracker.active()).isEmpty();
        for (ActiveCall call : List.of(talking, ringing)) {
            CallRecord record = records.find(call.id()).orElseThrow();
            assertThat(record.status()).isEqualTo("interrupted");
            assertThat(record.endedBy()).isEqualTo("node");
            assertThat(record.endedAt()).isEqualTo(clock.instant());
        }
        assertThat(records.find(talking.id()).orElseThrow().answeredAt()).isNotNull();
    }

    @Test
    void twoCallsMayShareACallId() {
        ActiveCall first = call("same");
        ActiveCall second = call("same");
        assertThat(first.id()).isNotEqualTo(second.id());
        assertThat(tracker.find("same")).containsSame(second);
        tracker.failed(first, 486, "Busy Here");
        assertThat(tracker.find("same")).containsSame(second);
        assertThat(tracker.active()).containsExactly(second);
    }

    @Test
    void aFullStoreQueueDropsRecordsButNeverTheCall() {
        CallRecordStore stalled = new CallRecordStore(store.jdbi(), 1); // never started: nothing drains it
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        CallTracker overloaded = new CallTracker(stalled, new CallMetrics(registry), clock, "node-z");
        ActiveCall a = overloaded.started("o1", "t", ALICE, BOB, null, List.of(PHONE));
        ActiveCall b = overloaded.started("o2", "t", ALICE, BOB, null, List.of(PHONE));
        overloaded.answered(b, PHONE);
        assertThat(overloaded.active()).containsExactlyInAnyOrder(a, b); // same start time: any order
        assertThat(registry.get("switchboard.call.records.dropped").counter().count()).isEqualTo(2);
        stalled.close();
    }
}
