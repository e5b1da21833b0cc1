package io.switchboard.platform.bus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * What every bus promises (see {@link Bus}): subscribers on any node get every event of their
 * topic in the order one publisher published it; a failing handler harms no other; a closed
 * subscription stops; an event of another type than the subscriber asked for is not delivered.
 * Subclasses give a publishing bus and a receiving one (the same for an in-process bus, another
 * node for a bus between nodes).
 */
abstract class BusContract {
    record Said(String text, int n) {
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
}
