package io.switchboard.chat;

import io.micrometer.core.instrument.FunctionCounter;
import io.switchboard.chat.api.ChatApi;
import io.switchboard.chat.events.ChatEvent;
import io.switchboard.chat.store.ChatMembership;
import io.switchboard.chat.store.ChatStore;
import io.switchboard.chat.store.Message;
import io.switchboard.chat.store.MessageWriter;
import io.switchboard.chat.stream.StreamEndpoint;
import io.switchboard.platform.bus.Bus;
import io.switchboard.platform.config.ConfigSection;
import io.switchboard.platform.lifecycle.Component;
import io.switchboard.platform.lifecycle.NodeContext;
import io.switchboard.platform.lifecycle.NodeModule;
import java.time.Clock;
import java.util.List;

/**
 * The chat module: dialogues and groups between people, with durable history and real-time
 * delivery. Its config block is {@code chat:} (see README, "Chat").
 *
 * <p>The path of a message: {@code POST /api/v1/chats/{id}/messages} → {@link MessageWriter}
 * (group commit, per-chat sequence number) → 201 to the sender → {@link ChatEvent.MessagePosted}
 * on the bus → on every node, the open streams of the chat's members.
 */
public final class Chat implements NodeModule {
    private final Clock clock;
    private volatile StreamEndpoint stream;

    public Chat() {
        this(Clock.systemUTC());
    }

    public Chat(Clock clock) {
        this.clock = clock;
    }

    @Override
    public String name() {
        return "chat";
    }

    @Override
    public void checkConfig(ConfigSection section) {
        ChatSettings.from(section);
    }

    @Override
    public void assemble(NodeContext context) {
        ChatSettings settings = ChatSettings.from(context.section());
        ChatStore store = new ChatStore(context.store().jdbi(), clock);
        ChatMetrics metrics = new ChatMetrics(context.meters());
        ChatMembership membership = new ChatMembership(store, clock);
        Bus bus = context.bus();
        MessageWriter writer = new MessageWriter(context.store().jdbi(), clock, settings.writerQueue(),
                context.store().settings().commitDelay(), committed -> publish(bus, membership, committed));
        FunctionCounter.builder("switchboard.chat.writer.rewritten", writer,
                        MessageWriter::rewrittenBatches)
                .description("Message batches written a second time because a retried send's key was in them").register(context.meters());
        stream = new StreamEndpoint(context.personAuth(), store, context.json(), settings, metrics, clock);
        StreamEndpoint streams = stream;
        bus.subscribe(ChatEvent.TOPIC, ChatEvent.class, event -> {
            if (event instanceof ChatEvent.MembersChanged changed) {
                membership.set(changed.chatId(), changed.chat().members());
            }
            streams.hub().deliver(event);
        });
        // Events lost while the bus was cut off: members are read again, and streams catch up.
        // Once the bus spans nodes, streams also catch up now and then, for events another node
        // never sent (it was cut off from the broker, then died with them queued).
        bus.onReconnected(() -> {
            membership.forgetAll();
            streams.hub().catchUp();
            streams.keepCatchingUp(settings.streamCatchUp());
        });
        ChatApi api = new ChatApi(context.personAuth(), store, membership, writer, bus, settings, metrics, context.json());
        context.addRoutes(routes -> {
            api.register(routes);
            streams.register(routes);
        });
        context.addComponent(Component.of("chat", () -> {
            writer.start();
            streams.start();
        }, () -> {
            streams.stop();
            writer.close();
        }));
        // A listener stops before HTTP does: the streams are closed by the node, with the reason
        // chat.md gives, once new work is refused. Left to the web server, they would be closed
        // with Jetty's "Container being shut down".
        context.addListener(Component.of("chat streams", () -> { }, streams::closeAll));
    }

    private static void publish(Bus bus, ChatMembership membership, List<Message> committed) {
        for (Message message : committed) {
            bus.publish(ChatEvent.TOPIC, new ChatEvent.MessagePosted(message, membership.members(message.chatId())));
        }
    }

    /** Open streams on this node (for tests and the wiring). */
    public int streams() {
        StreamEndpoint current = stream;
        return current == null ? 0 : current.hub().streams();
    }
}
