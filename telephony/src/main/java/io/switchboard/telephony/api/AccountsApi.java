package io.switchboard.telephony.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.switchboard.platform.auth.AdminAuth;
import io.switchboard.platform.config.HostPort;
import io.switchboard.platform.http.ApiProblem;
import io.switchboard.platform.http.RequestBodies;
import io.switchboard.telephony.DirectoryUpdates;
import io.switchboard.telephony.accounts.Account;
import io.switchboard.telephony.accounts.AccountException;
import io.switchboard.telephony.accounts.AccountStore;
import io.switchboard.telephony.accounts.DigestAlgorithm;
import io.switchboard.telephony.registrar.Binding;
import io.switchboard.telephony.registrar.LocationService;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * /api/v1/accounts (device accounts) and /api/v1/registrations (who is online), for admins.
 * Handlers run on virtual threads and may use the store directly. A change is in force on this node
 * before the answer leaves (a new account registers at once; a removed one's registrations and
 * ringing calls are gone), and announced to the other nodes ({@link DirectoryUpdates}).
 */
public final class AccountsApi {
    private final AccountStore accounts;
    private final LocationService location;
    private final AdminAuth adminAuth;
    private final ObjectMapper json;
    private final String defaultDomain;
    private final Clock clock;
    private final DirectoryUpdates updates;
    /** Whether a binding's connection is open, as this node can tell ({@link #connected}). */
    private final java.util.function.Function<Binding, Boolean> connected;

    public AccountsApi(AccountStore accounts, LocationService location, AdminAuth adminAuth, ObjectMapper json,
                       String defaultDomain, Clock clock, DirectoryUpdates updates) {
        this(accounts, location, adminAuth, json, defaultDomain, clock, updates, b -> null);
    }

    /** @param connected whether a binding's connection is open: true, false, or null when unknown here */
    public AccountsApi(AccountStore accounts, LocationService location, AdminAuth adminAuth, ObjectMapper json,
                       String defaultDomain, Clock clock, DirectoryUpdates updates,
                       java.util.function.Function<Binding, Boolean> connected) {
        this.connected = connected;
        this.accounts = accounts;
        this.updates = updates;
        this.location = location;
        this.adminAuth = adminAuth;
        this.json = json;
        this.defaultDomain = defaultDomain;
        this.clock = clock;
    }

    public void register(RoutesConfig routes) {
        routes.before("/api/v1/accounts", adminAuth::requireAdmin);
        routes.before("/api/v1/accounts/*", adminAuth::requireAdmin);
        routes.before("/api/v1/registrations", adminAuth::requireAdmin);
        routes.get("/api/v1/accounts", this::list);
        routes.post("/api/v1/accounts", this::add);
        routes.get("/api/v1/accounts/{username}", this::get);
        routes.put("/api/v1/accounts/{username}/password", this::changePassword);
        routes.put("/api/v1/accounts/{username}/digest", this::setDigest);
        routes.delete("/api/v1/accounts/{username}", this::remove);
        routes.get("/api/v1/registrations", this::registrations);
    }

    private void list(Context ctx) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Account a : accounts.list()) {
            out.add(view(a));
        }
        ctx.json(Map.of("accounts", out));
    }

    private void add(Context ctx) {
        JsonNode body = body(ctx);
        RequestBodies.requireOnly(body, java.util.Set.of("username", "password", "domain", "digest"));
        String username = text(body, "username", true);
        String password = text(body, "password", true);
        String domain = text(body, "domain", false);
        String digest = text(body, "digest", false);
        Account account = call(() -> accounts.add(username, domain == null ? defaultDomain : domain, password,
                digest(digest)));
        updates.accountsChanged();
        ctx.status(201).header("Location", "/api/v1/accounts/" + account.username()).json(view(account));
    }

    private void get(Context ctx) {
        String username = ctx.pathParam("username");
        Account account = call(() -> accounts.find(AccountStore.validUsername(username), domain(ctx))
                .orElseThrow(() -> new AccountException(AccountException.Kind.NOT_FOUND, "no account " + username)));
        ctx.json(view(account));
    }

    private void changePassword(Context ctx) {
        JsonNode body = body(ctx);
        RequestBodies.requireOnly(body, java.util.Set.of("password"));
        String password = text(body, "password", true);
        Account account = call(() -> accounts.changePassword(ctx.pathParam("username"), domain(ctx), password));
        updates.accountsChanged();
        ctx.json(view(account));
    }

    /** {"digest":"SHA-256"}, "MD5", or null / "default" to follow the domain and the node. */
    private void setDigest(Context ctx) {
        JsonNode body = body(ctx);
        RequestBodies.requireOnly(body, java.util.Set.of("digest"));
        if (!body.has("digest")) {
            throw ApiProblem.badRequest("'digest' is required (SHA-256, MD5, or null for the default).");
        }
        String digest = text(body, "digest", false);
        Account account = call(() -> accounts.setDigest(ctx.pathParam("username"), domain(ctx), digest(digest)));
        updates.accountsChanged();
        ctx.json(view(account));
    }

    private static DigestAlgorithm digest(String choice) {
        try {
            return AccountStore.validDigest(choice);
        } catch (AccountException e) {
            throw ApiProblem.badRequest("'digest': " + e.getMessage());
        }
    }

    private void remove(Context ctx) {
        call(() -> {
            accounts.remove(ctx.pathParam("username"), domain(ctx));
            return null;
        });
        updates.accountsChanged();
        ctx.status(204);
    }

    private void registrations(Context ctx) {
        long now = clock.millis();
        List<Map<String, Object>> out = new ArrayList<>();
        for (Binding b : location.all()) {
            if (b.isExpired(now)) {
                continue;
            }
            Map<String, Object> v = new LinkedHashMap<>();
            v.put("aor", b.aor());
            v.put("contact", b.contact());
            v.put("expiresInSeconds", b.remainingSeconds(now));
            v.put("q", b.qValue() / 1000.0);
            v.put("transport", b.transport());
            v.put("source", HostPort.format(b.remoteAddress(), b.remotePort()));
            v.put("userAgent", b.userAgent());
            v.put("registeredAt", Instant.ofEpochMilli(b.registeredAtMillis()).toString());
            v.put("node", b.node()); // the node holding the device's flow (it registered through it)
            v.put("connected", connected.apply(b));
            out.add(v);
        }
        ctx.json(Map.of("registrations", out));
    }

    /**
     * Whether a binding's TCP, TLS or WebSocket connection is open: known only on the node that
     * holds it (the binding's node), where a binding whose connection closed, or that was made
     * before this node restarted, is false: calls to it get 480 until the device registers again
     * (RFC 5626 §5: requests reach it only over its flow). Null for UDP (no connection) and for a
     * flow another node holds (ask that node).
     */
    public static Boolean connected(Binding binding, String thisNode, java.util.function.Predicate<Binding> flowOpen) {
        if ("UDP".equalsIgnoreCase(binding.transport()) || !thisNode.equals(binding.node())) {
            return null;
        }
        return flowOpen.test(binding);
    }

    private String domain(Context ctx) {
        String domain = ctx.queryParam("domain");
        return domain == null || domain.isBlank() ? defaultDomain : domain;
    }

    private JsonNode body(Context ctx) {
        return RequestBodies.object(json, ctx);
    }

    private static String text(JsonNode body, String field, boolean required) {
        String value = RequestBodies.optionalText(body, field);
        if (value == null && required) {
            throw ApiProblem.badRequest("'" + field + "' is required.");
        }
        return value;
    }

    private static <T> T call(java.util.function.Supplier<T> action) {
        try {
            return action.get();
        } catch (AccountException e) {
            throw switch (e.kind()) {
                case INVALID -> ApiProblem.badRequest(e.getMessage());
                case NOT_FOUND -> ApiProblem.notFound(e.getMessage());
                case EXISTS -> ApiProblem.conflict(e.getMessage());
            };
        }
    }

    private static Map<String, Object> view(Account a) {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("username", a.username());
        v.put("domain", a.domain());
        v.put("address", "sip:" + a.address());
        // null: challenged as its domain and the node say (docs/telephony.md, "Digest algorithms")
        v.put("digest", a.digest() == null ? null : a.digest().token());
        v.put("createdAt", a.createdAt().toString());
        v.put("updatedAt", a.updatedAt().toString());
        return v;
    }
}
