package io.switchboard.telephony.registrar;

import io.switchboard.sip.message.SipResponse;
import io.switchboard.telephony.accounts.DigestAlgorithm;
import io.switchboard.telephony.auth.DigestClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class RegistrarTest {
    @TempDir
    Path dir;
    RegistrarFixture node;
    TestPhone alice;

    /** The fixture on the store under test; the PostgreSQL subclass overrides it. */
    RegistrarFixture newFixture(RegistrarSettings settings) throws Exception {
        return RegistrarFixture.sqlite(dir, settings);
    }

    @BeforeEach
    void start() throws Exception {
        RegistrarSettings defaults = RegistrarSettings.defaults();
        node = newFixture(new RegistrarSettings(true, 2, 3600, 3600, 4, defaults.algorithms(),
                defaults.nonceLifetime()));
        node.accounts.add("alice", RegistrarFixture.DOMAIN, "wonderland");
        node.accounts.add("bob", RegistrarFixture.DOMAIN, "builder1");
        node.directory.refresh();
        alice = new TestPhone("alice", "wonderland", node.port);
    }

    @AfterEach
    void stop() {
        alice.close();
        if (node != null) {
            node.close();
        }
    }

    /**
     * A start drops stored bindings without an account, checked in the store as the statement
     * runs: an account added (on another node) after this node read its directory keeps its
     * binding, an account gone loses its.
     */
    @Test
    void bindingsWithoutAnAccountAreDeletedAgainstTheAccountsInTheStoreNow() throws Exception {
        long expires = System.currentTimeMillis() + 600_000;
        // added behind this node's directory's back, as another node would
        node.accounts.add("dora", RegistrarFixture.DOMAIN, "explorer1");
        assertThat(node.directory.lookup("dora", RegistrarFixture.DOMAIN)).isEmpty();
        List<Binding> stored = List.of(
                binding("sip:dora@" + RegistrarFixture.DOMAIN, expires),
                binding("sip:bob@" + RegistrarFixture.DOMAIN, expires),
                binding("sip:ghost@" + RegistrarFixture.DOMAIN, expires),
                binding("sip:alice@elsewhere.test", expires));
        node.bindings.submit(stored, List.of()).get(5, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(node.bindings.deleteWithoutAccount()).isEqualTo(2);
        assertThat(node.bindings.loadLive(System.currentTimeMillis())).extracting(Binding::aor)
                .containsExactlyInAnyOrder("sip:dora@" + RegistrarFixture.DOMAIN, "sip:bob@" + RegistrarFixture.DOMAIN);
    }

    private static Binding binding(String aor, long expiresAt) {
        String contact = "sip:" + aor.substring(4, aor.indexOf('@')) + "@127.0.0.1:5999";
        return new Binding(aor, contact, "<" + contact + ">", "call-" + aor, 1, 1000, expiresAt, expiresAt - 600_000,
                "UDP", "127.0.0.1", 5999, "127.0.0.1", 5060, "flow", null, null, 0, null, null, expiresAt - 600_000);
    }

    /**
     * RFC 5626 §6: a REGISTER with the +sip.instance and reg-id of an existing binding replaces it
     * whatever its contact (the device's new flow); another reg-id is another flow and stays.
     */
    @Test
    void theSameInstanceAndRegIdReplaceTheBindingOfTheOldFlow() throws Exception {
        String instance = ";+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-00000000a11c>\"";
        assertThat(alice.registerWithAuth("Contact: <sip:alice@127.0.0.1:40001;ob>" + instance + ";reg-id=1", "600", "MD5")
                .status()).isEqualTo(200);
        assertThat(alice.registerWithAuth("Contact: <sip:alice@127.0.0.1:40002;ob>" + instance + ";reg-id=2", "600", "MD5")
                .status()).isEqualTo(200);
        SipResponse ok = alice.registerWithAuth("Contact: <sip:alice@127.0.0.1:40003;ob>" + instance + ";reg-id=1", "600",
                "MD5");
        assertThat(ok.status()).isEqualTo(200);
        assertThat(node.location.lookup("sip:alice@" + RegistrarFixture.DOMAIN, System.currentTimeMillis()))
                .extracting(Binding::contact)
                .containsExactlyInAnyOrder("sip:alice@127.0.0.1:40002;ob", "sip:alice@127.0.0.1:40003;ob");
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(node.bindings.load(
                "sip:alice@" + RegistrarFixture.DOMAIN, System.currentTimeMillis())).extracting(Binding::regId)
                .containsExactlyInAnyOrder(1, 2));
    }

    /**
     * RFC 5626 §6 with RFC 5627: a device without outbound (no reg-id) that restarts registers a new
     * contact (a new TCP source port) with the same +sip.instance, which replaces its old binding.
     * Matched by URI alone, each restart added one, and past the contact limit (4 here) the device
     * could not register at all. Another instance, or the same one with a reg-id, is another binding.
     */
    @Test
    void theSameInstanceWithoutRegIdReplacesTheBindingOfTheDevicesEarlierStart() throws Exception {
        String instance = ";+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-0000000b0b0e>\"";
        String other = ";+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-00000000d00d>\"";
        assertThat(alice.registerWithAuth("Contact: <sip:alice@127.0.0.1:39999;transport=tcp>" + other, "600", "MD5")
                .status()).isEqualTo(200);
        assertThat(alice.registerWithAuth("Contact: <sip:alice@127.0.0.1:39998;transport=tcp>" + instance + ";reg-id=1",
                "600", "MD5").status()).isEqualTo(200);
        for (int start = 0; start < 6; start++) {
            SipResponse ok = alice.registerWithAuth("Contact: <sip:alice@127.0.0.1:" + (41000 + start)
                    + ";transport=tcp>" + instance, "600", "MD5");
            assertThat(ok.status()).as("start %d: %s", start, ok.reason()).isEqualTo(200);
        }
        String aor = "sip:alice@" + RegistrarFixture.DOMAIN;
        assertThat(node.location.lookup(aor, System.currentTimeMillis())).extracting(Binding::contact)
                .containsExactlyInAnyOrder("sip:alice@127.0.0.1:39999;transport=tcp",
                        "sip:alice@127.0.0.1:39998;transport=tcp", "sip:alice@127.0.0.1:41005;transport=tcp");
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(node.bindings.load(aor,
                System.currentTimeMillis())).extracting(Binding::contact)
                .containsExactlyInAnyOrder("sip:alice@127.0.0.1:39999;transport=tcp",
                        "sip:alice@127.0.0.1:39998;transport=tcp", "sip:alice@127.0.0.1:41005;transport=tcp"));
    }

    /**
     * A dual-stack device registers two Contacts with one +sip.instance and no reg-id in one
     * REGISTER (RFC 3261 §10.3 allows several): both are kept, here, in the store and on another
     * node that applies the announcement (merge, then removals, as BindingAnnouncements does).
     * Before, the second replaced the first while the first was still upserted: the store ran
     * DELETE then UPSERT of it (it came back after a restart), and another node dropped the second
     * (same version as the first) and then applied the first's removal, holding neither. A refresh
     * of both keeps both, and a later REGISTER of one alone still replaces the other (a restart).
     */
    @Test
    void twoContactsWithOneInstanceInOneRegisterAreBothKept() throws Exception {
        String aor = "sip:alice@" + RegistrarFixture.DOMAIN;
        String instance = ";+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-0000000d0a15>\"";
        String v4 = "sip:alice@127.0.0.1:42001;transport=tcp";
        String v6 = "sip:alice@[::1]:42001;transport=tcp";
        LocationService otherNode = new LocationService();
        List<BindingStore.Committed> announced = new java.util.concurrent.CopyOnWriteArrayList<>();
        node.bindings.onCommitted(announced::add);
        for (int round = 0; round < 2; round++) { // made, then refreshed
            int before = announced.size();
            SipResponse ok = alice.registerWithAuth("Contact: <" + v4 + ">" + instance + ", <" + v6 + ">" + instance,
                    "600", "MD5");
            assertThat(ok.status()).as("round %d: %s", round, ok.reason()).isEqualTo(200);
            assertThat(ok.contacts()).as("round %d", round).hasSize(2);
            assertThat(node.location.lookup(aor, System.currentTimeMillis())).as("round %d", round)
                    .extracting(Binding::contact).containsExactlyInAnyOrder(v4, v6);
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(announced.size()).isGreaterThan(before));
            for (BindingStore.Committed c : announced.subList(before, announced.size())) {
                otherNode.merge(c.upserts(), System.currentTimeMillis());
                c.removals().forEach(r -> otherNode.remove(r.aor(), r.contact(), r.at()));
            }
            assertThat(otherNode.lookup(aor, System.currentTimeMillis())).as("round %d, the other node", round)
                    .extracting(Binding::contact).containsExactlyInAnyOrder(v4, v6);
            assertThat(node.bindings.load(aor, System.currentTimeMillis())).as("round %d, the store", round)
                    .extracting(Binding::contact).containsExactlyInAnyOrder(v4, v6);
        }
        // the device restarts and registers one new contact: it replaces both
        String restarted = "sip:alice@127.0.0.1:42002;transport=tcp";
        assertThat(alice.registerWithAuth("Contact: <" + restarted + ">" + instance, "600", "MD5").status()).isEqualTo(200);
        assertThat(node.location.lookup(aor, System.currentTimeMillis())).extracting(Binding::contact)
                .containsExactly(restarted);
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(node.bindings.load(aor,
                System.currentTimeMillis())).extracting(Binding::contact).containsExactly(restarted));
    }

    /**
     * A binding replaced through its +sip.instance by a REGISTER from another source address is
     * logged (INFO): two devices with one cloned instance-id push each other out at every
     * registration, and the log is where that shows. A restart from the same address is not logged.
     */
    @Test
    void aReplacementFromAnotherAddressIsLogged() throws Exception {
        String instance = ";+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-00000000c10e>\"";
        List<String> logged;
        try (io.switchboard.platform.testing.CapturedLog log = io.switchboard.platform.testing.CapturedLog.of(Registrar.class);
             TestPhone clone = new TestPhone("alice", "wonderland", node.port, RegistrarFixture.DOMAIN,
                     java.net.InetAddress.getByName("127.0.0.2"))) {
            assertThat(alice.registerWithAuth("Contact: <sip:alice@127.0.0.1:43001>" + instance, "600", "MD5").status())
                    .isEqualTo(200);
            assertThat(alice.registerWithAuth("Contact: <sip:alice@127.0.0.1:43002>" + instance, "600", "MD5").status())
                    .isEqualTo(200);
            assertThat(log.messages()).noneMatch(line -> line.contains("replaces"));
            assertThat(clone.registerWithAuth("Contact: <sip:alice@127.0.0.2:43003>" + instance, "600", "MD5").status())
                    .isEqualTo(200);
            logged = log.messages();
        }
        assertThat(logged).anySatisfy(line -> assertThat(line).isEqualTo("REGISTER of sip:alice@" + RegistrarFixture.DOMAIN
                + " from 127.0.0.2 replaces sip:alice@127.0.0.1:43002 registered from 127.0.0.1"
                + " (same +sip.instance <urn:uuid:00000000-0000-0000-0000-00000000c10e>)"));
    }

    /**
     * Two devices with one cloned instance-id push each other out at every REGISTER: one line an AOR
     * a minute, the next one saying how many were left out.
     */
    @Test
    void replacementsFromAnotherAddressAreLoggedOnceAMinutePerAor() throws Exception {
        String instance = ";+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-00000000c10e>\"";
        List<String> logged;
        try (io.switchboard.platform.testing.CapturedLog log = io.switchboard.platform.testing.CapturedLog.of(Registrar.class);
             TestPhone clone = new TestPhone("alice", "wonderland", node.port, RegistrarFixture.DOMAIN,
                     java.net.InetAddress.getByName("127.0.0.2"))) {
            for (int round = 0; round < 3; round++) {
                assertThat(alice.registerWithAuth("Contact: <sip:alice@127.0.0.1:43001>" + instance, "600", "MD5").status())
                        .isEqualTo(200);
                assertThat(clone.registerWithAuth("Contact: <sip:alice@127.0.0.2:43003>" + instance, "600", "MD5").status())
                        .isEqualTo(200);
            }
            assertThat(log.messages()).filteredOn(line -> line.contains("replaces")).hasSize(1);
            node.clock.advance(Duration.ofSeconds(61));
            assertThat(alice.registerWithAuth("Contact: <sip:alice@127.0.0.1:43001>" + instance, "600", "MD5").status())
                    .isEqualTo(200);
            logged = log.messages().stream().filter(line -> line.contains("replaces")).toList();
        }
        // the first REGISTER replaced nothing; the five after it each replaced the other device's binding
        assertThat(logged).hasSize(2).last().isEqualTo("REGISTER of sip:alice@" + RegistrarFixture.DOMAIN
                + " from 127.0.0.1 replaces sip:alice@127.0.0.2:43003 registered from 127.0.0.2"
                + " (same +sip.instance <urn:uuid:00000000-0000-0000-0000-00000000c10e>) (4 more like it for sip:alice@"
                + RegistrarFixture.DOMAIN + " since the last such line were not logged)");
    }

    /** A replacement whose commit failed did not happen: it is not logged (the REGISTER is answered 5xx). */
    @Test
    void aReplacementThatWasNotStoredIsNotLogged() throws Exception {
        String instance = ";+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-00000000c10e>\"";
        List<String> logged;
        try (io.switchboard.platform.testing.CapturedLog log = io.switchboard.platform.testing.CapturedLog.of(Registrar.class);
             TestPhone clone = new TestPhone("alice", "wonderland", node.port, RegistrarFixture.DOMAIN,
                     java.net.InetAddress.getByName("127.0.0.2"))) {
            assertThat(alice.registerWithAuth("Contact: <sip:alice@127.0.0.1:43001>" + instance, "600", "MD5").status())
                    .isEqualTo(200);
            node.store.jdbi().useHandle(h -> h.execute("ALTER TABLE sip_bindings RENAME TO sip_bindings_away"));
            try {
                assertThat(clone.registerWithAuth("Contact: <sip:alice@127.0.0.2:43003>" + instance, "600", "MD5").status())
                        .isIn(500, 503);
            } finally {
                node.store.jdbi().useHandle(h -> h.execute("ALTER TABLE sip_bindings_away RENAME TO sip_bindings"));
            }
            logged = log.messages();
        }
        assertThat(logged).noneMatch(line -> line.contains("replaces"));
        assertThat(node.location.lookup("sip:alice@" + RegistrarFixture.DOMAIN, node.clock.millis())).singleElement()
                .satisfies(b -> assertThat(b.remoteAddress()).isEqualTo("127.0.0.1"));
    }

    @Test
    void theDateHeaderFollowsTheClock() throws Exception {
        // RFC 3261 §10.3 step 8: devices without a clock set theirs from it, so a Date kept from
        // an earlier second (it is formatted once per second) must never reach a later answer
        java.time.format.DateTimeFormatter sipDate = java.time.format.DateTimeFormatter
                .ofPattern("EEE, dd MMM yyyy HH:mm:ss 'GMT'", java.util.Locale.US).withZone(java.time.ZoneOffset.UTC);
        SipResponse first = alice.registerWithAuth("Contact: " + alice.contact(), "600", "MD5");
        assertThat(first.status()).isEqualTo(200);
        java.time.Instant firstDate = java.time.Instant.from(sipDate.parse(first.header("Date")));
        assertThat(firstDate).isBetween(node.clock.instant().minusSeconds(5), node.clock.instant());

        node.clock.advance(java.time.Duration.ofDays(1).plusMinutes(7));
        SipResponse later = alice.registerWithAuth("Contact: " + alice.contact(), "600", "MD5");
        assertThat(later.status()).isEqualTo(200);
        java.time.Instant laterDate = java.time.Instant.from(sipDate.parse(later.header("Date")));
        assertThat(java.time.Duration.between(firstDate, laterDate))
                .isBetween(java.time.Duration.ofDays(1).plusMinutes(7), java.time.Duration.ofDays(1).plusMinutes(7).plusSeconds(5));
    }

    @Test
    void defaultIsOneMd5ChallengeThatAuthenticates() throws Exception {
        SipResponse challenge = alice.send(alice.register("Contact: " + alice.contact(), "600", null));
        assertThat(challenge.status()).isEqualTo(401);
        assertThat(challenge.headers().fields("WWW-Authenticate")).singleElement().asString()
                .contains("algorithm=MD5").contains("qop=\"auth\"")
                .contains("realm=\"" + RegistrarFixture.DOMAIN + "\"");

        SipResponse ok = alice.registerWithAuth("Contact: " + alice.contact(), "600", "MD5");
        assertThat(ok.status()).isEqualTo(200);
        assertThat(ok.header("Contact")).contains("expires=600");
        assertThat(ok.header("Date")).endsWith("GMT");
        assertThat(ok.to().tag()).isNotNull();
        assertThat(node.location.lookup("sip:alice@" + RegistrarFixture.DOMAIN, node.clock.millis())).hasSize(1);
        assertThat(node.counter("switchboard.sip.registrations", "result", "created")).isEqualTo(1);
    }

    /** Credentials computed with an algorithm the account was not challenged with get a fresh challenge. */
    @Test
    void anAlgorithmNotOfferedIsChallengedAgainAndCounted() throws Exception {
        SipResponse challenge = alice.send(alice.register("Contact: " + alice.contact(), "600", null));
        String sha256 = challenge.header("WWW-Authenticate").replace("algorithm=MD5", "algorithm=SHA-256");
        String auth = DigestClient.authorization(sha256, "alice", "wonderland", "REGISTER",
                "sip:" + RegistrarFixture.DOMAIN, alice.nc++, "c1");
        SipResponse again = alice.send(alice.register("Contact: " + alice.contact(), "600", auth));
        assertThat(again.status()).isEqualTo(401);
        assertThat(again.headers().fields("WWW-Authenticate")).singleElement().asString().contains("algorithm=MD5");
        assertThat(node.counter("switchboard.sip.auth.failures", "reason", "wrong_algorithm")).isEqualTo(1);
        assertThat(node.location.size()).isZero();
    }

    /** Opt-in node-wide: several challenges in the configured order of preference (RFC 8760 §2.4), each one usable. */
    @Test
    void nodeWideListOffersEveryAlgorithmInOrder() throws Exception {
        node.close();
        RegistrarSettings d = RegistrarSettings.defaults();
        node = newFixture(new RegistrarSettings(true, 2, 3600, 3600, 4,
                List.of(DigestAlgorithm.SHA_256, DigestAlgorithm.MD5), d.nonceLifetime()));
        if (node.accounts.find("alice", RegistrarFixture.DOMAIN).isEmpty()) { // a fresh PostgreSQL database
            node.accounts.add("alice", RegistrarFixture.DOMAIN, "wonderland");
        }
        node.directory.refresh();
        try (TestPhone phone = new TestPhone("alice", "wonderland", node.port)) {
            List<String> offers = phone.send(phone.register("Contact: " + phone.contact(), "600", null))
                    .headers().fields("WWW-Authenticate");
            assertThat(offers).hasSize(2);
            assertThat(offers.get(0)).contains("algorithm=SHA-256").contains("qop=\"auth\"");
            assertThat(offers.get(1)).contains("algorithm=MD5");
            assertThat(phone.registerWithAuth("Contact: " + phone.contact(), "600", "SHA-256").status()).isEqualTo(200);
            assertThat(phone.registerWithAuth("Contact: " + phone.contact(), "600", "MD5").status()).isEqualTo(200);
        }
    }

    /** Opt-in per domain: every account of a domain in sha256Domains gets one SHA-256 challenge, MD5 is refused. */
    @Test
    void aSha256DomainIsChallengedWithSha256Only() throws Exception {
        node.accounts.add("carol", RegistrarFixture.SECURE_DOMAIN, "carol-secret");
        node.directory.refresh();
        try (TestPhone carol = new TestPhone("carol", "carol-secret", node.port, RegistrarFixture.SECURE_DOMAIN)) {
            SipResponse challenge = carol.send(carol.register("Contact: " + carol.contact(), "600", null));
            assertThat(challenge.headers().fields("WWW-Authenticate")).singleElement().asString()
                    .contains("algorithm=SHA-256").contains("realm=\"" + RegistrarFixture.SECURE_DOMAIN + "\"");
            String md5 = challenge.header("WWW-Authenticate").replace("algorithm=SHA-256", "algorithm=MD5");
            SipResponse downgrade = carol.send(carol.register("Contact: " + carol.contact(), "600",
                    DigestClient.authorization(md5, "carol", "carol-secret", "REGISTER",
                            "sip:" + RegistrarFixture.SECURE_DOMAIN, carol.nc++, "c1")));
            assertThat(downgrade.status()).isEqualTo(401);
            assertThat(carol.registerWithAuth("Contact: " + carol.contact(), "600", "SHA-256").status()).isEqualTo(200);
        }
        // the default domain keeps MD5
        assertThat(alice.registerWithAuth("Contact: " + alice.contact(), "600", "MD5").status()).isEqualTo(200);
    }

    /** Opt-in per account: the account's choice wins over its domain and the node; other accounts keep theirs. */
    @Test
    void anAccountMarkedSha256IsChallengedWithSha256Only() throws Exception {
        node.accounts.setDigest("alice", RegistrarFixture.DOMAIN, DigestAlgorithm.SHA_256);
        node.accounts.add("dave", RegistrarFixture.SECURE_DOMAIN, "dave-secret", DigestAlgorithm.MD5);
        node.directory.refresh();
        SipResponse challenge = alice.send(alice.register("Contact: " + alice.contact(), "600", null));
        assertThat(challenge.headers().fields("WWW-Authenticate")).singleElement().asString().contains("algorithm=SHA-256");
        String md5 = challenge.header("WWW-Authenticate").replace("algorithm=SHA-256", "algorithm=MD5");
        assertThat(alice.send(alice.register("Contact: " + alice.contact(), "600", DigestClient.authorization(md5,
                "alice", "wonderland", "REGISTER", "sip:" + RegistrarFixture.DOMAIN, alice.nc++, "c1"))).status())
                .isEqualTo(401);
        assertThat(alice.registerWithAuth("Contact: " + alice.contact(), "600", "SHA-256").status()).isEqualTo(200);
        try (TestPhone bob = new TestPhone("bob", "builder1", node.port);
             TestPhone dave = new TestPhone("dave", "dave-secret", node.port, RegistrarFixture.SECURE_DOMAIN)) {
            assertThat(bob.registerWithAuth("Contact: " + bob.contact(), "600", "MD5").status()).isEqualTo(200);
            // an old panel in a SHA-256 domain, marked MD5
            assertThat(dave.registerWithAuth("Contact: " + dave.contact(), "600", "MD5").status()).isEqualTo(200);
        }
        node.accounts.setDigest("alice", RegistrarFixture.DOMAIN, null);
        node.directory.refresh();
        assertThat(alice.registerWithAuth("Contact: " + alice.contact(), "600", "MD5").status()).isEqualTo(200);
    }

    @Test
    void wrongPasswordAndUnknownUserGet403AndAreCountedAndLogged() throws Exception {
        List<String> logged;
        try (var refusalLog = io.switchboard.platform.testing.CapturedLog.of(io.switchboard.telephony.sip.SipRefusals.class);
             TestPhone wrong = new TestPhone("alice", "not-the-password", node.port);
             TestPhone stranger = new TestPhone("mallory", "whatever1", node.port)) {
            assertThat(wrong.registerWithAuth("Contact: " + wrong.contact(), "600", "MD5").status()).isEqualTo(403);
            assertThat(stranger.registerWithAuth("Contact: " + stranger.contact(), "600", "MD5").status()).isEqualTo(403);
            logged = refusalLog.messages();
        }
        assertThat(node.counter("switchboard.sip.auth.failures", "reason", "wrong_password")).isEqualTo(1);
        assertThat(node.counter("switchboard.sip.auth.failures", "reason", "unknown_user")).isEqualTo(1);
        assertThat(node.location.size()).isZero();
        // the device hears the same 403 for both; the operator reads which it was, and from where
        assertThat(logged).satisfiesExactly(
                line -> assertThat(line).matches("127\\.0\\.0\\.1:\\d+: REGISTER of sip:alice@" + RegistrarFixture.DOMAIN
                        .replace(".", "\\.") + " refused \\(403\\): wrong password \\[TestPhone\\]"),
                line -> assertThat(line).endsWith(": REGISTER of sip:mallory@" + RegistrarFixture.DOMAIN
                        + " refused (403): no such account [TestPhone]"));
    }

    /**
     * A REGISTER refused for what it asks (too many contacts, too short an interval) says why in
     * the log, one line with where it came from, the AOR and the reason, as a wrong password does.
     */
    @Test
    void refusedRegistrationsSayWhyInTheLog() throws Exception {
        List<String> logged;
        try (var refusalLog = io.switchboard.platform.testing.CapturedLog.of(io.switchboard.telephony.sip.SipRefusals.class)) {
            StringBuilder five = new StringBuilder();
            for (int i = 0; i < 5; i++) {
                five.append("Contact: <sip:alice@127.0.0.1:").append(42000 + i).append(">\r\n");
            }
            String contacts = five.substring("Contact: ".length(), five.length() - 2);
            assertThat(alice.registerWithAuth("Contact: " + contacts, "600", "MD5").status()).isEqualTo(403);
            assertThat(alice.registerWithAuth("Contact: " + alice.contact(), "1", "MD5").status()).isEqualTo(423);
            logged = refusalLog.messages();
        }
        String aor = "sip:alice@" + RegistrarFixture.DOMAIN;
        assertThat(logged).satisfiesExactly(
                line -> assertThat(line).matches("127\\.0\\.0\\.1:\\d+: REGISTER of " + aor.replace(".", "\\.")
                        + " refused \\(403\\): more than 4 contacts for " + aor.replace(".", "\\.") + " \\[TestPhone\\]"),
                line -> assertThat(line).endsWith(": REGISTER of " + aor
                        + " refused (423): Interval Too Brief (Min-Expires: 2) [TestPhone]"));
        assertThat(node.counter("switchboard.sip.registrations", "result", "rejected")).isEqualTo(2);
    }

    /** RFC 3261 §18.1.2: a response to no request of the node's is dropped, and counted. */
    @Test
    void aResponseToNoRequestOfTheNodesIsCountedAndDropped() throws Exception {
        byte[] stray = ("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:" + node.port + ";branch=z9hG4bKnothing-of-ours\r\n"
                + "From: <sip:alice@" + RegistrarFixture.DOMAIN + ">;tag=1\r\nTo: <sip:bob@" + RegistrarFixture.DOMAIN + ">;tag=2\r\n"
                + "Call-ID: stray-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        alice.socket.send(new java.net.DatagramPacket(stray, stray.length, java.net.InetAddress.getLoopbackAddress(), node.port));
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5))
                .until(() -> node.counter("switchboard.sip.dropped", "reason", "stray_response") == 1);
    }

    @Test
    void oneAccountCannotRegisterAnother() throws Exception {
        try (TestPhone bobAsAlice = new TestPhone("bob", "builder1", node.port)) {
            SipResponse challenge = bobAsAlice.send(alice.register("Contact: " + alice.contact(), "600", null));
            String auth = DigestClient.authorization(challenge.headers().fields("WWW-Authenticate").get(0), "bob",
                    "builder1", "REGISTER", "sip:" + RegistrarFixture.DOMAIN, 1, "x");
            assertThat(bobAsAlice.send(alice.register("Contact: " + alice.contact(), "600", auth)).status()).isEqualTo(403);
        }
    }

    @Test
    void replayedNonceCountIsChallengedAgain() throws Exception {
        SipResponse challenge = alice.send(alice.register("Contact: " + alice.contact(), "600", null));
        String auth = DigestClient.authorization(challenge.headers().fields("WWW-Authenticate").get(0), "alice",
                "wonderland", "REGISTER", "sip:" + RegistrarFixture.DOMAIN, 1, "abc");
        assertThat(alice.send(alice.register("Contact: " + alice.contact(), "600", auth)).status()).isEqualTo(200);
        SipResponse replay = alice.send(alice.register("Contact: " + alice.contact(), "600", auth));
        assertThat(replay.status()).isEqualTo(401);
        assertThat(node.counter("switchboard.sip.auth.failures", "reason", "replayed")).isEqualTo(1);
    }

    @Test
    void expiredNonceIsAnsweredStale() throws Exception {
        SipResponse challenge = alice.send(alice.register("Contact: " + alice.contact(), "600", null));
        node.clock.advance(Duration.ofMinutes(10));
        String auth = DigestClient.authorization(challenge.headers().fields("WWW-Authenticate").get(0), "alice",
                "wonderland", "REGISTER", "sip:" + RegistrarFixture.DOMAIN, 1, "abc");
        SipResponse stale = alice.send(alice.register("Contact: " + alice.contact(), "600", auth));
        assertThat(stale.status()).isEqualTo(401);
        assertThat(stale.header("WWW-Authenticate")).contains("stale=true");
    }

    @Test
    void tooBriefIntervalGets423WithMinExpires() throws Exception {
        SipResponse brief = alice.registerWithAuth("Contact: " + alice.contact(), "1", "MD5");
        assertThat(brief.status()).isEqualTo(423);
        assertThat(brief.header("Min-Expires")).isEqualTo("2");
    }

    /**
     * RFC 3261 §10.3 step 7: the registrar may shorten a requested expiry; this one grants at most
     * maxExpires (3600 here), whether asked in the Expires header or the Contact's expires
     * parameter, and says so in the 200's Contact (§10.3 step 8).
     */
    @Test
    void tooLongIntervalIsShortenedToMaxExpires() throws Exception {
        SipResponse byHeader = alice.registerWithAuth("Contact: " + alice.contact(), "86400", "MD5");
        assertThat(byHeader.status()).isEqualTo(200);
        assertThat(byHeader.header("Contact")).contains("expires=3600").doesNotContain("expires=86400");
        List<Binding> bindings = node.location.lookup("sip:alice@" + RegistrarFixture.DOMAIN, node.clock.millis());
        assertThat(bindings).singleElement()
                .satisfies(b -> assertThat(b.remainingSeconds(node.clock.millis())).isBetween(3500L, 3600L));

        SipResponse byParameter = alice.registerWithAuth("Contact: " + alice.contact() + ";expires=7201", null, "MD5");
        assertThat(byParameter.status()).isEqualTo(200);
        assertThat(byParameter.header("Contact")).contains("expires=3600").doesNotContain("expires=7201");
        assertThat(node.bindings.loadLive(node.clock.millis())).singleElement()
                .satisfies(b -> assertThat(b.remainingSeconds(node.clock.millis())).isBetween(3500L, 3600L));
    }

    @Test
    void severalContactsWithQValuesAndRemoval() throws Exception {
        String two = "Contact: <sip:alice@127.0.0.1:6001>;q=0.3, <sip:alice@127.0.0.1:6002>;q=0.9;expires=120";
        SipResponse ok = alice.registerWithAuth(two, "600", "MD5");
        assertThat(ok.status()).isEqualTo(200);
        assertThat(ok.headerValues("Contact")).hasSize(2);
        List<Binding> bindings = node.location.lookup("sip:alice@" + RegistrarFixture.DOMAIN, node.clock.millis());
        assertThat(bindings).extracting(Binding::contact)
                .containsExactly("sip:alice@127.0.0.1:6002", "sip:alice@127.0.0.1:6001");
        assertThat(bindings.get(0).remainingSeconds(node.clock.millis())).isBetween(119L, 120L);

        SipResponse removed = alice.registerWithAuth("Contact: <sip:alice@127.0.0.1:6001>;expires=0", null, "MD5");
        assertThat(removed.headerValues("Contact")).singleElement().asString().contains("6002");

        SipResponse badWildcard = alice.registerWithAuth("Contact: *", "60", "MD5");
        assertThat(badWildcard.status()).isEqualTo(400);
        SipResponse all = alice.registerWithAuth("Contact: *", "0", "MD5");
        assertThat(all.status()).isEqualTo(200);
        assertThat(all.headerValues("Contact")).isEmpty();
        assertThat(node.location.size()).isZero();
    }

    /**
     * RFC 3261 §10.2.1 lets a Contact be any URI, but this node calls devices only at SIP or SIPS
     * addresses: a tel: or mailto: Contact is refused at REGISTER with a 400 saying so, counted as
     * rejected, and nothing of the request is bound (not its sip: Contact either); removing such a
     * Contact is allowed.
     */
    @Test
    void aContactThatIsNotASipUriIsRefused() throws Exception {
        for (String contact : List.of("<tel:+15551234567>", "<mailto:alice@example.org>")) {
            SipResponse refused = alice.registerWithAuth("Contact: " + alice.contact() + ", " + contact, "600", "MD5");
            assertThat(refused.status()).as(contact).isEqualTo(400);
            assertThat(refused.reason()).contains(contact.substring(1, contact.indexOf(':') + 1))
                    .contains("register a sip: or sips: Contact");
        }
        assertThat(node.counter("switchboard.sip.registrations", "result", "rejected")).isEqualTo(2);
        assertThat(node.location.lookup("sip:alice@" + RegistrarFixture.DOMAIN, node.clock.millis())).isEmpty();
        assertThat(node.bindings.loadLive(node.clock.millis())).isEmpty();

        SipResponse removal = alice.registerWithAuth("Contact: <tel:+15551234567>;expires=0", null, "MD5");
        assertThat(removal.status()).isEqualTo(200);
    }

    /**
     * A Contact with port 0 parses (RFC 3261 §25.1 port = 1*DIGIT) but names nothing anyone can
     * send to (RFC 6335 §6): refused at REGISTER with a 400 saying so, counted as rejected, and
     * not bound; removing one is allowed. It was stored, and handed out as the device's address.
     */
    @Test
    void aContactWithPort0IsRefused() throws Exception {
        SipResponse refused = alice.registerWithAuth("Contact: <sip:alice@127.0.0.1:0>", "600", "MD5");
        assertThat(refused.status()).isEqualTo(400);
        assertThat(refused.reason()).isEqualTo("Bad Request - a Contact with port 0 cannot be reached;"
                + " register the port the device listens on, or none");
        assertThat(node.counter("switchboard.sip.registrations", "result", "rejected")).isEqualTo(1);
        assertThat(node.location.lookup("sip:alice@" + RegistrarFixture.DOMAIN, node.clock.millis())).isEmpty();
        assertThat(node.bindings.loadLive(node.clock.millis())).isEmpty();

        assertThat(alice.registerWithAuth("Contact: <sip:alice@127.0.0.1:0>;expires=0", null, "MD5").status())
                .isEqualTo(200);
    }

    /**
     * {@code INVITE sip:bob@<node address>:0} was taken for "no port", so for this node, and routed
     * to bob; port 0 names no element (RFC 6335 §6), so it is a 400 with the reason, counted with
     * the other malformed requests.
     */
    @Test
    void aRequestUriWithPort0IsNotThisNode() throws Exception {
        SipResponse refused = alice.invite("sip:bob@127.0.0.1:0", null);
        assertThat(refused.status()).isEqualTo(400);
        assertThat(refused.reason()).isEqualTo("Bad Request - Request-URI port 0 is not a usable port");
        // the INVITE; the ACK the phone sends for the 400 (same Request-URI, §17.1.1.3) carries the
        // 400's To tag (§8.2.6.2), so it is that transaction's, absorbed, not a second malformed request
        await().atMost(Duration.ofSeconds(2)).untilAsserted(() ->
                assertThat(node.counter("switchboard.sip.parse.errors", "transport", "udp")).isEqualTo(1));
        assertThat(refused.to().tag()).isNotBlank();
        Thread.sleep(300);
        assertThat(node.counter("switchboard.sip.parse.errors", "transport", "udp")).isEqualTo(1);
        // without a port it is still this node's (docs/calls.md): challenged, so taken in
        assertThat(alice.invite("sip:bob@127.0.0.1", null).status()).isEqualTo(407);
    }

    /**
     * SIP text is UTF-8 and a URI is ASCII with %-escapes (RFC 3261 §7.3.1, §19.1.1, §25.1): a
     * REGISTER whose From display-name is UTF-8 is read (and challenged); one whose From holds a Latin-1 byte, and
     * an INVITE with a raw non-ASCII byte in its Request-URI, are 400 with the reason, counted with
     * the other malformed requests, and the 400 is UTF-8. Both were accepted (the byte read as U+FFFD).
     */
    @Test
    void textThatIsNotUtf8AndARawByteInTheRequestUriAre400() throws Exception {
        String named = "From: \"Alice Müller\" <sip:alice@";
        SipResponse ok = alice.registerWithAuth("Contact: " + alice.contact(), "600", "MD5");
        assertThat(ok.status()).isEqualTo(200);
        String register = alice.register("Contact: " + alice.contact(), "600", null).replace("From: <sip:alice@", named);
        assertThat(alice.send(register).status()).isEqualTo(401); // read, and challenged as any REGISTER

        byte[] latin1 = register.getBytes(StandardCharsets.ISO_8859_1);
        SipResponse refused = alice.send(latin1);
        assertThat(refused.status()).isEqualTo(400);
        assertThat(refused.reason()).isEqualTo("Bad Request - header From is not UTF-8");
        assertThat(refused.header("From")).startsWith("\"Alice M\uFFFDller\"");

        String invite = register.replace("REGISTER sip:" + RegistrarFixture.DOMAIN, "INVITE sip:bjørn@" + RegistrarFixture.DOMAIN)
                .replace(" REGISTER\r\n", " INVITE\r\n");
        SipResponse rawUri = alice.send(invite);
        assertThat(rawUri.status()).isEqualTo(400);
        assertThat(rawUri.reason()).isEqualTo("Bad Request - Request-URI holds a raw non-ASCII byte (escape it as %HH)");
        assertThat(node.counter("switchboard.sip.parse.errors", "transport", "udp")).isEqualTo(2);
    }

    @Test
    void tooManyContactsAreRefused() throws Exception {
        String five = "Contact: <sip:a@h:1>, <sip:a@h:2>, <sip:a@h:3>, <sip:a@h:4>, <sip:a@h:5>";
        assertThat(alice.registerWithAuth(five, "600", "MD5").status()).isEqualTo(403);
    }

    @Test
    void outOfOrderCSeqOnTheSameCallIdIsRefused() throws Exception {
        assertThat(alice.registerWithAuth("Contact: " + alice.contact(), "600", "MD5").status()).isEqualTo(200);
        alice.cseq = 1;
        SipResponse old = alice.registerWithAuth("Contact: " + alice.contact(), "600", "MD5");
        assertThat(old.status()).isEqualTo(400);
        assertThat(old.reason()).contains("CSeq");
    }

    @Test
    void bindingsExpireOnTimeAndLeaveTheStore() throws Exception {
        assertThat(alice.registerWithAuth("Contact: " + alice.contact(), "2", "MD5").status()).isEqualTo(200);
        assertThat(node.location.size()).isEqualTo(1);
        await().atMost(Duration.ofSeconds(4)).until(() ->
                node.location.lookup("sip:alice@" + RegistrarFixture.DOMAIN, node.clock.millis()).isEmpty());
        assertThat(node.bindings.loadLive(node.clock.millis())).isEmpty();
    }

    @Test
    void bindingsAreDurableBeforeThe200() throws Exception {
        assertThat(alice.registerWithAuth("Contact: " + alice.contact(), "600", "MD5").status()).isEqualTo(200);
        // read straight from the database: committed before the device was told OK
        List<Binding> stored = node.bindings.loadLive(node.clock.millis());
        assertThat(stored).singleElement().satisfies(b -> {
            assertThat(b.aor()).isEqualTo("sip:alice@" + RegistrarFixture.DOMAIN);
            assertThat(b.transport()).isEqualTo("UDP");
            assertThat(b.remotePort()).isEqualTo(alice.socket.getLocalPort());
            assertThat(b.userAgent()).isEqualTo("TestPhone");
        });
    }

    /**
     * RFC 3261 §20.5, §11.2: the node as the target lists what it does itself, the same in its 200
     * to OPTIONS and in a 405; the methods it routes to users are not its own.
     */
    @Test
    void optionsIsAnsweredAndOtherMethodsAreNotAllowedWithTheSameAllow() throws Exception {
        String options = alice.register(null, null, null).replace("REGISTER", "OPTIONS");
        SipResponse ok = alice.send(options);
        assertThat(ok.status()).isEqualTo(200);
        SipResponse info = alice.send(alice.register(null, null, null).replace("REGISTER", "INFO"));
        assertThat(info.status()).isEqualTo(405);
        SipResponse invite = alice.invite("sip:" + RegistrarFixture.DOMAIN, null);
        assertThat(invite.status()).isEqualTo(405);
        assertThat(ok.headers().values("Allow")).containsExactly("REGISTER", "OPTIONS", "ACK", "CANCEL");
        assertThat(info.headers().values("Allow")).isEqualTo(ok.headers().values("Allow"));
        assertThat(invite.headers().values("Allow")).isEqualTo(ok.headers().values("Allow"));
    }

    @Test
    void accountChangesReachTheRegistrarWithoutRestart() throws Exception {
        node.accounts.changePassword("alice", RegistrarFixture.DOMAIN, "new-password");
        await().atMost(Duration.ofSeconds(1)).untilAsserted(() ->
                assertThat(alice.registerWithAuth("Contact: " + alice.contact(), "600", "MD5").status()).isEqualTo(403));
        try (TestPhone renewed = new TestPhone("alice", "new-password", node.port)) {
            assertThat(renewed.registerWithAuth("Contact: " + renewed.contact(), "600", "MD5").status()).isEqualTo(200);
        }
    }

    @Test
    void credentialsComputedForAnotherRequestUriAreRefused() throws Exception {
        SipResponse challenge = alice.send(alice.register("Contact: " + alice.contact(), "600", null));
        String offer = challenge.headers().fields("WWW-Authenticate").get(0);
        String forOtherUri = DigestClient.authorization(offer, "alice", "wonderland", "REGISTER",
                "sip:elsewhere.example", alice.nc++, "c1");
        SipResponse refused = alice.send(alice.register("Contact: " + alice.contact(), "600", forOtherUri));
        assertThat(refused.status()).isEqualTo(400);
        assertThat(refused.reason()).isEqualTo("Bad Request - digest uri names neither the Request-URI nor this node");
        assertThat(node.location.size()).isZero();
        assertThat(node.counter("switchboard.sip.auth.failures", "reason", "bad_credentials")).isEqualTo(1);
    }

    /**
     * A digest-uri naming this node itself is accepted besides the Request-URI (RFC 7616 §3.4.6,
     * RFC 3261 §22.4): an address and port it listens on, as SIPp signs, or its domain; a user's URI
     * at the node, or a port it does not listen on, is not.
     */
    @Test
    void aDigestUriNamingThisNodeIsAccepted() throws Exception {
        for (String uri : List.of("sip:127.0.0.1:" + node.port, "sip:" + RegistrarFixture.DOMAIN + ":" + node.port)) {
            SipResponse challenge = alice.send(alice.register("Contact: " + alice.contact(), "600", null));
            String auth = DigestClient.authorization(challenge.header("WWW-Authenticate"), "alice", "wonderland",
                    "REGISTER", uri, alice.nc++, "c1");
            assertThat(alice.send(alice.register("Contact: " + alice.contact(), "600", auth)).status())
                    .as(uri).isEqualTo(200);
        }
        int notListening = node.port == 1 ? 2 : 1;
        // port 0 is not "no port" (RFC 6335 §6: nothing listens there), so not the domain's default either
        for (String uri : List.of("sip:bob@127.0.0.1:" + node.port, "sip:127.0.0.1:" + notListening, "tel:+123",
                "sip:" + RegistrarFixture.DOMAIN + ":0")) {
            SipResponse challenge = alice.send(alice.register("Contact: " + alice.contact(), "600", null));
            String auth = DigestClient.authorization(challenge.header("WWW-Authenticate"), "alice", "wonderland",
                    "REGISTER", uri, alice.nc++, "c1");
            assertThat(alice.send(alice.register("Contact: " + alice.contact(), "600", auth)).status())
                    .as(uri).isEqualTo(400);
        }
    }

    @Test
    void aBindingTheStoreCouldNotKeepIsNotInForce() throws Exception {
        node.bindings.close(); // every later commit fails
        SipResponse failed = alice.registerWithAuth("Contact: " + alice.contact(), "600", "MD5");
        assertThat(failed.status()).isEqualTo(500);
        assertThat(failed.header("Retry-After")).isEqualTo("5");
        assertThat(node.location.lookup("sip:alice@" + RegistrarFixture.DOMAIN, node.clock.millis())).isEmpty();
        assertThat(node.location.size()).isZero();
    }
}
