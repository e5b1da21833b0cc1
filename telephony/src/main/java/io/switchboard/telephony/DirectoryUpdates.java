package io.switchboard.telephony;

import io.switchboard.platform.bus.Bus;
import io.switchboard.telephony.accounts.Account;
import io.switchboard.telephony.accounts.AccountDirectory;
import io.switchboard.telephony.numbers.NumberDirectory;
import io.switchboard.telephony.proxy.ProxyCore;
import io.switchboard.telephony.registrar.Binding;
import io.switchboard.telephony.registrar.BindingStore;
import io.switchboard.telephony.registrar.LocationService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Makes a change to accounts or numbers take effect at once, on this node and on every other.
 * <p>
 * The store is the truth; the directories are this node's copies of it. Three ways bring a copy
 * up to date, fastest first: the node that served an API call reloads before it answers
 * ({@link #accountsChanged()}, {@link #numbersChanged()}); it then announces the change on the bus
 * ({@value #ACCOUNTS_TOPIC}, {@value #NUMBERS_TOPIC}) and other nodes reload on hearing it; and
 * every node still polls the store's revisions, which catches the CLI (it has no bus) and any
 * announcement a node missed while cut off.
 * <p>
 * Whichever way a reload finds an account gone, it ends what the account had on this node: its
 * bindings leave the location service and the store, and calls ringing its devices are cancelled.
 */
public final class DirectoryUpdates implements AutoCloseable {
    static final String ACCOUNTS_TOPIC = "telephony.account.changed";
    static final String NUMBERS_TOPIC = "telephony.number.changed";
    /** How long an API call waits for the removed bindings' delete to commit before answering anyway. */
    private static final Duration STORE_WAIT = Duration.ofSeconds(5);
    private static final Logger log = LoggerFactory.getLogger(DirectoryUpdates.class);

    /** What is announced: only that something changed (the store says what), and which node said it. */
    public record Changed(String origin) {
    }

    private final AccountDirectory accounts;
    private final NumberDirectory numbers;
    private final LocationService location;
    private final BindingStore bindings;
    private final ProxyCore proxy;
    private final Bus bus;
    private final String origin = UUID.randomUUID().toString();
    private final List<Bus.Subscription> subscriptions = new ArrayList<>();

    public DirectoryUpdates(AccountDirectory accounts, NumberDirectory numbers, LocationService location,
                            BindingStore bindings, ProxyCore proxy, Bus bus) {
        this.accounts = accounts;
        this.numbers = numbers;
        this.location = location;
        this.bindings = bindings;
        this.proxy = proxy;
        this.bus = bus;
        accounts.onRemoved(this::removed);
    }

    /** Listens for other nodes' announcements. */
    public void start() {
        subscriptions.add(bus.subscribe(ACCOUNTS_TOPIC, Changed.class, event -> {
            if (!origin.equals(event.origin())) {
                // an account change can change numbers too (a removed account leaves them in the
                // same transaction), so both reload, each on its own poller thread and in no set
                // order; each reads the store as it is when it runs, so both end up current
                accounts.refreshSoon();
                numbers.refreshSoon();
            }
        }));
        subscriptions.add(bus.subscribe(NUMBERS_TOPIC, Changed.class, event -> {
            if (!origin.equals(event.origin())) {
                numbers.refreshSoon();
            }
        }));
    }

    @Override
    public void close() {
        subscriptions.forEach(Bus.Subscription::close);
        subscriptions.clear();
    }

    /**
     * Accounts changed in the store (this thread committed it): reload now, ending what removed
     * accounts had, then tell the other nodes. A failed reload is logged, not thrown: the change is
     * committed, and the poll retries.
     */
    public void accountsChanged() {
        try {
            accounts.refresh();
            numbers.refresh();
        } catch (RuntimeException e) {
            log.warn("could not reload accounts after a change (the poll will): {}", e.toString());
        }
        bus.publish(ACCOUNTS_TOPIC, new Changed(origin));
    }

    /** Numbers changed in the store: reload now, then tell the other nodes. */
    public void numbersChanged() {
        try {
            numbers.refresh();
        } catch (RuntimeException e) {
            log.warn("could not reload numbers after a change (the poll will): {}", e.toString());
        }
        bus.publish(NUMBERS_TOPIC, new Changed(origin));
    }

    /**
     * Removed accounts' bindings go (memory first, so no call is forked to them any more, then the
     * store, after any of their registrations still queued), then their ringing calls are cancelled.
     */
    private void removed(List<Account> removed) {
        List<Binding> gone = new ArrayList<>();
        for (Account account : removed) {
            String aor = "sip:" + account.address(); // the registrar's canonical AOR (RFC 3261 §10.3 step 5)
            gone.addAll(location.removeAll(aor));
            proxy.withdraw(aor);
        }
        if (gone.isEmpty()) {
            return;
        }
        log.info("removed {} registrations of removed accounts", gone.size());
        try {
            bindings.submit(List.of(), gone).get(STORE_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            // the account's own transaction deleted its stored bindings; this delete only covers
            // registrations that were still queued, and a node's start drops bindings without an account
            log.warn("could not delete the registrations of removed accounts: {}", e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
