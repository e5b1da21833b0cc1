package io.switchboard.chat.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.switchboard.chat.ChatMetrics;
import io.switchboard.chat.ChatSettings;
import io.switchboard.chat.events.ChatEvent;
import io.switchboard.chat.store.ChatInfo;
import io.switchboard.chat.store.ChatMembership;
import io.switchboard.chat.store.ChatStore;
import io.switchboard.chat.store.ChatSummary;
import io.switchboard.chat.store.Message;
import io.switchboard.chat.store.MessageWriter;
import io.switchboard.chat.store.Receipt;
import io.switchboard.platform.auth.Person;
import io.switchboard.platform.auth.PersonAuth;
import io.switchboard.platform.auth.Principal;
import io.switchboard.platform.auth.Sha256;
import io.switchboard.platform.bus.Bus;
import io.switchboard.platform.http.ApiProblem;
import io.switchboard.platform.http.QueryParams;
import io.switchboard.platform.http.RequestBodies;
import io.switchboard.platform.http.StorableText;
import io.switchboard.platform.http.VisibleText;
import io.switchboard.platform.store.StoreFailure;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

/**
 * The chat REST API under {@code /api/v1/chats}, for signed-in people (a person's access token;
 * 401 without one). A chat is visible only to its members: to anyone else it does not exist (404).
 *
 * <p>A message is answered 201 only once it is committed. With an {@code Idempotency-Key}
 * header a retry returns the first result (200, {@code Idempotent-Replayed: true}) instead of a
 * second message; the same key with another request is 422.
 */
public final class ChatApi {
    private static final Pattern IDEMPOTENCY_KEY = Pattern.compile("[\\x21-\\x7e]{1,200}");
    private static final int MAX_TITLE = 200;
    private static final long SEND_TIMEOUT_SECONDS = 10;

    private final PersonAuth auth;
    private final ChatStore store;
    private final ChatMembership membership;
    private final MessageWriter writer;
    private final Bus bus;
    private final ChatSettings settings;
    private final ChatMetrics metrics;
    private final ObjectMapper json;

    public ChatApi(PersonAuth auth, ChatStore store, ChatMembership membership, MessageWriter writer, Bus bus,
                   ChatSettings settings, ChatMetrics metrics, ObjectMapper json) {
        this.auth = auth;
        this.store = store;
        this.membership = membership;
        this.writer = writer;
        this.bus = bus;
        this.settings = settings;
        this.metrics = metrics;
        this.json = json;
    }

    public void register(RoutesConfig routes) {
        routes.post("/api/v1/chats", this::create);
        routes.get("/api/v1/chats", this::list);
        routes.get("/api/v1/chats/{id}", this::show);
        routes.post("/api/v1/chats/{id}/members", this::addMembers);
        routes.delete("/api/v1/chats/{id}/members/{personId}", this::leave);
        routes.post("/api/v1/chats/{id}/messages", this::send);
        routes.get("/api/v1/chats/{id}/messages", this::messages);
        routes.get("/api/v1/chats/{id}/messages/{seq}", this::message);
        routes.delete("/api/v1/chats/{id}/messages/{seq}", this::delete);
        routes.post("/api/v1/chats/{id}/read", this::read);
    }

    private Principal person(Context ctx) {
        try {
            return auth.require(ctx);
        } catch (ApiProblem e) {
            metrics.rejected("unauthorized");
            throw e;
        }
    }

    private void create(Context ctx) {
        Principal me = person(ctx);
        queryParameters(ctx);
        JsonNode body = body(ctx, "members", "title");
        List<String> others = personIds(body, "members");
        others.remove(me.personId());
        if (others.isEmpty()) {
            throw badRequest("'members': name at least one other person (their user ids)");
        }
        String title = title(body);
        if (others.size() > 1 && title == null) {
            throw badRequest("'title': a group of more than two needs a title");
        }
        requireWithinLimit(others.size() + 1);
        requireExisting(others);
        String key = idempotencyKey(ctx);
        String hash = Sha256.hex(String.join(",", new TreeSet<>(others)) + "\n" + (title == null ? "" : title));
        ChatStore.Created created;
        try {
            created = store.create(me.personId(), others, title, key, hash);
        } catch (ChatStore.IdempotencyConflict e) {
            throw idempotencyConflict();
        }
        ChatInfo chat = created.chat();
        if (created.replayed()) {
            ctx.header("Idempotent-Replayed", "true");
        }
        if (!created.existed()) {
            bus.publish(ChatEvent.TOPIC, new ChatEvent.MembersChanged(chat, chat.members(), List.of(), chat.members()));
        }
        ctx.status(created.existed() ? 200 : 201).header("Location", "/api/v1/chats/" + chat.id()).json(ChatViews.chat(chat));
    }

    private void list(Context ctx) {
        Principal me = person(ctx);
        queryParameters(ctx, "limit", "cursor");
        int limit = intParam(ctx, "limit", 20, 1, 100);
        ChatStore.ListCursor cursor = listCursor(ctx.queryParam("cursor"));
        // one more than asked for says whether a next page exists: a full last page then ends with
        // a null cursor, not a cursor to an empty page
        List<ChatSummary> read = store.list(me.personId(), cursor, limit + 1);
        List<ChatSummary> page = read.size() > limit ? read.subList(0, limit) : read;
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("chats", page.stream().map(ChatViews::summary).toList());
        answer.put("nextCursor", read.size() > limit ? encodeCursor(page.getLast().chat()) : null);
        ctx.json(answer);
    }

    private void show(Context ctx) {
        Principal me = person(ctx);
        queryParameters(ctx);
        ChatInfo chat = memberChat(ctx, me);
        Map<String, Object> view = ChatViews.chat(chat);
        Receipt mine = store.readPosition(chat.id(), me.personId());
        view.put("lastReadSeq", mine.seq());
        view.put("unread", store.unread(chat.id(), me.personId(), mine.seq()));
        ctx.json(view);
    }

    private void addMembers(Context ctx) {
        Principal me = person(ctx);
        queryParameters(ctx);
        ChatInfo chat = memberChat(ctx, me);
        if (chat.kind().equals(ChatInfo.DIRECT)) {
            throw ApiProblem.conflict("A direct chat is between two people; create a group to talk with more.");
        }
        JsonNode body = body(ctx, "members");
        List<String> people = personIds(body, "members");
        people.removeAll(chat.members());
        requireWithinLimit(chat.members().size() + people.size());
        requireExisting(people);
        List<String> added = store.addMembers(chat.id(), people);
        ChatInfo updated = store.chat(chat.id()).orElseThrow();
        if (!added.isEmpty()) {
            bus.publish(ChatEvent.TOPIC, new ChatEvent.MembersChanged(updated, added, List.of(), updated.members()));
        }
        ctx.json(ChatViews.chat(updated));
    }

    private void leave(Context ctx) {
        Principal me = person(ctx);
        queryParameters(ctx);
        ChatInfo chat = memberChat(ctx, me);
        String who = pathId(ctx, "personId");
        if (!who.equals(me.personId()) && !who.equals("me")) {
            throw ApiProblem.forbidden("You can only take yourself out of a chat (DELETE .../members/me).");
        }
        if (chat.kind().equals(ChatInfo.DIRECT)) {
            throw ApiProblem.conflict("A direct chat cannot be left; it stays between its two people.");
        }
        store.removeMember(chat.id(), me.personId());
        ChatInfo updated = store.chat(chat.id()).orElseThrow();
        List<String> recipients = new ArrayList<>(updated.members());
        recipients.add(me.personId());
        bus.publish(ChatEvent.TOPIC, new ChatEvent.MembersChanged(updated, List.of(), List.of(me.personId()), recipients));
        ctx.status(204);
    }

    private void send(Context ctx) {
        Principal me = person(ctx);
        queryParameters(ctx);
        String chatId = pathId(ctx, "id");
        // The writer checks membership again in the transaction that stores the message.
        if (!membership.isMember(chatId, me.personId())) {
            metrics.rejected("not_member");
            throw notFound(chatId);
        }
        JsonNode body = body(ctx, "text");
        JsonNode textNode = body.get("text");
        if (textNode == null || textNode.isNull()) {
            throw badRequest("'text' is required: a string with something to read");
        }
        if (!textNode.isTextual()) {
            throw badRequest("'text' must be a string (got " + textNode.getNodeType().name().toLowerCase(java.util.Locale.ROOT)
                    + ")");
        }
        if (VisibleText.showsNothing(textNode.asText())) {
            throw badRequest("'text' shows nothing: it needs at least one visible character (spaces, no-break spaces and"
                    + " invisible format characters alone are not a message)");
        }
        String text = textNode.asText();
        int control = firstControlCharacter(text);
        if (control >= 0) {
            // escape sequences and other controls would reach the terminals, logs and pages that
            // show messages (NUL is refused earlier, for every field); line breaks and tabs are text
            throw badRequest("'text' contains a control character (U+" + String.format("%04X", (int) text.charAt(control))
                    + " at character " + text.codePointCount(0, control) + ", counting from 0); only tab, line feed and"
                    + " carriage return are allowed");
        }
        int length = text.codePointCount(0, text.length());
        if (length > settings.maxMessageLength()) {
            metrics.rejected("too_large");
            throw new ApiProblem(413, "Content Too Large", "'text': at most " + settings.maxMessageLength()
                    + " characters (got " + length + ")");
        }
        String key = idempotencyKey(ctx);
        // The fingerprint only matters to compare a retry with the first request under the same key.
        String fingerprint = key == null ? null : Sha256.hex(chatId + "\n" + text);
        MessageWriter.Sent sent = await(writer.submit(chatId, me.personId(), text, key, fingerprint));
        if (sent.replayed()) {
            ctx.header("Idempotent-Replayed", "true");
        } else {
            metrics.sent();
        }
        ctx.status(sent.replayed() ? 200 : 201)
                .header("Location", "/api/v1/chats/" + chatId + "/messages/" + sent.message().seq())
                .json(ChatViews.message(sent.message()));
    }

    private MessageWriter.Sent await(java.util.concurrent.CompletableFuture<MessageWriter.Sent> pending) {
        try {
            return pending.get(SEND_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof ChatStore.IdempotencyConflict) {
                throw idempotencyConflict();
            }
            if (e.getCause() instanceof MessageWriter.NotMember) {
                metrics.rejected("not_member");
                throw notFound(e.getCause().getMessage());
            }
            metrics.rejected("overloaded");
            throw unstored(e.getCause());
        } catch (TimeoutException e) {
            // Not stored yet: withdraw it, so a writer that has not begun on it skips it.
            pending.cancel(false);
            metrics.rejected("overloaded");
            // The writer waits on a store that is slow or silent: the same pause as any request
            // that found the store unreachable.
            throw ApiProblem.unavailable("The store did not confirm the message in time; it may still be stored."
                    + " Retry with the same Idempotency-Key to find out without sending it twice.")
                    .withHeader("Retry-After", Integer.toString(StoreFailure.Kind.UNREACHABLE.retryAfterSeconds()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ApiProblem.unavailable("interrupted");
        }
    }

    /**
     * The answer to a send the writer failed: 503 with Retry-After for what will pass (full queue,
     * store unreachable or in conflict, a commit whose outcome is unknown), else the failure
     * itself, answered 500: a Retry-After on a failure that will not pass would be followed forever.
     */
    static RuntimeException unstored(Throwable failure) {
        if (failure instanceof MessageWriter.Overloaded overloaded) {
            return ApiProblem.unavailable("The message was not stored: " + overloaded.getMessage()
                    + ". Retry with the same Idempotency-Key.").withHeader("Retry-After", "1");
        }
        if (failure instanceof MessageWriter.OutcomeUnknown) {
            return ApiProblem.unavailable("The store did not confirm the message: it may have been stored."
                    + " Retry with the same Idempotency-Key to find out without sending it twice.")
                    .withHeader("Retry-After", Integer.toString(StoreFailure.Kind.UNREACHABLE.retryAfterSeconds()));
        }
        var kind = StoreFailure.kind(failure);
        if (kind.isEmpty()) {
            return failure instanceof RuntimeException runtime ? runtime
                    : new IllegalStateException("storing a message failed", failure);
        }
        return ApiProblem.unavailable("The message was not stored (the store failed). Retry with the same"
                + " Idempotency-Key.").withHeader("Retry-After", Integer.toString(kind.get().retryAfterSeconds()));
    }

    private void messages(Context ctx) {
        Principal me = person(ctx);
        queryParameters(ctx, "after", "before", "limit");
        String chatId = pathId(ctx, "id");
        requireMember(chatId, me);
        Long after = seqParam(ctx, "after");
        Long before = seqParam(ctx, "before");
        if (after != null && before != null && after >= before) {
            // a window that ends before it starts: the two were swapped, most likely (after = before - 1
            // is a window with nothing in it, which a client filling a gap may well ask for)
            throw badRequest("'after' (" + after + ") must be below 'before' (" + before + "): the window runs backwards;"
                    + " 'after' pages forward from a message, 'before' backward");
        }
        int limit = intParam(ctx, "limit", 50, 1, 200);
        long lastSeq = store.lastSeq(chatId).orElse(0L);
        List<Message> page = store.messages(chatId, after, before, limit);
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("messages", page.stream().map(ChatViews::message).toList());
        // Every sequence number from 1 to lastSeq has a message (deleted ones as tombstones), so
        // whether the chat has more on either side of this page follows from the numbers alone.
        // Both cursors are the chat's, whichever way the page was asked for: a client that opened
        // the history in the middle (a search hit, an unread mark) can page both ways from it.
        // An empty page (after= at or past the newest, before=1) points back at what lies beyond it.
        long firstShown = page.isEmpty() ? (after != null ? after + 1 : before != null ? before : lastSeq + 1) : page.getFirst().seq();
        long lastShown = page.isEmpty() ? firstShown - 1 : page.getLast().seq();
        answer.put("olderCursor", lastSeq > 0 && firstShown > 1 ? Math.min(firstShown, lastSeq + 1) : null);
        answer.put("newerCursor", lastShown < lastSeq ? Math.max(lastShown, 0) : null);
        answer.put("lastSeq", lastSeq);
        ctx.json(answer);
    }

    /** One message, where a send's {@code Location} points (a deleted one as its tombstone). */
    private void message(Context ctx) {
        Principal me = person(ctx);
        queryParameters(ctx);
        String chatId = pathId(ctx, "id");
        requireMember(chatId, me);
        long seq = pathSeq(ctx);
        List<Message> found = seq < 1 ? List.of() : store.messages(chatId, seq - 1, null, 1);
        if (found.isEmpty() || found.getFirst().seq() != seq) {
            throw ApiProblem.notFound("no message " + seq + " in chat " + chatId);
        }
        ctx.json(ChatViews.message(found.getFirst()));
    }

    private void delete(Context ctx) {
        Principal me = person(ctx);
        queryParameters(ctx);
        String chatId = pathId(ctx, "id");
        requireMember(chatId, me);
        long seq = pathSeq(ctx);
        ChatStore.Deletion deletion = store.delete(chatId, seq, me.personId());
        switch (deletion.outcome()) {
            case NOT_FOUND -> throw ApiProblem.notFound("no message " + seq + " in chat " + chatId);
            case NOT_SENDER -> throw ApiProblem.forbidden("Only the sender may delete a message.");
            case DELETED -> bus.publish(ChatEvent.TOPIC,
                    new ChatEvent.MessageDeleted(deletion.message(), membership.members(chatId)));
            case ALREADY_DELETED -> { }
        }
        ctx.status(204);
    }

    private void read(Context ctx) {
        Principal me = person(ctx);
        queryParameters(ctx);
        String chatId = pathId(ctx, "id");
        requireMember(chatId, me);
        JsonNode body = body(ctx, "seq");
        JsonNode seqNode = body.get("seq");
        // canConvertToLong: a number past a long's range is refused, not wrapped (asLong would)
        if (seqNode == null || !seqNode.isIntegralNumber() || !seqNode.canConvertToLong() || seqNode.asLong() < 0) {
            throw badRequest("'seq': the sequence number of the last message read, a whole number >= 0");
        }
        long seq = seqNode.asLong();
        long lastSeq = store.lastSeq(chatId).orElse(0L);
        if (seq > lastSeq) {
            throw badRequest("'seq': " + seq + " is beyond the newest message of this chat (" + lastSeq + ")");
        }
        Optional<Receipt> moved = store.markRead(chatId, me.personId(), seq);
        moved.ifPresent(receipt -> bus.publish(ChatEvent.TOPIC, new ChatEvent.ReadMoved(receipt, membership.members(chatId))));
        Receipt now = moved.orElseGet(() -> store.readPosition(chatId, me.personId()));
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("chatId", chatId);
        answer.put("lastReadSeq", now.seq());
        answer.put("unread", store.unread(chatId, me.personId(), now.seq()));
        ctx.json(answer);
    }

    private ChatInfo memberChat(Context ctx, Principal me) {
        String chatId = pathId(ctx, "id");
        requireMember(chatId, me);
        return store.chat(chatId).orElseThrow(() -> notFound(chatId));
    }

    /** Membership as the store has it now: reads and changes must not go by a cache that may lag. */
    private void requireMember(String chatId, Principal me) {
        if (!store.isMember(chatId, me.personId())) {
            metrics.rejected("not_member");
            throw notFound(chatId);
        }
    }

    /** The index of the first C0 or C1 control character (or DEL) other than tab, LF and CR; -1 when none. */
    static int firstControlCharacter(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isISOControl(c) && c != '\t' && c != '\n' && c != '\r') {
                return i;
            }
        }
        return -1;
    }

    private static ApiProblem notFound(String chatId) {
        return ApiProblem.notFound("no chat " + chatId);
    }

    /** The body, a JSON object of no fields but {@code fields} (a misspelt one would be passed over). */
    private JsonNode body(Context ctx, String... fields) {
        try {
            JsonNode body = RequestBodies.object(json, ctx);
            RequestBodies.requireOnly(body, java.util.Set.of(fields));
            return body;
        } catch (ApiProblem e) {
            metrics.rejected(e.status() == 413 ? "too_large" : "bad_request");
            throw e;
        }
    }

    private ApiProblem badRequest(String detail) {
        metrics.rejected("bad_request");
        return ApiProblem.badRequest(detail);
    }

    private ApiProblem idempotencyConflict() {
        metrics.rejected("idempotency_conflict");
        return new ApiProblem(422, "Unprocessable Content",
                "This Idempotency-Key was used for a different request; use a new key for a new request.");
    }

    private List<String> personIds(JsonNode body, String field) {
        JsonNode node = body.get(field);
        if (node == null || !node.isArray() || node.isEmpty()) {
            throw badRequest("'" + field + "': a non-empty list of user ids");
        }
        Set<String> ids = new LinkedHashSet<>();
        for (JsonNode item : node) {
            if (!item.isTextual() || item.asText().isBlank() || item.asText().length() > 36) {
                throw badRequest("'" + field + "': every entry is a user id (a string)");
            }
            ids.add(io.switchboard.platform.http.Uuids.folded(item.asText().strip()));
        }
        return new ArrayList<>(ids);
    }

    private String title(JsonNode body) {
        JsonNode node = body.get("title");
        if (node == null || node.isNull()) {
            return null;
        }
        if (!node.isTextual()) {
            throw badRequest("'title': a string");
        }
        if (node.asText().isBlank()) {
            throw badRequest("'title' shows nothing: it needs at least one visible character");
        }
        String title = node.asText().strip();
        if (title.codePointCount(0, title.length()) > MAX_TITLE || title.chars().anyMatch(Character::isISOControl)) {
            throw badRequest("'title': at most " + MAX_TITLE + " characters, no control characters");
        }
        if (VisibleText.showsNothing(title)) {
            throw badRequest("'title' shows nothing: it needs at least one visible character");
        }
        int turn = VisibleText.firstDirectionOverride(title);
        if (turn >= 0) {
            throw badRequest("'title' contains a direction override (U+" + String.format("%04X", (int) title.charAt(turn))
                    + "), which shows it in another order than written");
        }
        return title;
    }

    private void requireWithinLimit(int members) {
        if (members > settings.maxMembers()) {
            throw badRequest("'members': a chat has at most " + settings.maxMembers() + " members (chat.maxMembers)");
        }
    }

    private void requireExisting(List<String> ids) {
        if (ids.isEmpty()) {
            return;
        }
        Set<String> found = new java.util.HashSet<>();
        for (Person person : auth.people().byIds(ids)) {
            found.add(person.id());
        }
        for (String id : ids) {
            if (!found.contains(id)) {
                metrics.rejected("bad_request");
                throw new ApiProblem(422, "Unprocessable Content", "'members': no user " + id);
            }
        }
    }

    private String idempotencyKey(Context ctx) {
        String key = ctx.header("Idempotency-Key");
        if (key == null) {
            return null;
        }
        // one key per request (draft-ietf-httpapi-idempotency-key-header: a single string): with
        // two, which one a retry repeats is a guess
        var all = ctx.req().getHeaders("Idempotency-Key");
        if (all != null && all.hasMoreElements() && all.nextElement() != null && all.hasMoreElements()) {
            throw badRequest("Idempotency-Key: send one key per request (this one came with two or more)");
        }
        if (!IDEMPOTENCY_KEY.matcher(key).matches()) {
            throw badRequest("Idempotency-Key: 1-200 visible ASCII characters, e.g. a UUID");
        }
        return key;
    }

    /** Refuses a query parameter the endpoint does not take (only these), counted as a bad request. */
    private void queryParameters(Context ctx, String... taken) {
        try {
            QueryParams.allowOnly(ctx, java.util.Set.of(taken));
        } catch (ApiProblem e) {
            metrics.rejected("bad_request");
            throw e;
        }
    }

    /** A chat's or person's id from the path, a UUID folded to lower case as stored (RFC 9562 §4). */
    private static String pathId(Context ctx, String name) {
        return io.switchboard.platform.http.Uuids.folded(ctx.pathParam(name));
    }

    private Long seqParam(Context ctx, String name) {
        try {
            return QueryParams.nonNegativeLong(ctx, name, "a sequence number");
        } catch (ApiProblem e) {
            metrics.rejected("bad_request");
            throw e;
        }
    }

    private long pathSeq(Context ctx) {
        String raw = ctx.pathParam("seq");
        try {
            // digits only: parseLong would also take "+3" (and name the message 3)
            long value = io.switchboard.platform.config.AsciiDigits.of(raw, 18) ? Long.parseLong(raw) : -1;
            if (value >= 1) {
                return value;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw badRequest("a message is named by its sequence number, a whole number >= 1 (got '" + raw + "')");
    }

    private int intParam(Context ctx, String name, int fallback, int min, int max) {
        try {
            return QueryParams.intParam(ctx, name, fallback, min, max);
        } catch (ApiProblem e) {
            metrics.rejected("bad_request");
            throw e;
        }
    }

    private ChatStore.ListCursor listCursor(String raw) {
        if (raw == null || raw.isBlank()) {
            return null;
        }
        try {
            String text = new String(Base64.getUrlDecoder().decode(raw.strip()), StandardCharsets.UTF_8);
            int colon = text.indexOf(':');
            String chatId = text.substring(colon + 1);
            if (StorableText.problem(chatId).isPresent()) {
                throw new IllegalArgumentException("not storable text");
            }
            return new ChatStore.ListCursor(Long.parseLong(text.substring(0, colon)), chatId);
        } catch (RuntimeException e) {
            throw badRequest("'cursor': not a cursor this API gave out (pass nextCursor unchanged)");
        }
    }

    private static String encodeCursor(ChatInfo last) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(
                (last.lastActivityAt().toEpochMilli() + ":" + last.id()).getBytes(StandardCharsets.UTF_8));
    }
}
