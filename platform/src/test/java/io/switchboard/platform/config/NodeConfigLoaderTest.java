package io.switchboard.platform.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeConfigLoaderTest {
    @TempDir
    Path dir;

    private final NodeConfigLoader loader = new NodeConfigLoader(List.of("telephony"));

    private Path yaml(String text) throws IOException {
        Path file = dir.resolve("switchboard.yaml");
        Files.writeString(file, text);
        return file;
    }

    private static void assertConfigError(ThrowingCallable call, String key, String problemPart) {
        assertThatThrownBy(call)
                .isInstanceOfSatisfying(ConfigException.class, e -> {
                    assertThat(e.key()).isEqualTo(key);
                    assertThat(e.problem()).contains(problemPart);
                });
    }

    @Test
    void aFileThatIsNotYamlIsOneLineSayingWhere() throws IOException {
        Path file = yaml("http: [\n  a: b\n");
        assertThatThrownBy(() -> loader.load(file, Map.of(), Map.of()))
                .isInstanceOfSatisfying(ConfigException.class, e -> {
                    assertThat(e.problem()).contains("is not valid YAML at line 3")
                            .contains("while parsing a flow sequence ... expected ',' or ']'");
                    assertThat(e.problem()).doesNotContain("\n").doesNotContain("^");
                });
    }

    @Test
    void aKeyWrittenTwiceIsRefusedNotDecidedByTheLastOne() throws IOException {
        Path file = yaml("http: 127.0.0.1:8080\ndomain: a.example.org\ndomain: b.example.org\n");
        assertThatThrownBy(() -> loader.load(file, Map.of(), Map.of()))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problem())
                        .contains("is not valid YAML at line 3").contains("Duplicate field 'domain'"));
    }

    @Test
    void defaultsNeedNoFileNoEnvironmentNoFlags() {
        NodeConfig config = loader.load(null, Map.of(), Map.of());

        assertThat(config.dataDir()).isEqualTo(Path.of("data").toAbsolutePath());
        assertThat(config.http()).isEqualTo(new HostPort("127.0.0.1", 8080));
        assertThat(config.sipListeners()).containsExactly(
                new ListenAddress("udp", "0.0.0.0", 5060), new ListenAddress("tcp", "0.0.0.0", 5060));
        assertThat(config.domain()).isNotBlank();
        assertThat(config.store().url()).isEqualTo("jdbc:sqlite:" + Path.of("data/switchboard.db").toAbsolutePath());
        assertThat(config.logLevel()).isEqualTo("info");
        assertThat(config.section("telephony").asMap()).isEmpty();
    }

    @Test
    void yamlIsOverriddenByEnvironmentWhichIsOverriddenByFlags() throws IOException {
        Path file = yaml("""
                dataDir: /var/lib/sb
                http: 0.0.0.0:9000
                sip:
                  - udp:0.0.0.0:5060
                  - tcp:[::1]:5070
                domain: sip.example.org
                store:
                  url: jdbc:postgresql://db/switchboard
                  user: sb
                  password: hunter2
                log: {level: debug}
                telephony:
                  minExpires: 60s
                  maxBindings: 5
                """);

        NodeConfig fromFile = loader.load(file, Map.of(), Map.of());
        assertThat(fromFile.dataDir()).isEqualTo(Path.of("/var/lib/sb"));
        assertThat(fromFile.http()).isEqualTo(new HostPort("0.0.0.0", 9000));
        assertThat(fromFile.sipListeners()).containsExactly(
                new ListenAddress("udp", "0.0.0.0", 5060), new ListenAddress("tcp", "::1", 5070));
        assertThat(fromFile.store()).isEqualTo(new StoreSettings("jdbc:postgresql://db/switchboard", "sb", "hunter2"));
        assertThat(fromFile.logLevel()).isEqualTo("debug");
        assertThat(fromFile.section("telephony").duration("minExpires", Duration.ZERO)).isEqualTo(Duration.ofSeconds(60));

        Map<String, String> env = Map.of(
                "SWITCHBOARD_HTTP", "127.0.0.1:9001",
                "SWITCHBOARD_DOMAIN", "env.example.org",
                "SWITCHBOARD_TELEPHONY_MIN_EXPIRES", "5m",
                "SWITCHBOARD_STORE_PASSWORD", "fromenv",
                "PATH", "/usr/bin");
        NodeConfig withEnv = loader.load(file, env, Map.of());
        assertThat(withEnv.http()).isEqualTo(new HostPort("127.0.0.1", 9001));
        assertThat(withEnv.domain()).isEqualTo("env.example.org");
        assertThat(withEnv.store().password()).isEqualTo("fromenv");
        assertThat(withEnv.section("telephony").duration("minExpires", Duration.ZERO)).isEqualTo(Duration.ofMinutes(5));
        assertThat(withEnv.section("telephony").integer("maxBindings", 1)).isEqualTo(5);

        NodeConfig withFlags = loader.load(file, env, Map.of("http", "127.0.0.1:9002", "sip", "udp:127.0.0.1:0"));
        assertThat(withFlags.http()).isEqualTo(new HostPort("127.0.0.1", 9002));
        assertThat(withFlags.sipListeners()).containsExactly(new ListenAddress("udp", "127.0.0.1", 0));
        assertThat(withFlags.domain()).isEqualTo("env.example.org");
    }

    @Test
    void httpsIsOffByDefaultAndPlainHttpCanBeTurnedOff() throws IOException {
        NodeConfig defaults = loader.load(null, Map.of(), Map.of());
        assertThat(defaults.https()).isNull();
        assertThat(defaults.describe()).containsEntry("https", "none");

        NodeConfig fromFile = loader.load(yaml("http: none\nhttps: 0.0.0.0:8443\ntls:\n  certificate: /etc/node.crt\n  key: /etc/node.key\n"),
                Map.of(), Map.of());
        assertThat(fromFile.http()).isNull();
        assertThat(fromFile.https()).isEqualTo(new HostPort("0.0.0.0", 8443));
        assertThat(fromFile.section("tls").asMap()).containsEntry("certificate", "/etc/node.crt");
        assertThat(fromFile.describe()).containsEntry("http", "none").containsEntry("tls.key", "/etc/node.key");

        NodeConfig fromEnv = loader.load(null, Map.of("SWITCHBOARD_HTTPS", "127.0.0.1:9443", "SWITCHBOARD_HTTP", "NONE",
                "SWITCHBOARD_TLS_CERTIFICATE", "a.crt", "SWITCHBOARD_TLS_KEY", "a.key", "SWITCHBOARD_TLS_CLIENT_CA", "ca.pem"), Map.of());
        assertThat(fromEnv.http()).isNull();
        assertThat(fromEnv.https()).isEqualTo(new HostPort("127.0.0.1", 9443));
        assertThat(fromEnv.section("tls").asMap()).containsEntry("clientCa", "ca.pem").containsEntry("key", "a.key");

        NodeConfig fromFlags = loader.load(null, Map.of(), Map.of("http", "none", "https", "[::1]:8443"));
        assertThat(fromFlags.https()).isEqualTo(new HostPort("::1", 8443));
    }

    @Test
    void aNodeWithoutAnyHttpListenerIsRefused() throws IOException {
        assertConfigError(() -> loader.load(null, Map.of(), Map.of("http", "none")), "http",
                "is none and https is not set");
        assertConfigError(() -> loader.load(yaml("http: ''\n"), Map.of(), Map.of()), "http",
                "empty; expected HOST:PORT, or none to turn this listener off");
        assertConfigError(() -> loader.load(null, Map.of("SWITCHBOARD_HTTPS", "8443"), Map.of()), "https",
                "has no port");
    }

    @Test
    void httpAndHttpsOnOneAddressAreRefused() {
        assertConfigError(() -> loader.load(null, Map.of(), Map.of("http", "127.0.0.1:8080", "https", "127.0.0.1:8080")),
                "https", "the port plain HTTP (127.0.0.1:8080) listens on");
        assertConfigError(() -> loader.load(null, Map.of(), Map.of("http", "0.0.0.0:8443", "https", "127.0.0.1:8443")),
                "https", "one port cannot serve both");
        assertThat(loader.load(null, Map.of(), Map.of("http", "127.0.0.1:8443", "https", "127.0.0.2:8443")).https())
                .isEqualTo(new HostPort("127.0.0.2", 8443));
        assertThat(loader.load(null, Map.of(), Map.of("http", "127.0.0.1:0", "https", "127.0.0.1:0")).https())
                .isEqualTo(new HostPort("127.0.0.1", 0));
    }

    @Test
    void theNodeIdIsShownUnderItsDocumentedKeyWhereverItCameFrom() throws IOException {
        Path file = dir.resolve("node-id.yaml");
        Files.writeString(file, "cluster:\n  nodeId: from-file\n");
        assertThat(loader.load(file, Map.of(), Map.of()).describe())
                .containsEntry("cluster.nodeId", "from-file").doesNotContainKey("cluster.nodeid");
        Map<String, String> fromEnv = loader.load(file, Map.of("SWITCHBOARD_CLUSTER_NODEID", "from-env"), Map.of())
                .describe();
        assertThat(fromEnv).containsEntry("cluster.nodeId", "from-env").doesNotContainKey("cluster.nodeid");
        assertThat(loader.load(null, Map.of(), Map.of("cluster.nodeid", "from-flag")).describeOneLine())
                .contains("cluster.nodeId=from-flag").doesNotContain("cluster.nodeid");
    }

    @Test
    void aSipListenerOnTheHttpOrHttpsPortIsRefused() {
        assertConfigError(() -> loader.load(null, Map.of(), Map.of("https", "127.0.0.1:8443", "sip", "tls:127.0.0.1:8443")),
                "sip", "tls:127.0.0.1:8443 is on the port HTTPS (127.0.0.1:8443) listens on");
        assertConfigError(() -> loader.load(null, Map.of(), Map.of("http", "0.0.0.0:8080", "sip", "tcp:127.0.0.1:8080")),
                "sip", "is on the port HTTP (0.0.0.0:8080) listens on");
        // UDP is another protocol: one port number serves both
        assertThat(loader.load(null, Map.of(), Map.of("http", "127.0.0.1:8080", "sip", "udp:127.0.0.1:8080"))
                .sipListeners()).hasSize(1);
    }

    @Test
    void dataDirMovesTheDefaultSqliteFile() {
        NodeConfig config = loader.load(null, Map.of("SWITCHBOARD_DATA_DIR", dir.toString()), Map.of());
        assertThat(config.dataDir()).isEqualTo(dir);
        assertThat(config.store().sqliteFile()).isEqualTo(dir.resolve("switchboard.db"));
    }

    @Test
    void drainDelayDefaultsToTenSecondsAndTakesZero() throws IOException {
        // HAProxy's defaults (inter 2s, fall 3) take a node out after 6-8 s
        assertThat(loader.load(null, Map.of(), Map.of()).drainDelay()).isEqualTo(java.time.Duration.ofSeconds(10));
        assertThat(loader.load(null, Map.of("SWITCHBOARD_DRAIN_DELAY", "1500ms"), Map.of()).drainDelay())
                .isEqualTo(java.time.Duration.ofMillis(1500));
        assertThat(loader.load(null, Map.of("SWITCHBOARD_DRAIN_DELAY", "0"), Map.of()).drainDelay()).isZero();
        Path file = dir.resolve("drain.yaml");
        Files.writeString(file, "drainDelay: 0s\n");
        assertThat(loader.load(file, Map.of(), Map.of()).drainDelay()).isZero();
        assertThat(loader.load(file, Map.of(), Map.of()).describe()).containsEntry("drainDelay", "0s");
        assertThatThrownBy(() -> loader.load(null, Map.of("SWITCHBOARD_DRAIN_DELAY", "5"), Map.of()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("drainDelay").hasMessageContaining("SWITCHBOARD_DRAIN_DELAY");
        assertThatThrownBy(() -> loader.load(null, Map.of("SWITCHBOARD_DRAIN_DELAY", "5h"), Map.of()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("longer than 10m");
    }

    @Test
    void commitDelayDefaultsByDatabaseAndIsBounded() throws IOException {
        // SQLite commits are local file writes; a PostgreSQL commit is a round trip and a WAL flush
        assertThat(loader.load(null, Map.of(), Map.of()).store().commitDelay()).isZero();
        assertThat(loader.load(null, Map.of("SWITCHBOARD_STORE_URL", "jdbc:postgresql://db:5432/sb"), Map.of())
                .store().commitDelay()).isEqualTo(java.time.Duration.ofMillis(2));
        assertThat(loader.load(null, Map.of("SWITCHBOARD_STORE_URL", "jdbc:postgresql://db:5432/sb",
                "SWITCHBOARD_STORE_COMMIT_DELAY", "0"), Map.of()).store().commitDelay()).isZero();
        Path file = dir.resolve("commit-delay.yaml");
        Files.writeString(file, "store:\n  commitDelay: 5ms\n");
        assertThat(loader.load(file, Map.of(), Map.of()).store().commitDelay()).isEqualTo(java.time.Duration.ofMillis(5));
        assertThat(loader.load(file, Map.of(), Map.of()).describe()).containsEntry("store.commitDelay", "5ms");
        assertThatThrownBy(() -> loader.load(null, Map.of("SWITCHBOARD_STORE_COMMIT_DELAY", "5"), Map.of()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("store.commitDelay")
                .hasMessageContaining("SWITCHBOARD_STORE_COMMIT_DELAY");
        assertThatThrownBy(() -> loader.load(null, Map.of("SWITCHBOARD_STORE_COMMIT_DELAY", "1s"), Map.of()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("longer than 100ms");
    }

    @Test
    void environmentNamesMapToKeys() {
        assertThat(loader.keyForEnvironmentVariable("SWITCHBOARD_DATA_DIR")).isEqualTo("dataDir");
        assertThat(loader.keyForEnvironmentVariable("SWITCHBOARD_SIP")).isEqualTo("sip");
        assertThat(loader.keyForEnvironmentVariable("SWITCHBOARD_STORE_URL")).isEqualTo("store.url");
        assertThat(loader.keyForEnvironmentVariable("SWITCHBOARD_LOG_LEVEL")).isEqualTo("log.level");
        assertThat(loader.keyForEnvironmentVariable("SWITCHBOARD_TELEPHONY_MIN_EXPIRES")).isEqualTo("telephony.minExpires");
    }

    @Test
    void unknownKeysAreRefusedByName() throws IOException {
        assertConfigError(() -> loader.load(yaml("htp: 1.2.3.4:80\n"), Map.of(), Map.of()), "htp", "unknown key");
        assertConfigError(() -> loader.load(yaml("store: {uri: x}\n"), Map.of(), Map.of()), "store.uri", "unknown key");
        assertConfigError(() -> loader.load(null, Map.of("SWITCHBOARD_HTTP_PORT", "80"), Map.of()),
                "SWITCHBOARD_HTTP_PORT", "unknown setting");
        assertConfigError(() -> loader.load(null, Map.of("SWITCHBOARD_STORE_URI", "x"), Map.of()),
                "SWITCHBOARD_STORE_URI", "unknown setting store.uri");
        assertConfigError(() -> loader.load(null, Map.of("SWITCHBOARD_TELEPHONY", "x"), Map.of()),
                "SWITCHBOARD_TELEPHONY", "is a block");
    }

    @Test
    void badValuesNameTheKeyAndWhereTheyCameFrom() throws IOException {
        assertConfigError(() -> loader.load(null, Map.of(), Map.of("sip", "sctp:0.0.0.0:5060")),
                "sip", "unknown transport \"sctp\"");
        assertConfigError(() -> loader.load(null, Map.of("SWITCHBOARD_SIP", "udp:0.0.0.0:70000"), Map.of()),
                "sip", "(from SWITCHBOARD_SIP)");
        assertConfigError(() -> loader.load(null, Map.of(), Map.of("http", "localhost")),
                "http", "has no port");
        assertConfigError(() -> loader.load(null, Map.of(), Map.of("http", "::1:8080")),
                "http", "brackets");
        assertConfigError(() -> loader.load(null, Map.of(), Map.of("domain", "bad_domain!")),
                "domain", "not a valid host name");
        assertConfigError(() -> loader.load(yaml("store: {url: 'jdbc:mysql://x/y'}\n"), Map.of(), Map.of()),
                "store.url", "not supported");
        assertConfigError(() -> loader.load(yaml("log: {level: loud}\n"), Map.of(), Map.of()),
                "log.level", "not a level");
        assertConfigError(() -> loader.load(yaml("sip: {udp: 5060}\n"), Map.of(), Map.of()),
                "sip", "got a block");
        assertConfigError(() -> loader.load(yaml("telephony: 5\n"), Map.of(), Map.of()),
                "telephony", "expected a block");
    }

    @Test
    void flagOriginIsNamed() {
        assertThatThrownBy(() -> loader.load(null, Map.of(), Map.of("dataDir", "")))
                .isInstanceOfSatisfying(ConfigException.class, e ->
                        assertThat(e.problem()).contains("(from --data-dir)"));
        assertThatThrownBy(() -> loader.load(null, Map.of(), Map.of("log.level", "verbose")))
                .isInstanceOfSatisfying(ConfigException.class, e ->
                        assertThat(e.problem()).contains("(from --log-level)"));
        // --node-id sets cluster.nodeid (the environment's spelling); the problem names the flag and the documented key
        assertThatThrownBy(() -> io.switchboard.platform.cluster.ClusterSettings.from(
                loader.load(null, Map.of(), Map.of("cluster.nodeid", "bad id!")).section("cluster")))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.getMessage())
                        .contains("cluster.nodeId: \"bad id!\" is not a node id").endsWith("(from --node-id)"));
    }

    @Test
    void aTlsKeyRequiredWithTheOtherNamesWhereTheOtherCameFrom() throws IOException {
        assertConfigError(() -> io.switchboard.platform.tls.TlsSettings.from(loader.load(null,
                        Map.of("SWITCHBOARD_TLS_CERTIFICATE", "/nope.pem"), Map.of()).section("tls")), "tls.key",
                "is required with tls.certificate (from SWITCHBOARD_TLS_CERTIFICATE): the PEM file of its private key");
        assertConfigError(() -> io.switchboard.platform.tls.TlsSettings.from(loader.load(null,
                        Map.of("SWITCHBOARD_TLS_KEY", "/nope.pem"), Map.of()).section("tls")), "tls.certificate",
                "is required with tls.key (from SWITCHBOARD_TLS_KEY): the PEM file of the certificate chain");
        // from the file: its line
        assertConfigError(() -> io.switchboard.platform.tls.TlsSettings.from(loader.load(yaml("tls: {key: /nope.pem}\n"),
                        Map.of(), Map.of()).section("tls")), "tls.certificate",
                "is required with tls.key (from " + dir.resolve("switchboard.yaml") + ", line 1): the PEM file of the certificate chain");
    }

    @Test
    void aBadValueInTheFileNamesTheFileAndTheLineOfItsKey() throws IOException {
        Path file = yaml("# comment\nhttp: 127.0.0.1:8080\nstore:\n  user: me\n  commitDelay: 5 parsecs\n");
        assertConfigError(() -> loader.load(file, Map.of(), Map.of()), "store.commitDelay",
                "is not a duration; expected a number with a unit, e.g. 500ms, 30s, 5m, 2h, 1d (from " + file + ", line 5)");
        // a module's section, read later by the module
        Path module = yaml("telephony:\n\n  minExpires: soon\n");
        assertThatThrownBy(() -> loader.load(module, Map.of(), Map.of()).section("telephony").duration("minExpires", Duration.ZERO))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problem()).endsWith("(from " + module + ", line 3)"));
        // unknown keys, empty keys, a block written as a value
        assertConfigError(() -> loader.load(yaml("http: 127.0.0.1:8080\nhtp: 1\n"), Map.of(), Map.of()), "htp",
                "(from " + file + ", line 2)");
        assertConfigError(() -> loader.load(yaml("store:\n  url: x\n  comitDelay: 1ms\n"), Map.of(), Map.of()),
                "store.comitDelay", "(from " + file + ", line 3)");
        assertConfigError(() -> loader.load(yaml("domain:\n"), Map.of(), Map.of()), "domain", "(from " + file + ", line 1)");
        assertConfigError(() -> loader.load(yaml("sip:\n  udp: 5060\n"), Map.of(), Map.of()), "sip",
                "got a block (from " + file + ", line 1)");
        // the environment and the flags name themselves, not the file's line they replace
        assertConfigError(() -> loader.load(yaml("store:\n  commitDelay: 1ms\n"), Map.of("SWITCHBOARD_STORE_COMMIT_DELAY", "x"),
                Map.of()), "store.commitDelay", "(from SWITCHBOARD_STORE_COMMIT_DELAY)");
        assertConfigError(() -> loader.load(yaml("log:\n  level: info\n"), Map.of(), Map.of("log.level", "loud")),
                "log.level", "(from --log-level)");
    }

    @Test
    void fileProblemsAreConfigErrors() throws IOException {
        assertConfigError(() -> loader.load(dir.resolve("absent.yaml"), Map.of(), Map.of()), "config", "does not exist");
        assertConfigError(() -> loader.load(yaml("http: [unclosed\n"), Map.of(), Map.of()), "config", "not valid YAML");
        assertConfigError(() -> loader.load(yaml("- a\n- b\n"), Map.of(), Map.of()), "config", "block of keys");
        assertThat(loader.load(yaml(""), Map.of(), Map.of()).http().port()).isEqualTo(8080);
    }

    @Test
    void emptySipMeansNoListeners() throws IOException {
        assertThat(loader.load(null, Map.of(), Map.of("sip", "")).sipListeners()).isEmpty();
        assertThat(loader.load(yaml("sip: []\n"), Map.of(), Map.of()).sipListeners()).isEmpty();
        // a key with nothing after it is YAML's null: which was meant cannot be told
        assertConfigError(() -> loader.load(yaml("sip:\n"), Map.of(), Map.of()), "sip",
                "has no value; remove the key for the default (udp:0.0.0.0:5060,tcp:0.0.0.0:5060), or write sip: [] for no SIP listener");
        assertConfigError(() -> loader.load(yaml("http: ~\n"), Map.of(), Map.of()), "http", "has no value");
        assertConfigError(() -> loader.load(yaml("domain: null\n"), Map.of(), Map.of()), "domain", "has no value");
        // left empty in the file and given by a later layer: taken
        assertThat(loader.load(yaml("domain:\nsip:\n"), Map.of("SWITCHBOARD_DOMAIN", "sip.example.org"), Map.of("sip", ""))
                .domain()).isEqualTo("sip.example.org");
    }

    @Test
    void aBareBlockKeyIsRefused() throws IOException {
        // someone about to write the block's keys who did not: not the defaults in silence
        assertConfigError(() -> loader.load(yaml("store:\n"), Map.of(), Map.of()), "store",
                "has no value; remove the key for the defaults, or write its keys under it [url, user, password, commitDelay]");
        assertConfigError(() -> loader.load(yaml("log: ~\n"), Map.of(), Map.of()), "log", "has no value");
        for (String block : List.of("telephony", "auth", "bus", "tls", "cluster", "proxies")) {
            assertConfigError(() -> loader.load(yaml(block + ":\n"), Map.of(), Map.of()), block,
                    "has no value; remove the key for the defaults, or write its keys under it");
        }
        // one level down, the same
        assertConfigError(() -> loader.load(yaml("store:\n  url:\n"), Map.of(), Map.of()), "store.url",
                "has no value; remove the key for the default, or give one");
        assertConfigError(() -> loader.load(yaml("telephony: {sip: }\n"), Map.of(), Map.of()), "telephony.sip",
                "has no value");
        // an empty block written as one is no slip; left empty in the file and given by a later layer: taken
        assertThat(loader.load(yaml("store: {}\ntelephony: {}\n"), Map.of(), Map.of()).http().port()).isEqualTo(8080);
        assertThat(loader.load(yaml("store:\ntls:\n"), Map.of("SWITCHBOARD_STORE_URL", "jdbc:sqlite:/tmp/x.db",
                "SWITCHBOARD_TLS_KEY", "k.pem"), Map.of()).store().url()).isEqualTo("jdbc:sqlite:/tmp/x.db");
        // one level down too, where the later layer writes the key in another case (a per-node --node-id)
        assertThat(loader.load(yaml("cluster:\n  nodeId:\n"), Map.of(), Map.of("cluster.nodeid", "n1")).describe())
                .containsEntry("cluster.nodeId", "n1");
        assertThat(loader.load(yaml("cluster:\n  nodeId:\n"), Map.of("SWITCHBOARD_CLUSTER_NODEID", "n2"), Map.of()).describe())
                .containsEntry("cluster.nodeId", "n2");
    }

    @Test
    void describeMasksSecrets() throws IOException {
        Path file = yaml("""
                store: {url: 'jdbc:postgresql://db/sb?password=inurl', user: sb, password: hunter2}
                telephony: {trunkPassword: s3cret, apiToken: t0k, realm: example, accessTokenTtl: 15m}
                """);
        String line = loader.load(file, Map.of(), Map.of()).describeOneLine();
        assertThat(line).doesNotContain("hunter2", "inurl", "s3cret", "t0k")
                .contains("store.password=***", "telephony.trunkPassword=***", "telephony.realm=example",
                        "password=***")
                .as("a token's lifetime is not a secret").contains("telephony.accessTokenTtl=15m");
    }

    @Test
    void undeclaredSectionIsAProgrammingError() {
        NodeConfig config = loader.load(null, Map.of(), Map.of());
        assertThatThrownBy(() -> config.section("chat")).isInstanceOf(IllegalArgumentException.class);
    }
}
