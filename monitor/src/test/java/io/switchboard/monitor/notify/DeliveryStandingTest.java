package io.switchboard.monitor.notify;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.monitor.MonitorMetrics;
import io.switchboard.monitor.definition.ChannelDefinition;
import io.switchboard.monitor.definition.ChannelType;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node that lost its good standing in the cluster (paused, cut off) stops delivering before the
 * next attempt: another node may be sending the same message by now.
 */
class DeliveryStandingTest {
    @TempDir
    Path dir;
    Store store;

    @AfterEach
    void close() {
        if (store != null) {
            store.close();
        }
    }

    @Test
    void noRetryOnceTheNodeIsOutOfGoodStanding() {
        store = Store.open(StoreSettings.sqliteIn(dir));
        store.migrate("platform");
        store.migrate("monitor");
        AtomicBoolean standing = new AtomicBoolean(true);
        AtomicInteger calls = new AtomicInteger();
        Notifier failingWhilePaused = (channel, n) -> {
            calls.incrementAndGet();
            standing.set(false); // the node was paused during this attempt: its membership expired meanwhile
            throw new DeliveryException("the webhook answered HTTP 503", true);
        };
        NotificationDispatcher dispatcher = new NotificationDispatcher(Map.of(ChannelType.WEBHOOK, failingWhilePaused),
                new DeliveryLog(store.jdbi()), new MonitorMetrics(new SimpleMeterRegistry()), Clock.systemUTC(), 5,
                Duration.ofMillis(10));
        dispatcher.stopWhenOut(standing::get);
        ChannelDefinition hook = new ChannelDefinition("hook", new ChannelDefinition.ChannelSettings.Webhook("http://127.0.0.1:9/hook",
                null, Map.of()));
        Notification down = new Notification(Notification.Event.DOWN, "shop", "tcp", "127.0.0.1:1", 7L, "down", Instant.now(), 3,
                "shop is DOWN", "shop is DOWN.", Instant.now());

        NotificationDispatcher.Delivery delivery = dispatcher.deliver(down, hook);

        assertThat(calls.get()).as("no attempt after the standing was lost").isEqualTo(1);
        assertThat(delivery.sent()).isFalse();
        assertThat(delivery.error()).contains("good standing");
        assertThat(delivery.stopped()).as("stopped by the node, after a call").isTrue();
        assertThat(delivery.attempts()).isEqualTo(1);
        dispatcher.close();
    }

    /**
     * A call interrupted because the node stops may have reached the receiver: it is not made
     * again on the way out, and the delivery says it was stopped after a call (so a claim ends
     * as unknown, not given back).
     */
    @Test
    void aCallInterruptedByTheStopIsNotRetried() throws Exception {
        store = Store.open(StoreSettings.sqliteIn(dir));
        store.migrate("platform");
        store.migrate("monitor");
        AtomicInteger calls = new AtomicInteger();
        java.util.concurrent.CountDownLatch calling = new java.util.concurrent.CountDownLatch(1);
        Notifier hanging = (channel, n) -> {
            calls.incrementAndGet();
            calling.countDown();
            Thread.sleep(60_000); // the receiver hangs: only the interrupt ends this call
        };
        NotificationDispatcher dispatcher = new NotificationDispatcher(Map.of(ChannelType.WEBHOOK, hanging),
                new DeliveryLog(store.jdbi()), new MonitorMetrics(new SimpleMeterRegistry()), Clock.systemUTC(), 5,
                Duration.ofMillis(10));
        ChannelDefinition hook = new ChannelDefinition("hook", new ChannelDefinition.ChannelSettings.Webhook("http://127.0.0.1:9/hook",
                null, Map.of()));
        Notification down = new Notification(Notification.Event.DOWN, "shop", "tcp", "127.0.0.1:1", 7L, "down", Instant.now(), 3,
                "shop is DOWN", "shop is DOWN.", Instant.now());
        java.util.concurrent.CompletableFuture<NotificationDispatcher.Delivery> ended = new java.util.concurrent.CompletableFuture<>();

        dispatcher.dispatch(down, java.util.List.of(hook), (channel, delivery) -> ended.complete(delivery));
        assertThat(calling.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        dispatcher.close(); // waits, then interrupts the call

        NotificationDispatcher.Delivery delivery = ended.get(10, java.util.concurrent.TimeUnit.SECONDS);
        Thread.sleep(200); // room for a retry that must not come
        assertThat(calls.get()).as("the interrupted call is not made again").isEqualTo(1);
        assertThat(delivery.sent()).isFalse();
        assertThat(delivery.stopped()).isTrue();
        assertThat(delivery.attempts()).isEqualTo(1);
    }
}
