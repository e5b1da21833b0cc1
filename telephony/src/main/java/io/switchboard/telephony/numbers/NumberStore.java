package io.switchboard.telephony.numbers;

import io.switchboard.telephony.accounts.AccountException;
import io.switchboard.telephony.accounts.AccountStore;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Numbers in the node's store, shared by the running node, the HTTP API and the CLI like
 * {@link AccountStore}: every change bumps {@code sip_number_revision} in its transaction, which
 * {@link NumberDirectory} polls. Each write takes that row first, so on PostgreSQL writes to numbers
 * run one after another and a check made inside one (does this account exist?) still holds at commit.
 */
public final class NumberStore {
    /** Dialable on a keypad or typed as a name; '#' travels escaped (%23) in a SIP URI (RFC 3261 §25.1). */
    private static final Pattern NUMBER = Pattern.compile("[A-Za-z0-9*#+._-]{1,32}");
    public static final int MAX_LABEL_LENGTH = 100;

    private final Jdbi jdbi;
    private final Clock clock;

    /** A number after a write, and whether the write created it. */
    public record Saved(NumberEntry entry, boolean created) {
    }

    public NumberStore(Jdbi jdbi, Clock clock) {
        this.jdbi = jdbi;
        this.clock = clock;
    }

    public static String validNumber(String number) {
        if (number == null || !NUMBER.matcher(number).matches()) {
            throw new NumberException(NumberException.Kind.INVALID, "number",
                    "a number is 1-32 digits, letters or * # + - . _ (got '" + io.switchboard.platform.http.QuotedValue.of(number) + "')");
        }
        return number;
    }

    /** The label to store: null keeps the current one, blank removes it. */
    public static String validLabel(String label) {
        if (label == null) {
            return null;
        }
        String stripped = label.strip();
        if (stripped.length() > MAX_LABEL_LENGTH) {
            throw new NumberException(NumberException.Kind.INVALID, "label",
                    "a label is at most " + MAX_LABEL_LENGTH + " characters");
        }
        for (int i = 0; i < stripped.length(); i++) {
            if (Character.isISOControl(stripped.charAt(i))) {
                throw new NumberException(NumberException.Kind.INVALID, "label", "a label must not contain control characters");
            }
        }
        return stripped;
    }

    public static String validDomain(String domain) {
        try {
            return AccountStore.validDomain(domain);
        } catch (AccountException e) {
            throw new NumberException(NumberException.Kind.INVALID, "domain", e.getMessage());
        }
    }

    /** Usernames, each valid, without duplicates, sorted; at least one. */
    public static SortedSet<String> validMembers(Collection<String> usernames) {
        if (usernames == null || usernames.isEmpty()) {
            throw new NumberException(NumberException.Kind.INVALID, "accounts", "a number needs at least one account");
        }
        SortedSet<String> members = new TreeSet<>();
        for (String username : usernames) {
            try {
                members.add(AccountStore.validUsername(username == null ? null : username.strip()));
            } catch (AccountException e) {
                throw new NumberException(NumberException.Kind.INVALID, "accounts", e.getMessage());
            }
        }
        return members;
    }

    /**
     * Creates the number with exactly these members, or gives an existing one exactly these members.
     *
     * @param label null keeps the current label, blank removes it
     */
    public Saved put(String number, String domain, String label, Collection<String> usernames) {
        return write(number, domain, label, usernames, true);
    }

    /** Creates the number with these members, or adds them to an existing one (label as in {@link #put}). */
    public Saved addMembers(String number, String domain, String label, Collection<String> usernames) {
        return write(number, domain, label, usernames, false);
    }

    private Saved write(String number, String domain, String label, Collection<String> usernames, boolean replace) {
        validNumber(number);
        String realm = validDomain(domain);
        String newLabel = validLabel(label);
        SortedSet<String> members = validMembers(usernames);
        long now = clock.millis();
        return jdbi.inTransaction(h -> {
            bumpRevision(h);
            refuseAccountName(h, number, realm);
            refuseUnknownAccounts(h, realm, members);
            boolean created = find(h, number, realm).isEmpty();
            if (created) {
                h.createUpdate("INSERT INTO sip_numbers (number, domain, label, created_at, updated_at) "
                                + "VALUES (:n, :d, :l, :now, :now)")
                        .bind("n", number).bind("d", realm).bind("l", blankToNull(newLabel)).bind("now", now).execute();
            } else {
                touch(h, number, realm, newLabel, now);
                if (replace) {
                    h.createUpdate("DELETE FROM sip_number_members WHERE number = :n AND domain = :d")
                            .bind("n", number).bind("d", realm).execute();
                }
            }
            var batch = h.prepareBatch("INSERT INTO sip_number_members (number, domain, username) VALUES (:n, :d, :u) "
                    + "ON CONFLICT (number, domain, username) DO NOTHING");
            for (String member : members) {
                batch.bind("n", number).bind("d", realm).bind("u", member).add();
            }
            batch.execute();
            return new Saved(find(h, number, realm).orElseThrow(), created);
        });
    }

    /** Takes accounts out of a number; each must be a member, and at least one member must remain. */
    public NumberEntry removeMembers(String number, String domain, Collection<String> usernames) {
        validNumber(number);
        String realm = validDomain(domain);
        SortedSet<String> leaving = validMembers(usernames);
        long now = clock.millis();
        return jdbi.inTransaction(h -> {
            bumpRevision(h);
            NumberEntry entry = find(h, number, realm).orElseThrow(() -> notFound(number, realm));
            List<String> current = entry.group().members();
            List<String> strangers = leaving.stream().filter(u -> !current.contains(u)).toList();
            if (!strangers.isEmpty()) {
                throw new NumberException(NumberException.Kind.INVALID, "accounts",
                        String.join(", ", strangers) + (strangers.size() == 1 ? " is" : " are") + " not in number "
                                + number + "@" + realm);
            }
            // The last may go too, as when the last member's account is removed: the number
            // stays, answering 480, until it is given accounts again (a flat whose residents moved out).
            h.createUpdate("DELETE FROM sip_number_members WHERE number = :n AND domain = :d AND username IN (<users>)")
                    .bind("n", number).bind("d", realm).bindList("users", List.copyOf(leaving)).execute();
            touch(h, number, realm, null, now);
            return find(h, number, realm).orElseThrow();
        });
    }

    public void remove(String number, String domain) {
        validNumber(number);
        String realm = validDomain(domain);
        jdbi.useTransaction(h -> {
            bumpRevision(h);
            // Members go by ON DELETE CASCADE; deleted here too, so nothing depends on the foreign key setting.
            h.createUpdate("DELETE FROM sip_number_members WHERE number = :n AND domain = :d")
                    .bind("n", number).bind("d", realm).execute();
            int removed = h.createUpdate("DELETE FROM sip_numbers WHERE number = :n AND domain = :d")
                    .bind("n", number).bind("d", realm).execute();
            if (removed == 0) {
                throw notFound(number, realm);
            }
        });
    }

    public Optional<NumberEntry> find(String number, String domain) {
        validNumber(number);
        String realm = validDomain(domain);
        return jdbi.withHandle(h -> find(h, number, realm));
    }

    /** Every number, by domain then number. */
    public List<NumberEntry> list() {
        return jdbi.inTransaction(h -> {
            Map<String, SortedSet<String>> members = new HashMap<>();
            h.createQuery("SELECT number, domain, username FROM sip_number_members")
                    .map((rs, ctx) -> new String[]{key(rs.getString("number"), rs.getString("domain")), rs.getString("username")})
                    .forEach(row -> members.computeIfAbsent(row[0], k -> new TreeSet<>()).add(row[1]));
            List<NumberEntry> all = new ArrayList<>(h.createQuery("SELECT * FROM sip_numbers")
                    .map((rs, ctx) -> entry(rs, members.getOrDefault(key(rs.getString("number"), rs.getString("domain")),
                            new TreeSet<>())))
                    .list());
            all.sort(Comparator.comparing((NumberEntry e) -> e.group().domain()).thenComparing(e -> e.group().number()));
            return all;
        });
    }

    /**
     * Moves with every change to numbers and to accounts (removing an account takes it out of its
     * numbers), so one poll of this value tells a reader whether to reload.
     */
    public long revision() {
        return jdbi.withHandle(h -> h.createQuery("SELECT n.revision + a.revision FROM sip_number_revision n, "
                        + "sip_account_revision a WHERE n.id = 1 AND a.id = 1")
                .mapTo(Long.class).one());
    }

    private static Optional<NumberEntry> find(Handle h, String number, String domain) {
        SortedSet<String> members = new TreeSet<>(h.createQuery(
                        "SELECT username FROM sip_number_members WHERE number = :n AND domain = :d")
                .bind("n", number).bind("d", domain)
                .mapTo(String.class).list());
        return h.createQuery("SELECT * FROM sip_numbers WHERE number = :n AND domain = :d")
                .bind("n", number).bind("d", domain)
                .map((rs, ctx) -> entry(rs, members))
                .findOne();
    }

    /** A number and an account of the same name would make dialing it ambiguous. */
    private static void refuseAccountName(Handle h, String number, String domain) {
        boolean taken = h.createQuery("SELECT COUNT(*) FROM sip_accounts WHERE username = :n AND domain = :d")
                .bind("n", number).bind("d", domain).mapTo(Long.class).one() > 0;
        if (taken) {
            throw new NumberException(NumberException.Kind.CONFLICT, "number", "number " + number
                    + " is the username of an account in " + domain + "; dialing it would be ambiguous, pick another number");
        }
    }

    private static void refuseUnknownAccounts(Handle h, String domain, SortedSet<String> members) {
        Set<String> found = new TreeSet<>(h.createQuery(
                        "SELECT username FROM sip_accounts WHERE domain = :d AND username IN (<users>)")
                .bind("d", domain).bindList("users", List.copyOf(members))
                .mapTo(String.class).list());
        List<String> missing = members.stream().filter(u -> !found.contains(u)).toList();
        if (!missing.isEmpty()) {
            throw new NumberException(NumberException.Kind.UNKNOWN_ACCOUNT, "accounts",
                    (missing.size() == 1 ? "no account " : "no accounts ") + String.join(", ", missing) + " in " + domain);
        }
    }

    /** Marks the number changed; a non-null label replaces the current one (blank removes it). */
    private static void touch(Handle h, String number, String domain, String label, long now) {
        if (label == null) {
            h.createUpdate("UPDATE sip_numbers SET updated_at = :now WHERE number = :n AND domain = :d")
                    .bind("n", number).bind("d", domain).bind("now", now).execute();
        } else {
            h.createUpdate("UPDATE sip_numbers SET label = :l, updated_at = :now WHERE number = :n AND domain = :d")
                    .bind("n", number).bind("d", domain).bind("l", blankToNull(label)).bind("now", now).execute();
        }
    }

    private static NumberEntry entry(ResultSet rs, Collection<String> members) throws SQLException {
        RingGroup group = new RingGroup(rs.getString("number"), rs.getString("domain"), rs.getString("label"),
                List.copyOf(members));
        return new NumberEntry(group, Instant.ofEpochMilli(rs.getLong("created_at")),
                Instant.ofEpochMilli(rs.getLong("updated_at")));
    }

    private static String key(String number, String domain) {
        return number + "@" + domain;
    }

    private static String blankToNull(String label) {
        return label == null || label.isBlank() ? null : label;
    }

    private static void bumpRevision(Handle h) {
        h.createUpdate("UPDATE sip_number_revision SET revision = revision + 1 WHERE id = 1").execute();
    }

    private static NumberException notFound(String number, String domain) {
        return new NumberException(NumberException.Kind.NOT_FOUND, "number", "no number " + number + "@" + domain);
    }
}
