package io.switchboard.monitor.notify;

import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.core.functions.CheckedSupplier;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.switchboard.monitor.MonitorMetrics;
import io.switchboard.monitor.concurrent.KeyedLanes;
import io.switchboard.monitor.definition.ChannelDefinition;
import io.switchboard.monitor.definition.ChannelDefinition.ChannelSettings;
import io.switchboard.monitor.definition.ChannelType;
import io.switchboard.monitor.definition.Redaction;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.EnumMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers notifications. Each channel has its own lane ({@link KeyedLanes}: one virtual thread
 * draining a bounded queue) so messages to a channel keep their order (a recovery never overtakes
 * its DOWN), while a channel that hangs or fails only delays itself: checks and other channels
 * never wait for it. A delivery is retried with exponential backoff by a resilience4j
 * {@link Retry} as long as the failure may pass; every attempt, sent or failed, is written to the
 * {@link DeliveryLog} with the error in words, scrubbed of the channel's secrets.
 *
 * <p><b>Mass outages.</b> When many monitors change at once (a network or a shared dependency
 * fails), messages pile up behind a channel's slow deliveries. When the lane finds
 * {@value #DIGEST_FROM} or more waiting, it sends them as one digest (up to {@value #DIGEST_MAX}
 * per message: each with its subject, and the structured list for webhooks) instead of one message
 * each, and each message the digest stands for is recorded as delivered in it. A lane holds up to
 * {@value #LANE_CAPACITY} messages; beyond that a message is refused, and that is recorded (outcome
 * {@code dropped}, on the incident's timeline, in the failed-notifications meter and the log),
 * never silent.
 */
public final class NotificationDispatcher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NotificationDispatcher.class);
    static final int LANE_CAPACITY = 10_000;
    static final int DIGEST_FROM = 10;
    static final int DIGEST_MAX = 200;
    private static final int DIGEST_LINES = 50;

    /**
     * How a delivery ended, after every attempt.
     *
     * @param digestOf       how many messages the digest that carried it held; 0 when it went alone
     * @param notTaken       the message was not this node's to send when its turn came (see {@link #dispatch}): nothing was tried
     * @param stopped        ended not by the channel but by this node, before an attempt (it lost its standing in the
     *                       cluster, or it is stopping), during the wait between two, or by interrupting a call; with
     *                       {@code attempts} 0 the channel was never called
     * @param mayHaveArrived some attempt ended in a way that may leave the channel holding the message (a timeout, an
     *                       interrupted call); false when every attempt was refused ({@link DeliveryException#refused})
     */
    public record Delivery(boolean sent, int attempts, String error, int digestOf, boolean notTaken, boolean stopped,
                           boolean mayHaveArrived) {
        public Delivery(boolean sent, int attempts, String error, int digestOf) {
            this(sent, attempts, error, digestOf, false, false, true);
        }

        public Delivery(boolean sent, int attempts, String error) {
            this(sent, attempts, error, 0, false, false, true);
        }

        static final Delivery NOT_TAKEN = new Delivery(false, 0, null, 0, true, false, false);
    }

    /**
     * Decides on the channel's lane, right before the channel is called, whether this node sends
     * a message and as what (in a cluster: the claim is taken then, and says whether the message
     * is a possible repeat).
     */
    @FunctionalInterface
    public interface Take {
        /** @return the message to send, or null when this node must not send it */
        Notification take(ChannelDefinition channel, Notification queued);
    }

    private record Pending(Notification notification, ChannelDefinition channel, Take take,
                           BiConsumer<ChannelDefinition, Delivery> done) {
    }

    private static final Take ALWAYS = (channel, queued) -> queued;

    private final Map<ChannelType, Notifier> notifiers;
    private final DeliveryLog deliveries;
    private final MonitorMetrics metrics;
    private final Clock clock;
    private final RetryConfig retryConfig;
    private final KeyedLanes<Pending> lanes;
    private volatile boolean closed;
    /** Whether this node may still deliver queued messages (in a cluster: it is in good standing). */
    private volatile java.util.function.BooleanSupplier standing = () -> true;

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
        this.lanes = new KeyedLanes<>("notify", LANE_CAPACITY, DIGEST_MAX, (channel, batch) -> drain(batch));
    }

    /**
     * Queues the notification on each channel's lane and returns at once; {@code done} is called on
     * the lane's thread when a channel's delivery has ended (at once, with outcome not sent, when
     * the lane refused it).
     */
    public void dispatch(Notification n, List<ChannelDefinition> channels, BiConsumer<ChannelDefinition, Delivery> done) {
        dispatch(n, channels, ALWAYS, done);
    }

    /**
     * As {@link #dispatch(Notification, List, BiConsumer)}, but each message is sent only if
     * {@code take} says so on the lane, right before the channel would be called, and as what it
     * returns (in a cluster: the claim is taken under the monitor's lease then, not when the
     * message was queued, so a message queued before the monitor moved to another node is left
     * to that node). A message not taken is neither tried nor recorded; {@code done} gets
     * {@link Delivery#notTaken()}.
     */
    public void dispatch(Notification n, List<ChannelDefinition> channels, Take take,
                         BiConsumer<ChannelDefinition, Delivery> done) {
        for (ChannelDefinition channel : channels) {
            if (lanes.submit(channel.name(), new Pending(n, channel, take, done))) {
                continue;
            }
            String why = closed ? "the node is stopping" : "the channel's queue is full (" + LANE_CAPACITY + " waiting)";
            log.warn("notification {} for {} to channel {} dropped: {}", n.event().wireName(), n.monitor(), channel.name(), why);
            record(n, channel, 0, "dropped", why, 0);
            metrics.notification(channel.name(), channel.type().wireName(), false);
            try {
                // a claimed message was not taken: its claim stays pending for the sweep (or the next holder)
                done.accept(channel, take == ALWAYS ? new Delivery(false, 0, why) : Delivery.NOT_TAKEN);
            } catch (RuntimeException e) {
                log.warn("recording the dropped delivery to {} failed: {}", channel.name(), e.toString());
            }
        }
    }

    /**
     * Checked before each attempt of a queued message, retries included: a node that lost its good
     * standing in the cluster (paused, or cut off from the store longer than the expiry) stops
     * there, since another node may be sending the same message by now. The attempt ends as not
     * sent, without calling the channel.
     */
    public void stopWhenOut(java.util.function.BooleanSupplier inGoodStanding) {
        this.standing = inGoodStanding;
    }

    /** Messages waiting on the channels' lanes (not those being sent). */
    public int waiting() {
        return lanes.waiting();
    }

    /** What a lane found waiting: one by one when few, as digests when many. */
    private void drain(List<Pending> waiting) {
        List<Pending> batch = new ArrayList<>(waiting.size());
        for (Pending p : waiting) {
            if (closed && p.take() != ALWAYS) {
                // stopping: a claimed message is not taken only to be given back (two writes, and a
                // claim left "being sent" if the node dies between them); it stays pending
                finish(p, Delivery.NOT_TAKEN);
                continue;
            }
            Notification taken;
            try {
                taken = p.take().take(p.channel(), p.notification());
            } catch (RuntimeException e) {
                log.warn("taking notification {} for {} to channel {} failed (not sent now): {}", p.notification().event().wireName(),
                        p.notification().monitor(), p.channel().name(), e.toString());
                taken = null;
            }
            if (taken != null) {
                batch.add(taken == p.notification() ? p : new Pending(taken, p.channel(), p.take(), p.done()));
            } else {
                finish(p, Delivery.NOT_TAKEN);
            }
        }
        if (batch.isEmpty()) {
            return;
        }
        if (batch.size() < DIGEST_FROM) {
            for (Pending p : batch) {
                finish(p, deliver(p.notification(), p.channel(), List.of(p.notification()), true, p.take() != ALWAYS));
            }
            return;
        }
        ChannelDefinition channel = batch.getFirst().channel();
        List<Notification> items = batch.stream().map(Pending::notification).toList();
        Notification digest = digest(items, clock.instant());
        Delivery delivery = deliver(digest, channel, items, true, batch.stream().anyMatch(p -> p.take() != ALWAYS));
        Delivery each = new Delivery(delivery.sent(), delivery.attempts(), delivery.error(), items.size(), false, delivery.stopped(),
                delivery.mayHaveArrived());
        for (Pending p : batch) {
            finish(p, each);
        }
    }

    private static void finish(Pending p, Delivery delivery) {
        try {
            p.done().accept(p.channel(), delivery);
        } catch (RuntimeException e) {
            log.warn("recording the delivery to {} failed: {}", p.channel().name(), e.toString());
        }
    }

    /** One message standing for many: a line per message (the first {@value #DIGEST_LINES}), oldest first. */
    static Notification digest(List<Notification> items, Instant at) {
        Map<Notification.Event, Integer> counts = new EnumMap<>(Notification.Event.class);
        items.forEach(n -> counts.merge(n.event(), 1, Integer::sum));
        List<String> parts = new ArrayList<>();
        counts.forEach((event, count) -> parts.add(count + " " + switch (event) {
            case DOWN -> "DOWN";
            case RECOVERED -> "UP again";
            case REMINDER -> "still DOWN";
            case WARNING -> "need attention";
            case WARNING_ENDED -> "no longer need attention";
            case DIGEST, TEST -> event.wireName();
        }));
        String subject = items.size() + " monitor messages at once: " + String.join(", ", parts);
        List<String> lines = new ArrayList<>();
        lines.add("Many monitors changed at the same time, so their messages come together, oldest first.");
        for (int i = 0; i < Math.min(items.size(), DIGEST_LINES); i++) {
            lines.add("- " + items.get(i).subject());
        }
        if (items.size() > DIGEST_LINES) {
            lines.add("… and " + (items.size() - DIGEST_LINES) + " more; every incident is listed at /api/v1/incidents.");
        }
        return new Notification(Notification.Event.DIGEST, null, null, null, null, null, items.getFirst().at(), 0, subject,
                String.join("\n", lines), at, items);
    }

    /** Records, for each channel, that the notification was held back and why (e.g. a maintenance window). */
    public void suppress(Notification n, List<ChannelDefinition> channels, String why) {
        for (ChannelDefinition channel : channels) {
            record(n, channel, 0, "suppressed", why, 0);
        }
    }

    /** One attempt on the calling thread, recorded, no retry: the API's test message, answered while the caller waits. */
    public Delivery deliverOnce(Notification n, ChannelDefinition channel) {
        return deliver(n, channel, List.of(n), false, false);
    }

    /** Delivers on the calling thread with retries; records every attempt. */
    public Delivery deliver(Notification n, ChannelDefinition channel) {
        return deliver(n, channel, List.of(n), true, false);
    }

    /**
     * @param recordAs     the messages each attempt is recorded for: the notification itself, or a digest's items
     * @param handedBack   claimed messages: once the node is stopping no attempt is made, so the claim goes back to
     *                     the next holder uncalled (a single node sends what it has within the grace time instead)
     */
    private Delivery deliver(Notification n, ChannelDefinition channel, List<Notification> recordAs, boolean retry,
                             boolean handedBack) {
        Notifier notifier = notifiers.get(channel.type());
        AtomicInteger attempt = new AtomicInteger();
        String[] lastError = {null};
        boolean[] stopped = {false};
        boolean[] mayHaveArrived = {false};
        CheckedSupplier<Boolean> once = () -> {
            if (retry && !standing.getAsBoolean()) {
                lastError[0] = "not sent from here: this node is no longer in good standing in the cluster";
                stopped[0] = true;
                throw new DeliveryException(lastError[0], false);
            }
            // a stopping node makes no further attempt on a claimed message (the first one included):
            // what it has not called yet goes back to the next holder; and no node repeats a call it
            // interrupted on the way out
            if (retry && ((handedBack && closed) || Thread.currentThread().isInterrupted())) {
                lastError[0] = "not sent from here: the node is stopping";
                stopped[0] = true;
                throw new DeliveryException(lastError[0], false);
            }
            int number = attempt.incrementAndGet();
            long begin = System.nanoTime();
            try {
                notifier.send(channel, n);
                record(recordAs, channel, number, "sent", null, (System.nanoTime() - begin) / 1_000_000);
                return true;
            } catch (DeliveryException e) {
                mayHaveArrived[0] |= !e.refused();
                lastError[0] = scrub(e.getMessage(), channel);
                record(recordAs, channel, number, "failed", lastError[0], (System.nanoTime() - begin) / 1_000_000);
                throw e;
            } catch (InterruptedException e) {
                // the node is stopping and cut the call short: whether the channel took the message
                // is not known, and it is not tried again
                Thread.currentThread().interrupt();
                lastError[0] = "interrupted: the node is stopping";
                stopped[0] = true;
                mayHaveArrived[0] = true;
                record(recordAs, channel, number, "failed", lastError[0], (System.nanoTime() - begin) / 1_000_000);
                throw new DeliveryException(lastError[0], false);
            } catch (RuntimeException e) {
                mayHaveArrived[0] = true;
                lastError[0] = scrub(e.toString(), channel);
                record(recordAs, channel, number, "failed", lastError[0], (System.nanoTime() - begin) / 1_000_000);
                // interrupted (the node is stopping): not retried
                boolean interrupted = Thread.currentThread().isInterrupted();
                stopped[0] |= interrupted;
                throw new DeliveryException(lastError[0], !interrupted);
            }
        };
        boolean sent;
        try {
            sent = retry ? Retry.decorateCheckedSupplier(Retry.of("notify-" + channel.name(), retryConfig), once).get() : once.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            sent = false;
            stopped[0] = true;
            lastError[0] = "interrupted: the node is stopping";
        } catch (Throwable e) {
            sent = false;
            // a stop during the wait between attempts: the retry rethrows the last failure with the
            // thread interrupted; a stopping node made no further attempt on a claimed message
            if (Thread.currentThread().isInterrupted() || (handedBack && closed)) {
                stopped[0] = true;
            }
        }
        if (n.event() == Notification.Event.TEST) {
            metrics.notificationTest(channel.name(), channel.type().wireName(), sent);
        } else {
            for (int i = 0; i < recordAs.size(); i++) {
                metrics.notification(channel.name(), channel.type().wireName(), sent);
            }
        }
        if (!sent) {
            log.warn("notification {} for {} to channel {} failed after {} attempt(s): {}", n.event().wireName(),
                    n.monitor() == null ? recordAs.size() + " monitors" : n.monitor(), channel.name(), attempt.get(), lastError[0]);
        }
        return new Delivery(sent, attempt.get(), sent ? null : lastError[0], 0, false, !sent && stopped[0], mayHaveArrived[0]);
    }

    private void record(Notification n, ChannelDefinition channel, int attempt, String outcome, String error, long millis) {
        record(List.of(n), channel, attempt, outcome, error, millis);
    }

    /** One row per message (a digest's attempt is recorded for every message in it, so each incident shows it). */
    private void record(List<Notification> messages, ChannelDefinition channel, int attempt, String outcome, String error,
                        long millis) {
        Instant at = clock.instant();
        try {
            // a channel test belongs to no monitor: recorded under none, not under a monitor that may be named "test"
            deliveries.record(messages.stream().map(n -> new DeliveryLog.Attempt(at, n.incidentId(),
                    n.event() == Notification.Event.TEST ? null : n.monitor(), channel.name(),
                    channel.type().wireName(), n.event().wireName(), attempt, outcome, error, millis)).toList());
        } catch (RuntimeException e) {
            log.warn("could not record a delivery attempt to {}: {}", channel.name(), e.toString());
        }
    }

    /**
     * Replaces the channel's secrets in a message, whatever produced it: the webhook secret, bot
     * token or SMTP password, credential header values, and a webhook URL (whose path may be the
     * credential) by its masked form.
     */
    static String scrub(String message, ChannelDefinition channel) {
        if (message == null) {
            return null;
        }
        List<String> secrets = new ArrayList<>();
        String out = message;
        switch (channel.settings()) {
            case ChannelSettings.Webhook w -> {
                out = out.replace(w.url(), Redaction.url(w.url()));
                secrets.add(w.secret());
                w.headers().forEach((name, value) -> {
                    if (Redaction.isCredentialHeader(name)) {
                        secrets.add(value);
                    }
                });
            }
            case ChannelSettings.Telegram t -> secrets.add(t.botToken());
            case ChannelSettings.Email e -> secrets.add(e.password());
        }
        return Redaction.scrub(out, secrets);
    }

    /** Refuses new deliveries; those under way get a few seconds, then are interrupted. */
    @Override
    public void close() {
        closed = true;
        lanes.close(5, TimeUnit.SECONDS);
    }
}
