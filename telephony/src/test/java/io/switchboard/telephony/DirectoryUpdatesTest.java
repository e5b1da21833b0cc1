package io.switchboard.telephony;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.platform.bus.Bus;
import io.switchboard.platform.bus.LocalBus;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import io.switchboard.telephony.accounts.AccountDirectory;
import io.switchboard.telephony.accounts.AccountStore;
import io.switchboard.telephony.numbers.NumberDirectory;
import io.switchboard.telephony.numbers.NumberStore;
import io.switchboard.telephony.proxy.ProxyCore;
import io.switchboard.telephony.registrar.Binding;
import io.switchboard.telephony.registrar.BindingStore;
import io.switchboard.telephony.registrar.LocationService;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two nodes' directories on one store and one bus, with the store poll slowed to an hour so that
 * only the announcements can bring a change across: the node that made a change has it in force
 * when {@code accountsChanged()} returns, the other within a second of hearing it.
 */
class DirectoryUpdatesTest {
    static final String DOMAIN = "example.test";
    static final Duration NO_POLL = Duration.ofHours(1);

    @TempDir
    Path dir;
    Store store;
    Bus bus;
    NodeParts a;
    NodeParts b;
    final List<AutoCloseable> closing = new ArrayList<>();

    /** What one node holds of accounts, numbers and registrations. */
    final class NodeParts {
        final AccountDirectory accounts = new AccountDirectory(new AccountStore(store.jdbi(), Clock.systemUTC()), DOMAIN, NO_POLL);
        final NumberDirectory numbers = new NumberDirectory(new NumberStore(store.jdbi(), Clock.systemUTC()), NO_POLL);
        final LocationService location = new LocationService();
        final BindingStore bindings = new BindingStore(store.jdbi(), 1000);
        final ProxyCore proxy = new ProxyCore(null, location, accounts, numbers, null, null, null, null, Clock.systemUTC(),
                (reason, source, what) -> { }, null);
        final DirectoryUpdates updates = new DirectoryUpdates(accounts, numbers, location, bindings, proxy, bus);

        NodeParts() {
            accounts.start();
            numbers.start();
            bindings.start();
            updates.start();
            closing.addAll(List.of(updates, bindings, numbers, accounts));
        }
    }

    @BeforeEach
    void open() {
        store = Store.open(StoreSettings.sqliteIn(dir));
        store.migrate("telephony");
        bus = new LocalBus(new SimpleMeterRegistry());
        a = new NodeParts();
        b = new NodeParts();
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
        store.close();
    }

    static Binding binding(String user) {
        long now = System.currentTimeMillis();
        return new Binding("sip:" + user + "@" + DOMAIN, "sip:" + user + "@192.0.2.7:5060", "<sip:" + user + "@192.0.2.7:5060>",
                "call-" + user, 1, 1000, now + 600_000, now, "UDP", "192.0.2.7", 5060, "127.0.0.1", 5060, "f1", null, null,
                0, null, null, now);
    }

    @Test
    void aChangeIsInForceHereAtOnceAndOnTheOtherNodeWhenItHearsOfIt() throws Exception {
        AccountStore accounts = new AccountStore(store.jdbi(), Clock.systemUTC());
        accounts.add("hana", DOMAIN, "secret-hana");
        a.updates.accountsChanged();
        assertThat(a.accounts.lookup("hana", DOMAIN)).isPresent();
        await().atMost(Duration.ofSeconds(1)).until(() -> b.accounts.lookup("hana", DOMAIN).isPresent());

        new NumberStore(store.jdbi(), Clock.systemUTC()).put("7", DOMAIN, null, List.of("hana"));
        a.updates.numbersChanged();
        assertThat(a.numbers.lookup("7", DOMAIN)).isPresent();
        await().atMost(Duration.ofSeconds(1)).until(() -> b.numbers.lookup("7", DOMAIN).isPresent());

        // hana's phone registered at node B; she is removed through node A
        Binding phone = binding("hana");
        b.location.update(phone.aor(), current -> List.of(phone));
        b.bindings.submit(List.of(phone), List.of()).get();
        accounts.remove("hana", DOMAIN);
        a.updates.accountsChanged();
        assertThat(a.accounts.lookup("hana", DOMAIN)).isEmpty();
        assertThat(a.numbers.lookup("7", DOMAIN).orElseThrow().members()).isEmpty();
        await().atMost(Duration.ofSeconds(1)).until(() -> b.location.lookup(phone.aor(), System.currentTimeMillis()).isEmpty()
                && b.numbers.lookup("7", DOMAIN).orElseThrow().members().isEmpty());
        assertThat(b.location.size()).isZero();
        long stored = store.jdbi().withHandle(h -> h.createQuery("SELECT COUNT(*) FROM sip_bindings").mapTo(Long.class).one());
        assertThat(stored).isZero();
    }
}
