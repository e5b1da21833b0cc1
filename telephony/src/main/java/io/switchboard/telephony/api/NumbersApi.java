package io.switchboard.telephony.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.switchboard.platform.auth.AdminAuth;
import io.switchboard.platform.http.ApiProblem;
import io.switchboard.platform.http.RequestBodies;
import io.switchboard.telephony.DirectoryUpdates;
import io.switchboard.telephony.accounts.AccountDirectory;
import io.switchboard.telephony.numbers.NumberEntry;
import io.switchboard.telephony.numbers.NumberException;
import io.switchboard.telephony.numbers.NumberStore;
import io.switchboard.telephony.numbers.RingGroup;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * /api/v1/numbers, for admins: the numbers people dial and the accounts each one rings.
 * Handlers run on virtual threads and use the store directly; this node routes by a change before
 * the answer leaves, other nodes hear of it on the bus ({@link DirectoryUpdates}).
 */
public final class NumbersApi {
    private final NumberStore numbers;
    private final AccountDirectory accounts;
    private final AdminAuth adminAuth;
    private final ObjectMapper json;
    private final String defaultDomain;
    private final DirectoryUpdates updates;

    public NumbersApi(NumberStore numbers, AccountDirectory accounts, AdminAuth adminAuth, ObjectMapper json,
                      String defaultDomain, DirectoryUpdates updates) {
        this.numbers = numbers;
        this.updates = updates;
        this.accounts = accounts;
        this.adminAuth = adminAuth;
        this.json = json;
        this.defaultDomain = defaultDomain;
    }

    public void register(RoutesConfig routes) {
        routes.before("/api/v1/numbers", adminAuth::requireAdmin);
        routes.before("/api/v1/numbers/*", adminAuth::requireAdmin);
        routes.get("/api/v1/numbers", this::list);
        routes.get("/api/v1/numbers/{number}", this::get);
        routes.put("/api/v1/numbers/{number}", this::put);
        routes.delete("/api/v1/numbers/{number}", this::remove);
    }

    private void list(Context ctx) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (NumberEntry entry : numbers.list()) {
            out.add(view(entry));
        }
        ctx.json(Map.of("numbers", out));
    }

    private void get(Context ctx) {
        String number = ctx.pathParam("number");
        String domain = domain(ctx.queryParam("domain"));
        NumberEntry entry = call(() -> numbers.find(number, domain)
                .orElseThrow(() -> new NumberException(NumberException.Kind.NOT_FOUND, "number",
                        "no number " + number + "@" + domain)));
        ctx.json(view(entry));
    }

    /** Creates the number or replaces its accounts: 201 or 200, with the number as stored. */
    private void put(Context ctx) {
        String number = ctx.pathParam("number");
        JsonNode body = body(ctx);
        // what a GET shows besides the definition is passed over, so a number read, changed and
        // PUT back works; its own name must be the URL's
        JsonNode named = body.get("number");
        if (named != null && !named.isNull() && !named.asText().equals(number)) {
            throw ApiProblem.badRequest("'number': the body says " + named.asText() + " but the URL says " + number);
        }
        ((com.fasterxml.jackson.databind.node.ObjectNode) body).remove(List.of("number", "address", "createdAt", "updatedAt"));
        RequestBodies.requireOnly(body, java.util.Set.of("accounts", "label", "domain"));
        List<String> members = usernames(body);
        String label = text(body, "label");
        String given = text(body, "domain");
        String domain = given != null ? servedDomain(given) : domain(ctx.queryParam("domain"));
        NumberStore.Saved saved = call(() -> numbers.put(number, domain, label, members));
        updates.numbersChanged();
        RingGroup group = saved.entry().group();
        if (saved.created()) {
            String path = "/api/v1/numbers/" + URLEncoder.encode(group.number(), StandardCharsets.UTF_8);
            ctx.status(201).header("Location", group.domain().equals(defaultDomain) ? path : path + "?domain=" + group.domain());
        }
        ctx.json(view(saved.entry()));
    }

    private void remove(Context ctx) {
        String number = ctx.pathParam("number");
        String domain = domain(ctx.queryParam("domain"));
        call(() -> {
            numbers.remove(number, domain);
            return null;
        });
        updates.numbersChanged();
        ctx.status(204);
    }

    private String domain(String given) {
        return given == null || given.isBlank() ? defaultDomain : given;
    }

    /**
     * A domain named in a body must be one the node serves (it has accounts there); the directory
     * may lag a write by a poll interval, so it is asked again before saying no.
     */
    private String servedDomain(String given) {
        String domain = call(() -> NumberStore.validDomain(given));
        if (!accounts.domainFor(domain).equals(domain)) {
            accounts.refresh();
            if (!accounts.domainFor(domain).equals(domain)) {
                throw unprocessable("'domain': " + domain + " is not served here (it has no accounts)");
            }
        }
        return domain;
    }

    private JsonNode body(Context ctx) {
        return RequestBodies.object(json, ctx);
    }

    private static List<String> usernames(JsonNode body) {
        JsonNode value = body.get("accounts");
        if (value == null || value.isNull()) {
            throw ApiProblem.badRequest("'accounts' is required: the usernames the number rings, e.g. [\"alice\",\"bob\"].");
        }
        if (!value.isArray() || value.isEmpty()) {
            throw ApiProblem.badRequest("'accounts' must be a non-empty array of usernames.");
        }
        List<String> usernames = new ArrayList<>();
        for (JsonNode item : value) {
            if (!item.isTextual()) {
                throw ApiProblem.badRequest("'accounts' must hold only strings (usernames).");
            }
            usernames.add(item.asText());
        }
        return usernames;
    }

    private static String text(JsonNode body, String field) {
        return RequestBodies.optionalText(body, field);
    }

    private static <T> T call(Supplier<T> action) {
        try {
            return action.get();
        } catch (NumberException e) {
            String detail = "'" + e.field() + "': " + e.getMessage();
            throw switch (e.kind()) {
                case INVALID -> ApiProblem.badRequest(detail);
                case UNKNOWN_ACCOUNT -> unprocessable(detail);
                case CONFLICT -> ApiProblem.conflict(detail);
                case NOT_FOUND -> ApiProblem.notFound(e.getMessage());
            };
        }
    }

    /** RFC 9110 §15.5.21: well-formed, but naming things that do not exist. */
    private static ApiProblem unprocessable(String detail) {
        return new ApiProblem(422, "Unprocessable Content", detail);
    }

    private static Map<String, Object> view(NumberEntry entry) {
        RingGroup group = entry.group();
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("number", group.number());
        v.put("domain", group.domain());
        v.put("address", group.uri());
        v.put("label", group.label());
        v.put("accounts", group.members());
        v.put("createdAt", entry.createdAt().toString());
        v.put("updatedAt", entry.updatedAt().toString());
        return v;
    }
}
