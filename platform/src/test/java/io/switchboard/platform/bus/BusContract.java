package io.switchboard.platform.bus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * What every bus promises (see {@link Bus}): subscribers on any node get every event of their
 * topic in the order one publisher published it; a failing handler harms no other; a closed
 * subscription stops; an event of another type than the subscriber asked for is not delivered;
 * a request gets its own responder's answer, or fails cleanly within its timeout.
 * Subclasses give a publishing bus and a receiving one (the same for an in-process bus, another
 * node for a bus between nodes).
 */
abstract class BusContract {
    record Said(String text, int n) {
    }

    record Question(int n) {
    }

    record Answer(int n, String by) {
    }

    /** The bus events are published on. */
    abstract Bus publisher();

    /** A bus subscribed to by the tests: the publisher itself, or another node. Subscriptions take effect before events flow. */
    abstract Bus receiver();

    /** Called after the tests subscribed, before they publish (a bus between nodes connects here). */
    void ready() {
    }

    @Test
    void everySubscriberGetsEveryEventInOrderAndAFailingOneHarmsNoOther() {
        List<Integer> first = new CopyOnWriteArrayList<>();
        List<Integer> second = new CopyOnWriteArrayList<>();
        receiver().subscribe("talk", Said.class, said -> first.add(said.n()));
        receiver().subscribe("talk", Said.class, said -> {
            throw new IllegalStateException("broken handler");
        });
        receiver().subscribe("talk", Said.class, said -> second.add(said.n()));
        ready();
        for (int i = 0; i < 100; i++) {
            publisher().publish("talk", new Said("hello", i));
        }
        publisher().publish("another topic", new Said("not for them", -1));
        List<Integer> expected = IntStream.range(0, 100).boxed().toList();
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            assertThat(first).containsExactlyElementsOf(expected);
            assertThat(second).containsExactlyElementsOf(expected);
        });
    }

    @Test
    void aClosedSubscriptionStopsAndAWrongTypeIsNotDelivered() {
        List<Integer> kept = new CopyOnWriteArrayList<>();
        List<Integer> closed = new CopyOnWriteArrayList<>();
        receiver().subscribe("talk", Said.class, said -> kept.add(said.n()));
        Bus.Subscription subscription = receiver().subscribe("talk", Said.class, said -> closed.add(said.n()));
        ready();
        subscription.close();
        publisher().publish("talk", "a plain string, not a Said");
        publisher().publish("talk", new Said("after", 1));
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(kept).containsExactly(1));
        assertThat(closed).isEmpty();
    }

    @Test
    void everyRequestGetsItsOwnAnswer() throws Exception {
        receiver().respond("double", Question.class, q -> new Answer(q.n() * 2, "receiver"));
        ready();
        List<CompletableFuture<Answer>> answers = IntStream.range(0, 200)
                .mapToObj(i -> publisher().request("double", new Question(i), Answer.class, Duration.ofSeconds(20))).toList();
        for (int i = 0; i < answers.size(); i++) {
            assertThat(answers.get(i).get(30, TimeUnit.SECONDS)).isEqualTo(new Answer(i * 2, "receiver"));
        }
    }

    @Test
    void aRequestNobodyAnswersTimesOutOnTime() {
        receiver().respond("answered", Question.class, q -> new Answer(q.n(), "receiver"));
        ready();
        long start = System.nanoTime();
        CompletableFuture<Answer> unanswered = publisher().request("nobody listens", new Question(1), Answer.class, Duration.ofMillis(300));
        assertThatThrownBy(() -> unanswered.get(10, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(TimeoutException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(250), Duration.ofSeconds(5));
    }

    @Test
    void aFailingResponderFailsTheRequestWithItsReasonAndASlowOneTimesOut() {
        receiver().respond("fails", Question.class, q -> {
            throw new IllegalStateException("no such flow " + q.n());
        });
        receiver().respond("slow", Question.class, q -> {
            try {
                Thread.sleep(3000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return new Answer(q.n(), "too late");
        });
        ready();
        assertThatThrownBy(() -> publisher().request("fails", new Question(7), Answer.class, Duration.ofSeconds(10)).get(20, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class).cause()
                .isInstanceOf(BusRequestException.class).hasMessageContaining("no such flow 7");
        assertThatThrownBy(() -> publisher().request("slow", new Question(8), Answer.class, Duration.ofMillis(300)).get(10, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(TimeoutException.class);
    }

    @Test
    void aClosedResponderAnswersNoMore() throws Exception {
        Bus.Subscription responder = receiver().respond("ask", Question.class, q -> new Answer(q.n(), "receiver"));
        ready();
        assertThat(publisher().request("ask", new Question(1), Answer.class, Duration.ofSeconds(10)).get(20, TimeUnit.SECONDS))
                .isEqualTo(new Answer(1, "receiver"));
        responder.close();
        assertThatThrownBy(() -> publisher().request("ask", new Question(2), Answer.class, Duration.ofMillis(500)).get(10, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(TimeoutException.class);
    }

    @Test
    void aRequestNeedsAPositiveTimeout() {
        ready();
        assertThatThrownBy(() -> publisher().request("ask", new Question(1), Answer.class, Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
