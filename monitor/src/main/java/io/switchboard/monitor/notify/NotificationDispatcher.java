package io.switchboard.monitor.notify;

import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.core.functions.CheckedSupplier;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.switchboard.monitor.MonitorMetrics;
import io.switchboard.monitor.definition.ChannelDefinition;
import io.switchboard.monitor.definition.ChannelDefinition.ChannelSettings;
import io.switchboard.monitor.definition.ChannelType;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers notifications. Each channel has its own lane — one virtual thread draining a bounded
 * queue — so messages to a channel keep their order (a recovery never overtakes its DOWN), while a
 * channel that hangs or fails only delays itself: checks and other channels never wait for it.
 * A delivery is retried with exponential backoff by a resilience4j {@link Retry} as long as the
 * failure may pass; every attempt, sent or failed, is written to the {@link DeliveryLog} with the
 * error in words, scrubbed of the channel's secrets.
 */
public final class NotificationDispatcher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NotificationDispatcher.class);
    private static final int LANE_QUEUE = 1000;

    /** How a delivery ended, after every attempt. */
    public record Delivery(boolean sent, int attempts, String error) {
    }

    private final Map<ChannelType, Notifier> notifiers;
    private final DeliveryLog deliveries;
    private final MonitorMetrics metrics;
    private final Clock clock;
    private final RetryConfig retryConfig;
    private final Map<String, ThreadPoolExecutor> lanes = new ConcurrentHashMap<>();
    private volatile boolean closed;

    public NotificationDispatcher(Map<ChannelType, Notifier> notifiers, DeliveryLog deliveries, MonitorMetrics metrics,
                                  Clock clock, int attempts, Duration backoff) {
        this.notifiers = Map.copyOf(notifiers);
        this.deliveries = deliveries;
        this.metrics = metrics;
        this.clock = clock;
        this.retryConfig = RetryConfig.custom()
                .maxAttempts(attempts)
                .intervalFunction(IntervalFunction.ofExponentialBackoff(backoff, 2.0))
                .retryOnException(e -> !(e instanceof DeliveryException d) || d.retryable())
                .failAfterMaxAttempts(false)
                .build();
    }

    /**
     * Queues the notification on each channel's lane and returns at once; {@code done} is called on
     * the lane's thread when a channel's delivery has ended.
     */
    public void dispatch(Notification n, List<ChannelDefinition> channels, BiConsumer<ChannelDefinition, Delivery> done) {
        for (ChannelDefinition channel : channels) {
            ThreadPoolExecutor lane = lanes.computeIfAbsent(channel.name(), this::newLane);
            try {
                lane.execute(() -> {
                    Delivery delivery = deliver(n, channel);
                    try {
                        done.accept(channel, delivery);
                    } catch (RuntimeException e) {
                        log.warn("recording the delivery to {} failed: {}", channel.name(), e.toString());
                    }
                });
            } catch (RejectedExecutionException e) {
                String why = closed ? "the node is stopping" : "the channel's queue is full (" + LANE_QUEUE + " waiting)";
                record(n, channel, 0, "dropped", why, 0);
                metrics.notification(channel.name(), channel.type().wireName(), false);
                done.accept(channel, new Delivery(false, 0, why));
            }
        }
    }

    /** Records, for each channel, that the notification was held back and why (e.g. a maintenance window). */
    public void suppress(Notification n, List<ChannelDefinition> channels, String why) {
        for (ChannelDefinition channel : channels) {
            record(n, channel, 0, "suppressed", why, 0);
        }
    }

    /** Delivers on the calling thread with retries (the API's test message); records every attempt. */
    public Delivery deliver(Notification n, ChannelDefinition channel) {
        Notifier notifier = notifiers.get(channel.type());
        AtomicInteger attempt = new AtomicInteger();
        String[] lastError = {null};
        CheckedSupplier<Boolean> once = () -> {
            int number = attempt.incrementAndGet();
            long begin = System.nanoTime();
            try {
                notifier.send(channel, n);
                record(n, channel, number, "sent", null, (System.nanoTime() - begin) / 1_000_000);
                return true;
            } catch (DeliveryException e) {
                lastError[0] = scrub(e.getMessage(), channel);
                record(n, channel, number, "failed", lastError[0], (System.nanoTime() - begin) / 1_000_000);
                throw e;
            } catch (RuntimeException e) {
                lastError[0] = scrub(e.toString(), channel);
                record(n, channel, number, "failed", lastError[0], (System.nanoTime() - begin) / 1_000_000);
                throw new DeliveryException(lastError[0], true);
            }
        };
        Retry retry = Retry.of("notify-" + channel.name(), retryConfig);
        boolean sent;
        try {
            sent = Retry.decorateCheckedSupplier(retry, once).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            sent = false;
            lastError[0] = "interrupted: the node is stopping";
        } catch (Throwable e) {
            sent = false;
        }
        metrics.notification(channel.name(), channel.type().wireName(), sent);
        if (!sent) {
            log.warn("notification {} for {} to channel {} failed after {} attempt(s): {}", n.event().wireName(), n.monitor(),
                    channel.name(), attempt.get(), lastError[0]);
        }
        return new Delivery(sent, attempt.get(), sent ? null : lastError[0]);
    }

    private void record(Notification n, ChannelDefinition channel, int attempt, String outcome, String error, long millis) {
        try {
            deliveries.record(new DeliveryLog.Attempt(clock.instant(), n.incidentId(), n.monitor(), channel.name(),
                    channel.type().wireName(), n.event().wireName(), attempt, outcome, error, millis));
        } catch (RuntimeException e) {
            log.warn("could not record a delivery attempt to {}: {}", channel.name(), e.toString());
        }
    }

    /** Replaces the channel's secrets by *** in a message, whatever produced it. */
    static String scrub(String message, ChannelDefinition channel) {
        if (message == null) {
            return null;
        }
        List<String> secrets = new ArrayList<>();
        switch (channel.settings()) {
            case ChannelSettings.Webhook w -> secrets.add(w.secret());
            case ChannelSettings.Telegram t -> secrets.add(t.botToken());
            case ChannelSettings.Email e -> secrets.add(e.password());
        }
        String out = message;
        for (String secret : secrets) {
            if (secret != null && secret.length() >= 3) {
                out = out.replace(secret, "***");
            }
        }
        return out;
    }

    private ThreadPoolExecutor newLane(String channel) {
        ThreadPoolExecutor lane = new ThreadPoolExecutor(1, 1, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(LANE_QUEUE),
                Thread.ofVirtual().name("notify-" + channel).factory());
        lane.allowCoreThreadTimeOut(true);
        return lane;
    }

    /** Refuses new deliveries; those under way get a few seconds, then are interrupted. */
    @Override
    public void close() {
        closed = true;
        lanes.values().forEach(ThreadPoolExecutor::shutdown);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        for (ThreadPoolExecutor lane : lanes.values()) {
            try {
                if (!lane.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                    lane.shutdownNow();
                }
            } catch (InterruptedException e) {
                lane.shutdownNow();
                Thread.currentThread().interrupt();
            }
        }
    }
}
