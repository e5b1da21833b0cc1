package io.switchboard.monitor.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.switchboard.monitor.definition.ChannelDefinition;
import io.switchboard.monitor.definition.DefinitionReader;
import io.switchboard.monitor.definition.DefinitionWriter;
import io.switchboard.monitor.definition.MonitorCatalog;
import io.switchboard.monitor.notify.Notification;
import io.switchboard.monitor.notify.NotificationDispatcher;
import io.switchboard.platform.auth.AdminAuth;
import io.switchboard.platform.http.ApiProblem;
import io.switchboard.platform.http.RequestBodies;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * /api/v1/notification-channels, for admins: where notifications go. Secrets (webhook secret, bot
 * token, SMTP password) are shown as {@value DefinitionReader#MASK}; sending that back keeps the
 * stored value. {@code POST .../{name}/test} makes one delivery attempt of a test message now, while
 * the caller waits (no retries: they could keep the request for a minute), and says how it went.
 */
public final class ChannelsApi {
    private static final String BASE = "/api/v1/notification-channels";

    private final MonitorCatalog catalog;
    private final Runnable applyChanges;
    private final NotificationDispatcher dispatcher;
    private final AdminAuth adminAuth;
    private final ObjectMapper json;
    private final Clock clock;

    public ChannelsApi(MonitorCatalog catalog, Runnable applyChanges, NotificationDispatcher dispatcher, AdminAuth adminAuth,
                       ObjectMapper json, Clock clock) {
        this.catalog = catalog;
        this.applyChanges = applyChanges;
        this.dispatcher = dispatcher;
        this.adminAuth = adminAuth;
        this.json = json;
        this.clock = clock;
    }

    public void register(RoutesConfig routes) {
        routes.before(BASE, adminAuth::requireAdmin);
        routes.before(BASE + "/*", adminAuth::requireAdmin);
        routes.get(BASE, ApiSupport.takingNone(ctx -> ctx.json(Map.of("channels", catalog.channels().stream().map(ChannelsApi::view).toList()))));
        routes.post(BASE, ApiSupport.takingNone(this::create));
        routes.get(BASE + "/{name}", ApiSupport.takingNone(ctx -> ctx.json(view(find(ctx.pathParam("name"))))));
        routes.put(BASE + "/{name}", ApiSupport.takingNone(this::put));
        routes.delete(BASE + "/{name}", ApiSupport.takingNone(ctx -> {
            ApiSupport.run(() -> catalog.removeChannel(ctx.pathParam("name")));
            applyChanges.run();
            ctx.status(204);
        }));
        routes.post(BASE + "/{name}/test", ApiSupport.takingNone(this::test));
    }

    private void create(Context ctx) {
        ChannelDefinition channel = ApiSupport.call(() -> DefinitionReader.channel(RequestBodies.object(json, ctx)));
        ChannelDefinition saved = ApiSupport.call(() -> {
            DefinitionReader.requireFilesHere(channel);
            return catalog.createChannel(channel);
        });
        applyChanges.run();
        ctx.status(201).header("Location", BASE + "/" + saved.name()).json(view(saved));
    }

    private void put(Context ctx) {
        String name = ctx.pathParam("name");
        JsonNode body = RequestBodies.object(json, ctx);
        JsonNode given = body.get("name");
        if (given != null && !given.isNull() && !name.equals(given.asText())) {
            throw ApiProblem.badRequest("'name': the body says " + given.asText() + " but the URL says " + name);
        }
        ((ObjectNode) body).put("name", name);
        ChannelDefinition channel = ApiSupport.call(() -> DefinitionReader.channel(body));
        MonitorCatalog.Saved<ChannelDefinition> saved = ApiSupport.call(() -> {
            DefinitionReader.requireFilesHere(channel);
            return catalog.putChannel(channel);
        });
        applyChanges.run();
        if (saved.created()) {
            ctx.status(201).header("Location", BASE + "/" + name);
        }
        ctx.json(view(saved.value()));
    }

    private void test(Context ctx) {
        ChannelDefinition channel = find(ctx.pathParam("name"));
        Notification n = new Notification(Notification.Event.TEST, "test", "test", "-", null, "test", null, 0,
                "Test message from Switchboard", "This is a test of the notification channel " + channel.name()
                + ". If you can read it, the channel works.", clock.instant());
        NotificationDispatcher.Delivery delivery = dispatcher.deliverOnce(n, channel);
        if (!delivery.sent()) {
            throw new ApiProblem(502, "Bad Gateway", "the test message could not be delivered: " + delivery.error());
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("sent", true);
        out.put("attempts", delivery.attempts());
        ctx.json(out);
    }

    private ChannelDefinition find(String name) {
        return catalog.channel(name).orElseThrow(() -> ApiProblem.notFound("no channel " + name));
    }

    static Map<String, Object> view(ChannelDefinition channel) {
        return DefinitionWriter.channel(channel, DefinitionWriter.Secrets.MASK);
    }

    static List<String> names(List<ChannelDefinition> channels) {
        return channels.stream().map(ChannelDefinition::name).toList();
    }
}
