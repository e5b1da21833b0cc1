package io.switchboard.platform.auth;

import io.javalin.http.Context;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.switchboard.platform.LogLineBudget;
import io.switchboard.platform.bus.Bus;
import io.switchboard.platform.config.ConfigSection;
import io.switchboard.platform.http.ApiProblem;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * People signing up, signing in and proving who they are on each request: the node's
 * {@code auth:} block, the people store, password hashing, tokens and the brake on guessing.
 *
 * <p>A request carries {@code Authorization: Bearer <access token>}; a WebSocket may pass the
 * token as the {@code access_token} query parameter instead (RFC 6750 §2.3), since browsers cannot
 * set headers on a WebSocket. A token is accepted when its signature and time are good and the
 * person still exists with the same token version: a password change, "sign out everywhere" or
 * removal ends every token issued before.
 *
 * <p>That last check must not cost a query per request. Each node keeps the token versions it
 * has looked up, and polls the store's people revision (bumped with every such change, by any node
 * or the CLI) every {@code revisionPoll} ({@link #REVISION_POLL} unless configured); when it moved, the node forgets them all and looks each
 * up again on its next use. So a revocation takes effect on every node within a poll, and a
 * steady stream of requests costs one query per person after each change. Verified tokens are
 * cached too, so a token seen before costs a map lookup instead of an HMAC and a JSON parse.
 *
 * <p>One sign-in can end alone (a reused refresh token, a sign-out): its access tokens are then
 * on the revocation list of {@link SessionTokens}, which every check consults. The node that
 * revoked announces it on the bus ({@value #SESSION_REVOKED}), other nodes add it at once, and the
 * revocation revision it moved (apart from the people revision, so cached versions stay) makes
 * every node read the new entries within a poll even without a bus. Clearing a sign-in lockout
 * ({@link #unlock}) travels on the bus ({@value #SIGN_IN_UNLOCKED}) and with the people revision.
 *
 * <p>The brakes on guessing count in each node's memory, and every failed sign-in, sign-up attempt
 * and wrong current password is announced on the bus ({@value #ATTEMPT_COUNTED}) for the other
 * nodes to count as well: behind a balancer's round robin each brake (per name from one address,
 * per name, per address) holds across the cluster, not once per node. Only failures travel (a
 * reservation given back after a good password never left the node), and a node counts another's
 * failure when it hears it, so parallel guesses spread over nodes can pass an allowance by what is
 * in flight between them (milliseconds, against a password hash each); for the same reason a
 * failure still on its way when an operator clears a lockout may count after the clearing. A
 * node started later, or cut off from the bus, knows only the failures it saw itself. A count heard
 * from another node is capped at the allowance, so a good sign-in here giving back its reservation
 * at that moment can leave room for one more attempt.
 */
public final class PersonAuth {
    public static final List<String> KNOWN_KEYS = List.of("signUp", "accessTokenTtl", "refreshTokenTtl",
            "passwordHashMemory", "passwordHashIterations", "signInFailuresPerUser", "signInFailuresPerUserTotal",
            "signInFailuresPerAddress", "signInWindow", "revisionPoll");
    static final Duration REVISION_POLL = Duration.ofMillis(500);
    public static final String SESSION_REVOKED = "platform.session.revoked";
    public static final String SIGN_IN_UNLOCKED = "platform.sign-in.unlocked";
    public static final String ATTEMPT_COUNTED = "platform.sign-in.attempt-counted";
    /** Unlock records are read by running nodes within a poll; a day covers any node that lagged. */
    private static final Duration UNLOCK_RECORDS_KEPT = Duration.ofDays(1);
    private static final int MAX_CACHED_VERSIONS = 200_000;
    private static final String CHALLENGE = "Bearer realm=\"switchboard\"";
    private static final Logger log = LoggerFactory.getLogger(PersonAuth.class);
    private final io.switchboard.platform.RecurringFailure peopleReads = new io.switchboard.platform.RecurringFailure(log,
            "could not read the people revision from the store", "the people revision is read from the store again");
    private final io.switchboard.platform.RecurringFailure revocationReads = new io.switchboard.platform.RecurringFailure(log,
            "could not read the revocation revision from the store", "the revocation revision is read from the store again");

    private final PersonStore people;
    private final PasswordHasher hasher;
    private final SessionTokens tokens;
    private final FailureLimiter userAtAddressFailures;
    private final FailureLimiter userFailures;
    private final FailureLimiter addressFailures;
    private final FailureLimiter addressSignUps;
    private final boolean openSignUp;
    private final Clock clock;
    private final MeterRegistry meters;
    private final Map<String, KnownVersion> versions = new ConcurrentHashMap<>();
    private volatile long knownRevision = -1;
    private volatile long knownRevocations = -1;
    /** Moves before cached versions are forgotten; a lookup that began earlier does not cache what it read. */
    private final java.util.concurrent.atomic.AtomicLong generation = new java.util.concurrent.atomic.AtomicLong();
    private final Duration revisionPoll;
    private ScheduledExecutorService maintenance;
    private volatile Bus bus;
    /**
     * Unlocks this node cleared already (made through its API or heard on the bus) that its poll
     * has not passed yet, by the people revision each moved to, to the name: the poll need not
     * clear them again. Keyed by revision, so a later unlock of the same name (the CLI's) is never
     * mistaken for one of these. Guarded by {@link #unlockTurn}.
     */
    private final Map<Long, String> clearedHere = new HashMap<>();
    /**
     * Taken to clear an unlock and by the poll's pass over the store's unlocks, so that each unlock
     * clears a name once on each node whichever way reaches it first. A second clearing would drop
     * the failures counted since the first (an attacker's guesses in between) and the reservation
     * of a sign-in under way.
     */
    private final Object unlockTurn = new Object();
    /** At most one line a minute about upgrades refused for bad tokens ({@link #refusedUpgradeToken}). */
    private final LogLineBudget refusedUpgradeLines;
    /** The most lockout warnings written in a minute; the lockouts themselves are counted all the same. */
    static final int LOCKOUT_LINES_PER_MINUTE = 20;
    /** Lockout warnings: at most {@link #LOCKOUT_LINES_PER_MINUTE} a minute, with the count left out. */
    private final LogLineBudget lockoutLines;
    /** Tells this node's own announcements apart when they come back from the bus (it counted them already). */
    private final String origin = java.util.UUID.randomUUID().toString();

    /** Announced when a sign-in's access tokens were revoked before they expire. */
    public record SessionRevoked(String sessionId, long expiresAt) {
    }

    /**
     * Announced when an operator cleared a user's sign-in lockout. {@code revision} is the people
     * revision the unlock moved to, by which a node's poll knows it cleared it already; nodes of
     * earlier versions send none.
     */
    public record SignInUnlocked(String username, Long revision) {
    }

    /**
     * Announced when a node counted an attempt against a brake, for every other node to count
     * it too: a failed sign-in ({@code username} and {@code address}), a sign-up attempt
     * ({@code address} alone) or a wrong current password ({@code passwordChangeSession} alone).
     * {@code origin} is the announcing node's, which ignores its own.
     */
    public record AttemptCounted(String origin, String username, String address, String passwordChangeSession) {
    }

    private record KnownVersion(int version, boolean exists) {
    }

    /** What sign-up and sign-in return. */
    public record Session(Person person, SessionTokens.Issued tokens) {
    }

    /** The brakes on guessing: per user from one address, per user from all, per address. */
    public record Limits(FailureLimiter userAtAddress, FailureLimiter user, FailureLimiter address,
                         FailureLimiter signUpsPerAddress) {
    }

    public PersonAuth(PersonStore people, PasswordHasher hasher, SessionTokens tokens, boolean openSignUp, Limits limits,
                      Clock clock, MeterRegistry meters) {
        this(people, hasher, tokens, openSignUp, limits, clock, meters, REVISION_POLL);
    }

    /** @param revisionPoll how often the store's people and revocation revisions are read */
    public PersonAuth(PersonStore people, PasswordHasher hasher, SessionTokens tokens, boolean openSignUp, Limits limits,
                      Clock clock, MeterRegistry meters, Duration revisionPoll) {
        this.revisionPoll = revisionPoll;
        this.people = people;
        this.hasher = hasher;
        this.tokens = tokens;
        this.openSignUp = openSignUp;
        this.userAtAddressFailures = limits.userAtAddress();
        this.userFailures = limits.user();
        this.addressFailures = limits.address();
        this.addressSignUps = limits.signUpsPerAddress();
        this.clock = clock;
        this.meters = meters;
        this.refusedUpgradeLines = new LogLineBudget(1, clock);
        this.lockoutLines = new LogLineBudget(LOCKOUT_LINES_PER_MINUTE, clock);
    }

    /** Checks the {@code auth:} block without building anything; a bad value is a {@link io.switchboard.platform.config.ConfigException}. */
    public static void checkConfig(ConfigSection section) {
        Settings.from(section);
    }

    /** The {@code auth:} block, read and checked. */
    private record Settings(boolean openSignUp, Duration accessTtl, Duration refreshTtl, int memory, int iterations,
                            Duration window, int perUser, int perUserTotal, int perAddress, Duration revisionPoll) {
        static Settings from(ConfigSection section) {
            section.allowOnly(KNOWN_KEYS);
            String signUp = section.string("signUp", "open").strip().toLowerCase(Locale.ROOT);
            if (!signUp.equals("open") && !signUp.equals("closed")) {
                throw section.problem("signUp", "\"" + signUp + "\" is not open or closed");
            }
            Duration accessTtl = section.duration("accessTokenTtl", Duration.ofMinutes(15), Duration.ofSeconds(10),
                    Duration.ofDays(1));
            Duration refreshTtl = section.duration("refreshTokenTtl", Duration.ofDays(30));
            if (refreshTtl.compareTo(accessTtl) < 0) {
                throw section.problem("refreshTokenTtl", "must be at least accessTokenTtl");
            }
            int memory = section.integer("passwordHashMemory", 19_456, 8, 4 * 1024 * 1024);
            int iterations = section.integer("passwordHashIterations", 2, 1, 100);
            // a window of nothing would count no failure at all: the brake would be off without a word
            Duration window = section.duration("signInWindow", Duration.ofMinutes(15), Duration.ofSeconds(1),
                    Duration.ofMillis(Long.MAX_VALUE));
            int perUser = section.integer("signInFailuresPerUser", 5, 1, 1_000_000);
            int perUserTotal = section.integer("signInFailuresPerUserTotal", 100, 1, 1_000_000);
            int perAddress = section.integer("signInFailuresPerAddress", 50, 1, 1_000_000);
            Duration revisionPoll = section.duration("revisionPoll", REVISION_POLL, Duration.ofMillis(50), Duration.ofHours(1));
            return new Settings(signUp.equals("open"), accessTtl, refreshTtl, memory, iterations, window, perUser,
                    perUserTotal, perAddress, revisionPoll);
        }
    }

    /** Builds it from the {@code auth:} block; a bad value is a {@link io.switchboard.platform.config.ConfigException}. */
    public static PersonAuth fromConfig(ConfigSection section, org.jdbi.v3.core.Jdbi jdbi, Clock clock, MeterRegistry meters) {
        Settings s = Settings.from(section);
        PasswordHasher hasher = new PasswordHasher(s.memory(), s.iterations(), Runtime.getRuntime().availableProcessors());
        Limits limits = new Limits(new FailureLimiter(s.perUser(), s.window(), clock),
                new FailureLimiter(s.perUserTotal(), s.window(), clock), new FailureLimiter(s.perAddress(), s.window(), clock),
                new FailureLimiter(s.perAddress(), Duration.ofHours(1), clock));
        return new PersonAuth(new PersonStore(jdbi, clock), hasher, new SessionTokens(jdbi, clock, s.accessTtl(), s.refreshTtl()),
                s.openSignUp(), limits, clock, meters, s.revisionPoll());
    }

    public PersonStore people() {
        return people;
    }

    /**
     * Joins the node's bus: revocations and unlocks made here are announced, and those of other
     * nodes honoured as soon as they are heard. Without it (the CLI) they travel through the store.
     */
    public void connect(Bus nodeBus) {
        nodeBus.subscribe(SESSION_REVOKED, SessionRevoked.class, event -> {
            if (event.sessionId() != null) {
                tokens.revocationHeard(event.sessionId(), event.expiresAt());
            }
        });
        nodeBus.subscribe(SIGN_IN_UNLOCKED, SignInUnlocked.class, event -> {
            if (event.username() == null) {
                return;
            }
            if (event.revision() == null) {
                clearLockout(event.username());
            } else {
                clearOnce(event.username(), event.revision());
            }
        });
        nodeBus.subscribe(ATTEMPT_COUNTED, AttemptCounted.class, this::attemptHeard);
        tokens.onRevoked((session, expiresAt) -> nodeBus.publish(SESSION_REVOKED, new SessionRevoked(session, expiresAt)));
        this.bus = nodeBus;
    }

    public SessionTokens tokens() {
        return tokens;
    }

    public boolean openSignUp() {
        return openSignUp;
    }

    /**
     * Creates a person and signs them in. Sign-ups from one address are limited like failed
     * sign-ins, so a script cannot fill the store.
     */
    public Session signUp(String username, String password, String displayName, String address) {
        if (!openSignUp) {
            count("sign_ups", "closed");
            throw ApiProblem.forbidden("Sign-up is closed on this node; an administrator creates people (auth.signUp: closed).");
        }
        String name = PersonRules.username(username);
        String checkedPassword = PersonRules.password(password, "password");
        String display = PersonRules.displayName(displayName);
        // Every attempt counts, a taken name too: the brake on filling the store and on trying names.
        reserve(addressSignUps, address, "sign_ups");
        announce(new AttemptCounted(origin, null, address, null));
        Person person;
        try {
            person = people.create(name, display, hash(checkedPassword), false);
        } catch (PersonStore.UsernameTaken e) {
            count("sign_ups", "taken");
            throw ApiProblem.conflict("'username': " + name + " is taken");
        }
        count("sign_ups", "ok");
        return new Session(person, tokens.issue(new PersonStore.Credentials(person, "", 0)));
    }

    /**
     * Checks a user name and password. Wrong password and unknown user are the same 401, and
     * take the same time. Attempts are counted per user name from this address, per user name from
     * all addresses, and per address; an attempt is reserved before the password is checked and
     * given back if it was right, so parallel guesses cannot outrun the count. Past an allowance
     * the answer is 429 with {@code Retry-After}, even for the right password. Keying the tight
     * per-user brake by address as well means a stranger cannot lock someone out everywhere.
     */
    public Session signIn(String username, String password, String address) {
        if (username == null || password == null) {
            throw ApiProblem.badRequest("'username' and 'password' are required.");
        }
        if (username.length() > 64 || password.length() > 4 * PersonRules.MAX_PASSWORD) {
            count("sign_ins", "unknown_user");
            throw unauthorized("Wrong user name or password.");
        }
        String name = PersonRules.fold(username);
        String userKey = userKey(name);
        String userAtAddressKey = userAtAddressKey(name, address);
        reserve(userAtAddressFailures, userAtAddressKey, "sign_ins");
        try {
            reserve(userFailures, userKey, "sign_ins");
        } catch (ApiProblem limited) {
            userAtAddressFailures.release(userAtAddressKey);
            throw limited;
        }
        try {
            reserve(addressFailures, address, "sign_ins");
        } catch (ApiProblem limited) {
            userAtAddressFailures.release(userAtAddressKey);
            userFailures.release(userKey);
            throw limited;
        }
        Optional<PersonStore.Credentials> found = people.credentialsByUsername(name);
        boolean good;
        try {
            if (found.isPresent()) {
                good = hasher.verify(password, found.get().passwordHash());
            } else {
                hasher.verifyNothing(password);
                good = false;
            }
        } catch (PasswordHasher.Busy e) {
            userAtAddressFailures.release(userAtAddressKey);
            userFailures.release(userKey);
            addressFailures.release(address);
            count("sign_ins", "busy");
            throw ApiProblem.unavailable("Too many sign-ins at once; retry in a moment.").withHeader("Retry-After", "1");
        }
        if (!good) {
            count("sign_ins", found.isPresent() ? "wrong_password" : "unknown_user");
            announce(new AttemptCounted(origin, name, address, null));
            // the name of an account, never of none: a "name" that is no account's may be a password typed in the wrong field
            logLockouts(found.isPresent() ? name : "a name that is no account's", userAtAddressKey, userKey, address);
            throw unauthorized("Wrong user name or password.");
        }
        userAtAddressFailures.release(userAtAddressKey);
        userFailures.release(userKey);
        addressFailures.release(address);
        PersonStore.Credentials credentials = found.get();
        if (hasher.needsRehash(credentials.passwordHash())) {
            people.rehash(credentials.person().id(), hasher.hash(password));
        }
        count("sign_ins", "ok");
        return new Session(credentials.person(), tokens.issue(credentials));
    }

    /**
     * New tokens for a refresh token; 401 when it is not good (the client signs in again). A used
     * token that comes back means a copy of it leaked (RFC 9700 §4.14.2): its sign-in is ended, and
     * that is logged as a warning with the person and the address it came from (never the token).
     *
     * @param address the client's address (behind a trusted proxy, the client's), for the log
     */
    public SessionTokens.Issued refresh(String refreshToken, String address) {
        try {
            SessionTokens.Issued issued = tokens.refresh(refreshToken, people);
            count("refreshes", "ok");
            return issued;
        } catch (SessionTokens.InvalidRefreshToken e) {
            count("refreshes", e.reused() ? "reused" : "invalid");
            if (e.reused()) {
                String who = e.personId() == null ? "someone"
                        : people.byId(e.personId()).map(Person::username).orElse("a removed person");
                log.warn("a used refresh token of {} came back from {}: a copy of it leaked, so that sign-in was ended,"
                        + " its access tokens too", who, address);
            }
            throw unauthorized(e.getMessage() + ".");
        }
    }

    /**
     * Notes a WebSocket upgrade refused for an access token that is not valid or has expired. Such
     * upgrades are counted by the endpoint; anyone can send them at will, so at most one line a
     * minute is logged (INFO), with how many were passed over since the last.
     *
     * @param path    the endpoint
     * @param address the client's address (behind a trusted proxy, the client's)
     */
    public void refusedUpgradeToken(String path, String address) {
        OptionalInt leftOut = refusedUpgradeLines.take();
        if (leftOut.isPresent()) {
            int more = leftOut.getAsInt();
            log.info("a WebSocket upgrade to {} from {} was refused: its access token is not valid or has expired{}", path,
                    address, more == 0 ? "" : " (" + more + " more such refusals since the last line, not logged)");
        }
    }

    /**
     * Changes a person's own password after checking the current one; every other session ends.
     * Wrong current passwords are limited as sign-ins from one address are ({@code
     * signInFailuresPerUser} per window, then 429): whoever holds a stolen access token must not
     * be able to guess the password behind it at full speed. The count is the session's
     * ({@code sessionId}, the one the access token belongs to), so guesses through a stolen token
     * neither lock the person out of signing in nor hold up their own change from their sessions.
     */
    public void changePassword(Principal principal, String sessionId, String current, String replacement) {
        PersonStore.Credentials credentials = people.credentialsById(principal.personId())
                .orElseThrow(() -> unauthorized("The person no longer exists."));
        String checked = PersonRules.password(replacement, "newPassword");
        String key = passwordChangeKey(sessionId);
        reserve(userAtAddressFailures, key, "password_changes");
        boolean good;
        try {
            good = current != null && hasher.verify(current, credentials.passwordHash());
        } catch (PasswordHasher.Busy e) {
            userAtAddressFailures.release(key);
            count("password_changes", "busy");
            throw ApiProblem.unavailable("Too many password operations at once; retry in a moment.").withHeader("Retry-After", "1");
        }
        if (!good) {
            count("password_changes", "wrong_password");
            announce(new AttemptCounted(origin, null, null, sessionId));
            throw ApiProblem.forbidden("'currentPassword' is wrong.");
        }
        userAtAddressFailures.release(key);
        setPassword(credentials.person().id(), checked);
        count("password_changes", "ok");
    }

    /** Sets a password (admin, CLI) and ends every session of that person. */
    public void setPassword(String personId, String password) {
        people.setPassword(personId, hash(PersonRules.password(password, "password")));
        tokens.revokeAll(personId);
        forget(personId);
    }

    /** Creates a person without signing them in (admin API, CLI). */
    public Person create(String username, String password, String displayName, boolean admin) {
        String name = PersonRules.username(username);
        String checked = PersonRules.password(password, "password");
        try {
            return people.create(name, PersonRules.displayName(displayName), hash(checked), admin);
        } catch (PersonStore.UsernameTaken e) {
            throw ApiProblem.conflict("'username': " + name + " is taken");
        }
    }

    public boolean remove(String personId) {
        boolean removed = people.remove(personId);
        forget(personId);
        return removed;
    }

    /**
     * Clears a user's sign-in lockout: the per-user brakes forget their counts on every node (the
     * per-address brake stays: it is about the address, not the person). The API and the CLI
     * call it only for a person who exists (404, exit 2 otherwise); guesses at a name nobody has
     * wear off with the sign-in window.
     */
    public void unlock(String username) {
        String name = PersonRules.fold(username);
        long revision = people.recordUnlock(name);
        clearOnce(name, revision);
        Bus connected = bus;
        if (connected != null) {
            connected.publish(SIGN_IN_UNLOCKED, new SignInUnlocked(name, revision));
        }
        count("unlocks", "ok");
    }

    /**
     * Clears the lockout an unlock (moved to {@code revision}) lifted, unless this node did already:
     * its poll has passed the revision, or the API or the bus got here first (this node's own
     * announcement comes back to it).
     */
    private void clearOnce(String name, long revision) {
        synchronized (unlockTurn) {
            if (revision <= knownRevision || clearedHere.putIfAbsent(revision, name) != null) {
                return;
            }
            clearLockout(name);
        }
    }

    private void clearLockout(String name) {
        String userKey = userKey(name);
        int forgotten = userFailures.forget(userKey::equals)
                + userAtAddressFailures.forget(key -> key.startsWith(userKey + "@"));
        if (forgotten > 0) {
            log.info("sign-in lockout of {} cleared", name);
        }
    }

    /** Ends every session of a person: refresh tokens revoked, access tokens refused on every node within a poll. */
    public void signOutEverywhere(String personId) {
        people.bumpTokenVersion(personId);
        tokens.revokeAll(personId);
        forget(personId);
    }

    /**
     * The person a request acts for.
     *
     * @throws ApiProblem 401 with a Bearer challenge when there is no valid access token
     */
    public Principal require(Context ctx) {
        String header = ctx.header("Authorization");
        if (header == null || header.isBlank()) {
            throw unauthorized("Sign in first: send 'Authorization: Bearer <access token>' (POST /api/v1/auth/sign-in).");
        }
        String token = BearerToken.from(header).orElseThrow(() -> unauthorized(BearerToken.whatIsMissing(header)));
        if (AdminAuth.isAdminToken(token)) {
            throw unauthorized("An admin token is not a person: sign in as a person (POST /api/v1/auth/sign-in;"
                    + " an operator can be one, see 'switchboard user add NAME --admin') and send that access token.");
        }
        return principal(token).orElseThrow(() -> ApiProblem.unauthorized(
                        "The access token is not valid or has expired; refresh it (POST /api/v1/auth/refresh) or sign in again.")
                .withHeader("WWW-Authenticate", CHALLENGE + ", error=\"invalid_token\""));
    }

    /** The session the request's access token belongs to (call after {@link #require}). */
    public String sessionOf(Context ctx) {
        return BearerToken.from(ctx.header("Authorization")).flatMap(tokens::verify).map(SessionTokens.AccessClaims::sessionId)
                .orElseThrow(() -> unauthorized("The access token is not valid or has expired."));
    }

    /** The principal of an access token, or empty when it is not (or no longer) valid. */
    public Optional<Principal> principal(String accessToken) {
        Optional<SessionTokens.AccessClaims> claims = tokens.verify(accessToken);
        if (claims.isEmpty()) {
            return Optional.empty();
        }
        SessionTokens.AccessClaims c = claims.get();
        if (tokens.isRevoked(c.sessionId())) {
            return Optional.empty();
        }
        KnownVersion known = currentVersion(c.personId());
        if (!known.exists() || known.version() != c.tokenVersion()) {
            return Optional.empty();
        }
        return Optional.of(new Principal(c.personId(), c.username(), c.admin()));
    }

    private KnownVersion currentVersion(String personId) {
        KnownVersion known = versions.get(personId);
        if (known != null) {
            return known;
        }
        long before = generation.get();
        KnownVersion fresh = people.credentialsById(personId)
                .map(c -> new KnownVersion(c.tokenVersion(), true))
                .orElse(new KnownVersion(-1, false));
        if (versions.size() >= MAX_CACHED_VERSIONS) {
            versions.clear();
        }
        // What was read may predate a revocation that has since been noticed: keep it only if
        // nothing was forgotten meanwhile (a forget moves the generation before it clears).
        if (generation.get() == before) {
            versions.put(personId, fresh);
            if (generation.get() != before) {
                versions.remove(personId, fresh);
            }
        }
        return fresh;
    }

    /** Forgets one person's cached version, after a change to it has committed. */
    private void forget(String personId) {
        generation.incrementAndGet();
        versions.remove(personId);
    }

    /**
     * Starts polling the people revision, and deleting expired refresh tokens hourly. Without
     * it (the CLI), token versions are looked up once and kept.
     */
    public synchronized void start() {
        if (maintenance != null) {
            return;
        }
        knownRevision = people.revision();
        knownRevocations = tokens.revocationRevision();
        tokens.loadRevocations();
        maintenance = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("auth-maintenance").factory());
        maintenance.scheduleWithFixedDelay(this::pollRevision, revisionPoll.toMillis(), revisionPoll.toMillis(),
                TimeUnit.MILLISECONDS);
        maintenance.scheduleWithFixedDelay(this::deleteExpiredRefreshTokens, 1, 60, TimeUnit.MINUTES);
    }

    public synchronized void stop() {
        if (maintenance != null) {
            maintenance.shutdownNow();
            maintenance = null;
        }
    }

    // package-private: the tests call it to pass over the store at a moment of their choosing
    void pollRevision() {
        try {
            long revision = people.revision();
            if (revision != knownRevision) {
                generation.incrementAndGet();
                versions.clear();
                // the way the CLI's unlocks arrive, and the safety net for announcements this node missed
                List<PersonStore.Unlock> unlocks = people.unlocksBetween(knownRevision, revision);
                synchronized (unlockTurn) {
                    for (PersonStore.Unlock unlock : unlocks) {
                        // those made or heard here were cleared at once (see unlockTurn)
                        if (clearedHere.remove(unlock.revision()) == null) {
                            clearLockout(unlock.username());
                        }
                    }
                    // one cleared while this poll read the store is past it now: nothing to skip later
                    long polled = revision;
                    clearedHere.keySet().removeIf(unlockRevision -> unlockRevision <= polled);
                    knownRevision = revision;
                }
            }
            peopleReads.succeeded();
        } catch (RuntimeException e) {
            peopleReads.failed(e);
        }
        try {
            // Sign-outs have a revision of their own: they end one sign-in, which the revocation
            // list covers, so the token versions cached here stay.
            long revocations = tokens.revocationRevision();
            if (revocations != knownRevocations) {
                tokens.loadNewRevocations();
                knownRevocations = revocations;
            }
            revocationReads.succeeded();
        } catch (RuntimeException e) {
            revocationReads.failed(e);
        }
    }

    private void deleteExpiredRefreshTokens() {
        try {
            tokens.deleteExpired();
            people.deleteUnlocksBefore(clock.millis() - UNLOCK_RECORDS_KEPT.toMillis());
        } catch (RuntimeException e) {
            log.warn("deleting expired refresh tokens failed: {}", e.toString());
        }
    }

    private String hash(String password) {
        try {
            return hasher.hash(password);
        } catch (PasswordHasher.Busy e) {
            throw ApiProblem.unavailable("Too many password operations at once; retry in a moment.").withHeader("Retry-After", "1");
        }
    }

    private static String userKey(String name) {
        return "user:" + name;
    }

    private static String userAtAddressKey(String name, String address) {
        return userKey(name) + "@" + address;
    }

    private static String passwordChangeKey(String sessionId) {
        return "password-change:" + sessionId;
    }

    /** Tells the other nodes of an attempt this node counted (see the class comment). */
    private void announce(AttemptCounted attempt) {
        Bus connected = bus;
        if (connected != null && connected.spansNodes()) {
            connected.publish(ATTEMPT_COUNTED, attempt);
        }
    }

    /** Counts another node's attempt against the same brakes it was counted against there. */
    private void attemptHeard(AttemptCounted attempt) {
        if (origin.equals(attempt.origin()) || tooLong(attempt.username(), 256) || tooLong(attempt.address(), 256)
                || tooLong(attempt.passwordChangeSession(), 256)) {
            // this node's own, or not one a node could have counted: sign-in refuses names over 64
            // characters (the room above that is for nodes of earlier versions, whose full
            // lower-casing could lengthen a name)
            return;
        }
        if (attempt.username() != null && attempt.address() != null) {
            userAtAddressFailures.count(userAtAddressKey(attempt.username(), attempt.address()));
            userFailures.count(userKey(attempt.username()));
            addressFailures.count(attempt.address());
        } else if (attempt.address() != null) {
            addressSignUps.count(attempt.address());
        } else if (attempt.passwordChangeSession() != null) {
            userAtAddressFailures.count(passwordChangeKey(attempt.passwordChangeSession()));
        }
    }

    /**
     * One warning for each brake this failed sign-in used up, when it did (the failures this node
     * heard of from others are logged by the nodes that saw them): the account's name, the address
     * and the brake; never the password, nor text tried as a name that is no account's (it may be a
     * password typed in the wrong field, or lines meant to forge log entries).
     */
    private void logLockouts(String name, String userAtAddressKey, String userKey, String address) {
        if (userAtAddressFailures.lockedOutNow(userAtAddressKey)) {
            String more = lockoutLine();
            if (more != null) {
                log.warn("sign-ins as {} from {} are locked out for up to {}: too many failed sign-ins (per user from one"
                        + " address){}", name, address,
                        io.switchboard.platform.config.ConfigSection.written(userAtAddressFailures.window()), more);
            }
        }
        if (userFailures.lockedOutNow(userKey)) {
            String more = lockoutLine();
            if (more != null) {
                log.warn("sign-ins as {} are locked out from every address for up to {}: too many failed sign-ins"
                        + " (per user; the last from {}){}", name,
                        io.switchboard.platform.config.ConfigSection.written(userFailures.window()), address, more);
            }
        }
        if (addressFailures.lockedOutNow(address)) {
            String more = lockoutLine();
            if (more != null) {
                log.warn("sign-ins from {} are locked out for up to {}: too many failed sign-ins (per address; the last as"
                        + " {}){}", address, io.switchboard.platform.config.ConfigSection.written(addressFailures.window()),
                        name, more);
            }
        }
    }

    /**
     * Whether another lockout warning may be written this minute, and what to add to it: null when
     * {@link #LOCKOUT_LINES_PER_MINUTE} were written in the minute already (an attacker rotating
     * addresses or names would otherwise get a warning per allowance), else "" or how many were
     * left out since the last one written.
     */
    private String lockoutLine() {
        OptionalInt leftOut = lockoutLines.take();
        if (leftOut.isEmpty()) {
            return null;
        }
        return leftOut.getAsInt() == 0 ? "" : " (" + leftOut.getAsInt() + " more lockout warnings left out before this one:"
                + " at most " + LOCKOUT_LINES_PER_MINUTE + " a minute are written)";
    }

    private static boolean tooLong(String text, int max) {
        return text != null && text.length() > max;
    }

    private void reserve(FailureLimiter limiter, String key, String meter) {
        Duration wait = limiter.tryReserve(key);
        if (!wait.isZero()) {
            count(meter, "limited");
            long seconds = Math.max(1, (wait.toMillis() + 999) / 1000);
            throw new ApiProblem(429, "Too Many Requests", "Too many attempts; retry in " + seconds + " s.")
                    .withHeader("Retry-After", Long.toString(seconds));
        }
    }

    private static ApiProblem unauthorized(String detail) {
        return ApiProblem.unauthorized(detail).withHeader("WWW-Authenticate", CHALLENGE);
    }

    void count(String what, String result) {
        Counter.builder("switchboard.auth." + what)
                .description(switch (what) {
                    case "sign_ups" -> "Sign-ups by result";
                    case "sign_ins" -> "Sign-ins by result";
                    case "refreshes" -> "Token refreshes by result";
                    case "sign_outs" -> "Sign-outs refused before they ran (other_site)";
                    case "password_changes" -> "Password changes by result";
                    case "unlocks" -> "Sign-in lockouts cleared through this node's API (the CLI's are not counted)";
                    default -> "Authentication operations by result";
                })
                .tag("result", result)
                .register(meters)
                .increment();
    }
}
