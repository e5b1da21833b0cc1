package io.switchboard.telephony.numbers;

import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import io.switchboard.telephony.accounts.AccountException;
import io.switchboard.telephony.accounts.AccountStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** Numbers in the store and the node's in-memory view of them, on SQLite (the PostgreSQL subclass: again). */
class NumberStoreTest {
    static final String DOMAIN = "example.test";

    @TempDir
    Path dir;
    Store store;
    AccountStore accounts;
    NumberStore numbers;

    /** The store under test; the PostgreSQL subclass overrides it. */
    StoreSettings storeSettings() throws Exception {
        return StoreSettings.sqliteIn(dir);
    }

    @BeforeEach
    void open() throws Exception {
        store = Store.open(storeSettings());
        store.migrate("telephony");
        accounts = new AccountStore(store.jdbi(), Clock.systemUTC());
        numbers = new NumberStore(store.jdbi(), Clock.systemUTC());
        for (String user : List.of("alice", "bob", "carol")) {
            accounts.add(user, DOMAIN, "secret-" + user);
        }
        accounts.add("dave", "other.test", "secret-dave");
    }

    @AfterEach
    void close() {
        if (store != null) {
            store.close();
            store = null;
        }
    }

    @Test
    void putCreatesThenReplacesMembersAndKeepsTheLabelUnlessGiven() {
        NumberStore.Saved created = numbers.put("42", DOMAIN, "Flat 42", List.of("bob", "alice", "bob"));
        assertThat(created.created()).isTrue();
        assertThat(created.entry().group()).isEqualTo(new RingGroup("42", DOMAIN, "Flat 42", List.of("alice", "bob")));

        NumberStore.Saved replaced = numbers.put("42", DOMAIN, null, List.of("carol"));
        assertThat(replaced.created()).isFalse();
        assertThat(replaced.entry().group().members()).containsExactly("carol");
        assertThat(replaced.entry().group().label()).isEqualTo("Flat 42");
        assertThat(replaced.entry().createdAt()).isEqualTo(created.entry().createdAt());

        assertThat(numbers.put("42", DOMAIN, "", List.of("carol")).entry().group().label()).isNull();
        assertThat(numbers.find("42", DOMAIN)).hasValueSatisfying(e -> assertThat(e.group().label()).isNull());
    }

    @Test
    void addMembersCreatesOrAdds() {
        assertThat(numbers.addMembers("7", DOMAIN, null, List.of("alice")).created()).isTrue();
        NumberStore.Saved added = numbers.addMembers("7", DOMAIN, "Reception", List.of("carol", "alice"));
        assertThat(added.created()).isFalse();
        assertThat(added.entry().group()).isEqualTo(new RingGroup("7", DOMAIN, "Reception", List.of("alice", "carol")));
    }

    @Test
    void removeMembersNeedsMembersAndMayLeaveTheNumberEmpty() {
        numbers.put("7", DOMAIN, null, List.of("alice", "bob", "carol"));
        assertThat(numbers.removeMembers("7", DOMAIN, List.of("bob")).group().members()).containsExactly("alice", "carol");
        assertThatThrownBy(() -> numbers.removeMembers("7", DOMAIN, List.of("bob")))
                .isInstanceOfSatisfying(NumberException.class, e -> {
                    assertThat(e.kind()).isEqualTo(NumberException.Kind.INVALID);
                    assertThat(e.getMessage()).contains("bob is not in number 7");
                });
        // like removing the last member's account: the number stays, with nobody to ring
        assertThat(numbers.removeMembers("7", DOMAIN, List.of("alice", "carol")).group().members()).isEmpty();
        assertThat(numbers.find("7", DOMAIN)).isPresent();
        assertThat(numbers.addMembers("7", DOMAIN, null, List.of("bob")).entry().group().members()).containsExactly("bob");
        assertThatThrownBy(() -> numbers.removeMembers("8", DOMAIN, List.of("alice")))
                .isInstanceOfSatisfying(NumberException.class, e -> assertThat(e.kind()).isEqualTo(NumberException.Kind.NOT_FOUND));
    }

    @Test
    void removeDeletesTheNumberAndItsMembers() {
        numbers.put("7", DOMAIN, null, List.of("alice"));
        numbers.remove("7", DOMAIN);
        assertThat(numbers.find("7", DOMAIN)).isEmpty();
        assertThat(numbers.list()).isEmpty();
        assertThatThrownBy(() -> numbers.remove("7", DOMAIN))
                .isInstanceOfSatisfying(NumberException.class, e -> {
                    assertThat(e.kind()).isEqualTo(NumberException.Kind.NOT_FOUND);
                    assertThat(e.getMessage()).isEqualTo("no number 7@" + DOMAIN);
                });
        // created again from scratch, no members left over
        assertThat(numbers.put("7", DOMAIN, null, List.of("bob")).entry().group().members()).containsExactly("bob");
    }

    @Test
    void numberSyntax() {
        for (String good : List.of("42", "*21#", "+4930123", "flat-42.a_b", "A".repeat(32))) {
            assertThat(NumberStore.validNumber(good)).isEqualTo(good);
        }
        for (String bad : List.of("", "a b", "42@x", "A".repeat(33), "<script>", "flat/42", "ü")) {
            assertThatThrownBy(() -> numbers.put(bad, DOMAIN, null, List.of("alice")))
                    .isInstanceOfSatisfying(NumberException.class, e -> {
                        assertThat(e.kind()).isEqualTo(NumberException.Kind.INVALID);
                        assertThat(e.field()).isEqualTo("number");
                        assertThat(e.getMessage()).contains("1-32 digits, letters or * # + - . _");
                    });
        }
        assertThatThrownBy(() -> NumberStore.validNumber(null)).isInstanceOf(NumberException.class);
        assertThatThrownBy(() -> numbers.put("42", DOMAIN, "x".repeat(101), List.of("alice")))
                .isInstanceOfSatisfying(NumberException.class, e -> assertThat(e.field()).isEqualTo("label"));
        assertThatThrownBy(() -> numbers.put("42", DOMAIN, "a\u0007b", List.of("alice")))
                .isInstanceOfSatisfying(NumberException.class, e -> assertThat(e.field()).isEqualTo("label"));
        assertThatThrownBy(() -> numbers.put("42", "not a domain", null, List.of("alice")))
                .isInstanceOfSatisfying(NumberException.class, e -> assertThat(e.field()).isEqualTo("domain"));
        assertThatThrownBy(() -> numbers.put("42", DOMAIN, null, List.of()))
                .isInstanceOfSatisfying(NumberException.class, e -> assertThat(e.field()).isEqualTo("accounts"));
        assertThatThrownBy(() -> numbers.put("42", DOMAIN, null, List.of("bad user")))
                .isInstanceOfSatisfying(NumberException.class, e -> assertThat(e.field()).isEqualTo("accounts"));
        assertThat(numbers.list()).isEmpty();
    }

    @Test
    void membersMustBeAccountsOfTheNumbersDomain() {
        assertThatThrownBy(() -> numbers.put("42", DOMAIN, null, List.of("alice", "zoe", "dave")))
                .isInstanceOfSatisfying(NumberException.class, e -> {
                    assertThat(e.kind()).isEqualTo(NumberException.Kind.UNKNOWN_ACCOUNT);
                    assertThat(e.field()).isEqualTo("accounts");
                    assertThat(e.getMessage()).isEqualTo("no accounts dave, zoe in " + DOMAIN);
                });
        assertThat(numbers.put("42", "OTHER.test", null, List.of("dave")).entry().group())
                .isEqualTo(new RingGroup("42", "other.test", null, List.of("dave")));
        assertThat(numbers.list()).extracting(e -> e.group().address()).containsExactly("42@other.test");
    }

    @Test
    void aNumberAndAnAccountNeverShareAName() {
        assertThatThrownBy(() -> numbers.put("alice", DOMAIN, null, List.of("bob")))
                .isInstanceOfSatisfying(NumberException.class, e -> {
                    assertThat(e.kind()).isEqualTo(NumberException.Kind.CONFLICT);
                    assertThat(e.field()).isEqualTo("number");
                    assertThat(e.getMessage()).contains("ambiguous");
                });
        // the same name in another domain is another address
        assertThat(numbers.put("dave", DOMAIN, null, List.of("bob")).created()).isTrue();
        assertThatThrownBy(() -> accounts.add("dave", DOMAIN, "secret-dave"))
                .isInstanceOfSatisfying(AccountException.class, e -> {
                    assertThat(e.kind()).isEqualTo(AccountException.Kind.EXISTS);
                    assertThat(e.getMessage()).contains("dave is a number in " + DOMAIN);
                });
        List<String[]> pairs = List.<String[]>of(new String[]{"erin", "secret-erin"}, new String[]{"dave", "secret-dave"});
        assertThatThrownBy(() -> accounts.importAll(pairs, DOMAIN)).isInstanceOf(AccountException.class);
        assertThat(accounts.find("erin", DOMAIN)).isEmpty();
    }

    @Test
    void removingAnAccountTakesItOutOfItsNumbers() {
        numbers.put("42", DOMAIN, null, List.of("alice", "bob"));
        numbers.put("43", DOMAIN, null, List.of("alice"));
        java.time.Instant untouched = numbers.find("43", DOMAIN).orElseThrow().updatedAt();
        long before = numbers.revision();
        java.time.Instant later = java.time.Instant.now().plusSeconds(3600).truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
        new AccountStore(store.jdbi(), Clock.fixed(later, java.time.ZoneOffset.UTC)).remove("bob", DOMAIN);
        assertThat(numbers.revision()).isGreaterThan(before);
        assertThat(numbers.find("42", DOMAIN)).hasValueSatisfying(e -> {
            assertThat(e.group().members()).containsExactly("alice");
            assertThat(e.updatedAt()).as("the number changed when bob left it").isEqualTo(later);
        });
        assertThat(numbers.find("43", DOMAIN).orElseThrow().updatedAt()).isEqualTo(untouched);
        // an account of the same name created later is not a member by accident
        accounts.add("bob", DOMAIN, "secret-bob");
        assertThat(numbers.find("42", DOMAIN)).hasValueSatisfying(e -> assertThat(e.group().members()).containsExactly("alice"));
    }

    @Test
    void everyWriteMovesTheRevisionAndAFailedOneDoesNot() {
        long start = numbers.revision();
        numbers.put("42", DOMAIN, null, List.of("alice"));
        long afterPut = numbers.revision();
        assertThat(afterPut).isGreaterThan(start);
        assertThatThrownBy(() -> numbers.put("43", DOMAIN, null, List.of("nobody"))).isInstanceOf(NumberException.class);
        assertThat(numbers.revision()).isEqualTo(afterPut);
        numbers.addMembers("42", DOMAIN, null, List.of("bob"));
        assertThat(numbers.revision()).isGreaterThan(afterPut);
    }

    @Test
    void directoryServesLookupsAndSeesChangesWithinASecond() {
        numbers.put("42", DOMAIN, "Flat 42", List.of("bob", "alice"));
        try (NumberDirectory directory = new NumberDirectory(numbers, Duration.ofMillis(250))) {
            directory.start();
            assertThat(directory.size()).isEqualTo(1);
            assertThat(directory.lookup("42", DOMAIN))
                    .contains(new RingGroup("42", DOMAIN, "Flat 42", List.of("alice", "bob")));
            assertThat(directory.lookup("42", "EXAMPLE.TEST")).isPresent();
            assertThat(directory.lookup("42", "other.test")).isEmpty();
            assertThat(directory.lookup("43", DOMAIN)).isEmpty();
            assertThat(directory.lookup(null, DOMAIN)).isEmpty();

            // another writer (the CLI, the API, another node) changes the store; the poller notices
            numbers.put("flat", DOMAIN, null, List.of("carol"));
            await().atMost(Duration.ofSeconds(1)).until(() -> directory.lookup("flat", DOMAIN).isPresent());
            assertThat(directory.lookup("FLAT", DOMAIN)).isEmpty();

            numbers.put("42", DOMAIN, null, List.of("carol"));
            await().atMost(Duration.ofSeconds(1)).until(() ->
                    directory.lookup("42", DOMAIN).orElseThrow().members().equals(List.of("carol")));

            accounts.remove("carol", DOMAIN);
            await().atMost(Duration.ofSeconds(1)).until(() -> directory.lookup("42", DOMAIN).orElseThrow().members().isEmpty());

            numbers.remove("flat", DOMAIN);
            await().atMost(Duration.ofSeconds(1)).until(() -> directory.lookup("flat", DOMAIN).isEmpty());
            assertThat(directory.size()).isEqualTo(1);
        }
    }

    @Test
    void refreshReloadsAtOnce() {
        NumberDirectory directory = new NumberDirectory(numbers, Duration.ofHours(1));
        directory.refresh();
        assertThat(directory.size()).isZero();
        numbers.put("42", DOMAIN, null, List.of("alice"));
        directory.refresh();
        assertThat(directory.lookup("42", DOMAIN)).isPresent();
    }
}
