package io.switchboard.monitor.definition;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DefinitionReaderTest {
    /** The file from the issue, exactly as written there. */
    static final String ISSUE_FILE = """
            channels:
              - name: ops-hook
                type: webhook            # also: telegram (botToken, chatId, apiUrl), email (smtp settings, to)
                url: http://127.0.0.1:9000/hook
            monitors:
              - name: shop
                type: http
                target: http://127.0.0.1:8000/health
                interval: 1s
                timeout: 2s
                failureThreshold: 2
                channels: [ops-hook]
            """;

    @Test
    void theIssuesFileReadsAsWritten() {
        Catalog catalog = CatalogFile.read(ISSUE_FILE, Set.of());
        assertThat(catalog.channels()).singleElement().satisfies(c -> {
            assertThat(c.name()).isEqualTo("ops-hook");
            assertThat(c.settings()).isEqualTo(new ChannelDefinition.ChannelSettings.Webhook("http://127.0.0.1:9000/hook", null,
                    java.util.Map.of()));
        });
        MonitorDefinition shop = catalog.monitors().getFirst();
        assertThat(shop.type()).isEqualTo(CheckType.HTTP);
        assertThat(shop.interval()).isEqualTo(Duration.ofSeconds(1));
        assertThat(shop.timeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(shop.failureThreshold()).isEqualTo(2);
        assertThat(shop.recoveryThreshold()).isEqualTo(1);
        assertThat(shop.channels()).containsExactly("ops-hook");
        assertThat(shop.host()).isEqualTo("127.0.0.1");
        assertThat(CatalogFile.read(CatalogFile.write(catalog), Set.of())).isEqualTo(catalog);
    }

    private static DefinitionException error(String yaml) {
        try {
            CatalogFile.read(yaml, Set.of("known"));
        } catch (DefinitionException e) {
            return e;
        }
        throw new AssertionError("no error for:\n" + yaml);
    }

    private static String monitor(String body) {
        return "monitors:\n  - name: shop\n" + body.indent(4);
    }

    @Test
    void aCatalogLargerThanYamlsDefaultLimitExportsAndImports() {
        java.util.List<MonitorDefinition> monitors = new java.util.ArrayList<>();
        for (int i = 0; i < 16_000; i++) {
            monitors.add(io.switchboard.monitor.support.Defs.monitor("name: monitor-number-" + i + "\ntype: http\ntarget: "
                    + "https://service-" + i + ".shop.example.org/health/check?region=eu-central&tier=gold\ninterval: 10s\n"
                    + "headers: {Accept: application/json}\nkeyword: healthy\n"));
        }
        Catalog catalog = new Catalog(java.util.List.of(), monitors, java.util.List.of());
        String exported = CatalogFile.write(catalog);
        assertThat(exported.length()).isGreaterThan(3 * 1024 * 1024); // SnakeYAML's default limit
        assertThat(CatalogFile.read(exported, Set.of())).isEqualTo(catalog);
    }

    @Test
    void everyErrorNamesWhereItIs() {
        assertThat(error(monitor("type: http\ntarget: http://x/\ninterval: 500ms")).describe())
                .isEqualTo("monitors[0] (shop).interval: 500ms is below the 1s minimum");
        assertThat(error(monitor("type: http\ntarget: http://x/\ninterval: 10")).describe())
                .isEqualTo("monitors[0] (shop).interval: expected a duration with a unit such as 30s, got 10 (a bare number's unit"
                        + " would be a guess)");
        assertThat(error(monitor("type: http\ntarget: http://x/\ninterval: 10 seconds")).describe())
                .isEqualTo("monitors[0] (shop).interval: \"10 seconds\" is not a duration; expected a number with a unit,"
                        + " e.g. 500ms, 30s, 5m, 2h, 1d");
        assertThat(error(monitor("type: http\ntarget: http://x/\nreminderEvery: 999999999999d")).describe())
                .isEqualTo("monitors[0] (shop).reminderEvery: \"999999999999d\" is too large");
        assertThat(error(monitor("type: http\ntarget: http://x/\nintreval: 10s")).describe())
                .startsWith("monitors[0] (shop).intreval: unknown key; http monitors have [name, type, target, interval,");
        assertThat(error(monitor("type: ping\ntarget: x")).describe())
                .isEqualTo("monitors[0] (shop).type: \"ping\" is not a check type; expected one of http, dns, tls, tcp, sip");
        assertThat(error(monitor("type: http\ntarget: ftp://x/")).describe())
                .startsWith("monitors[0] (shop).target: an http target is an http:// or https:// URL");
        assertThat(error(monitor("type: http\ntarget: http://x/\nexpectStatus: ['300-200']")).describe())
                .isEqualTo("monitors[0] (shop).expectStatus: \"300-200\" runs backwards; write the lower code first, e.g. 200-300");
        // a URL where host:port is meant: said so, not "write IPv6 addresses in brackets"
        assertThat(error(monitor("type: tcp\ntarget: http://127.0.0.1:8000/")).describe()).isEqualTo("monitors[0] (shop).target: "
                + "\"http://127.0.0.1:8000/\" is a URL; write host:port, e.g. 192.0.2.10:5432");
        assertThat(error(monitor("type: tls\ntarget: https://127.0.0.1/")).describe()).isEqualTo("monitors[0] (shop).target: "
                + "\"https://127.0.0.1/\" is a URL; write host:port, e.g. 192.0.2.10:443");
        assertThat(error(monitor("type: tcp\ntarget: db.example.org")).describe())
                .isEqualTo("monitors[0] (shop).target: a tcp target is host:port, e.g. db.example.org:5432 (got \"db.example.org\")");
        assertThat(error(monitor("type: sip\ntarget: sips:panel@10.0.0.5")).describe()).contains("the sip check does not send OPTIONS over TLS (sips:)");
        assertThat(error(monitor("type: tls\ntarget: x.org:443\nwarnDays: 3\ncriticalDays: 7")).describe())
                .isEqualTo("monitors[0] (shop).criticalDays: 7 is above warnDays (3)");
        assertThat(error(monitor("type: http\ntarget: http://x/\nfailureThreshold: 0")).describe())
                .isEqualTo("monitors[0] (shop).failureThreshold: 0 is outside 1-100");
        assertThat(error(monitor("type: http\ntarget: http://x/\nexpectStatus: [200, 7xx]")).describe())
                .isEqualTo("monitors[0] (shop).expectStatus: \"7xx\" is not a status code, class (2xx) or range (200-299)");
        assertThat(error(monitor("type: http\ntarget: http://x/\njsonValue: ok")).describe())
                .isEqualTo("monitors[0] (shop).jsonValue: needs jsonPath: the value of which field?");
        assertThat(error(monitor("type: http\ntarget: http://x/\njsonPath: '$..['")).describe())
                .startsWith("monitors[0] (shop).jsonPath: \"$..[\" is not a JSONPath");
        assertThat(error(monitor("type: dns\ntarget: x.org\nresolver: dns.google")).describe())
                .startsWith("monitors[0] (shop).resolver: the resolver is an IP address");
        assertThat(error(monitor("type: http\ntarget: http://x/\ndegradedAbove: 20s\ntimeout: 5s")).describe())
                .isEqualTo("monitors[0] (shop).degradedAbove: 20s must be above 0 and below the timeout (5s)");
    }

    /**
     * Rules added after monitors were first stored apply to what is written now, not to what is
     * read back: a stored monitor that broke one keeps loading (it worked, or failed, as before).
     */
    @Test
    void whatIsWrittenNowMeetsTheLaterRulesAndWhatWasStoredStillLoads() {
        assertThat(inputError("type: http\ntarget: http://127.0.0.1:0/"))
                .isEqualTo("target: \"http://127.0.0.1:0/\": port 0 is outside 1-65535");
        assertThat(inputError("type: tcp\ntarget: '127.0.0.1:+80'")).isEqualTo("target: \"127.0.0.1:+80\": \"+80\" is not a port number");
        assertThat(inputError("type: tls\ntarget: '[::1]'")).isNull();
        assertThat(inputError("type: http\ntarget: http://x/" + "a".repeat(2100))).isEqualTo("target: at most 2048 characters (got 2109)");
        assertThat(inputError("type: http\ntarget: http://x/\nheaders: {X-A: \"v\\e[31m\"}"))
                .isEqualTo("headers.X-A: a header value is visible ASCII, spaces and tabs (U+001B at character 1)");
        // a check may name the virtual host it asks for
        assertThat(inputError("type: http\ntarget: http://10.0.0.5/\nheaders: {Host: shop.example.org}")).isNull();
        assertThat(error(monitor("type: http\ntarget: http://x/\nheaders: {X-A: \"v\\nX-B: 1\"}")).describe())
                .isEqualTo("monitors[0] (shop).headers.X-A: a header value is one line");

        assertThat(channelInputError("headers: {X-A: \"v\\r\\nX-Injected: 1\"}")).isEqualTo("headers.X-A: a header value is one line");
        assertThat(channelInputError("headers: {X-A: \"caf\\u00e9\"}"))
                .isEqualTo("headers.X-A: a header value is visible ASCII, spaces and tabs (U+00E9 at character 3)");
        assertThat(channelInputError("headers: {Content-Length: '5'}"))
                .isEqualTo("headers: \"Content-Length\" is set by the node itself; leave it out");
        assertThat(channelInputError("headers: {Transfer-Encoding: chunked}"))
                .isEqualTo("headers: \"Transfer-Encoding\" is set by the node itself; leave it out");
        assertThat(channelInputError("headers: {X-Switchboard-Signature: sha256=00}"))
                .isEqualTo("headers: \"X-Switchboard-Signature\" is set by the node itself; leave it out");
        assertThat(channelInputError("headers: {X-Team: ops, Content-Type: application/vnd.ops+json}")).isNull();
    }

    /**
     * A dns monitor's expect values written now can be answers of its record type, compared as
     * DnsCheck compares them: one that cannot (text for an A record) would keep the monitor down
     * for ever. A stored one still loads.
     */
    @Test
    void dnsExpectValuesWrittenNowCanBeAnswersOfTheirRecordType() {
        java.util.function.BiFunction<String, String, String> written = (type, values) ->
                inputError("type: dns\ntarget: shop.test\n" + (type == null ? "" : "recordType: " + type + "\n")
                        + "expect: " + values);
        assertThat(written.apply(null, "['not an ip']"))
                .isEqualTo("expect[0]: \"not an ip\" is not an IPv4 address, which an A record holds (e.g. 192.0.2.10)");
        assertThat(written.apply("A", "[192.0.2.10, '192.0.2.11.', ' 10.0.0.255 ']")).isNull();
        assertThat(written.apply("A", "[192.0.2.10, 192.0.2.010]")).as("never written with a leading zero")
                .startsWith("expect[1]: \"192.0.2.010\" is not an IPv4 address");
        assertThat(written.apply("A", "[192.0.2.256]")).startsWith("expect[0]: \"192.0.2.256\" is not an IPv4 address");
        assertThat(written.apply("A", "['2001:db8::10']")).startsWith("expect[0]: \"2001:db8::10\" is not an IPv4 address");
        // AAAA answers are compared as addresses: any form of one matches
        assertThat(written.apply("AAAA", "['::1', '0:0:0:0:0:0:0:1', '2001:DB8::10', '::ffff:192.0.2.1']")).isNull();
        assertThat(written.apply("AAAA", "[192.0.2.10]"))
                .isEqualTo("expect[0]: \"192.0.2.10\" is not an IPv6 address, which an AAAA record holds (e.g. 2001:db8::10)");
        for (String bad : List.of("1::2::3", "fe80::1%eth0", "shop.test", "[::1]", "2001:db8::g")) {
            assertThat(written.apply("AAAA", "['" + bad + "']")).as(bad).startsWith("expect[0]: \"" + bad + "\" is not an IPv6 address");
        }
        assertThat(written.apply("CNAME", "['shop.test.', Shop.Test]")).isNull();
        assertThat(written.apply("CNAME", "['shop test']"))
                .isEqualTo("expect[0]: \"shop test\" is not a host name, which a CNAME record holds (e.g. host.example.org)");
        assertThat(written.apply("MX", "['10 mail.shop.test', '20 mx2.shop.test.']")).isNull();
        assertThat(written.apply("MX", "[mail.shop.test]")).isEqualTo("expect[0]: \"mail.shop.test\" is not a preference and a"
                + " host name, as an MX record is answered (e.g. 10 mail.example.org)");
        assertThat(written.apply("SRV", "['10 5 5061 sip.shop.test.']")).isNull();
        assertThat(written.apply("SRV", "[sip.shop.test]")).startsWith("expect[0]: \"sip.shop.test\" is not a priority, weight,");
        assertThat(written.apply("TXT", "['v=spf1 -all', 'anything at all']")).isNull();

        MonitorDefinition stored = CatalogFile.read(monitor("type: dns\ntarget: shop.test\nexpect: ['not an ip']"), Set.of())
                .monitors().getFirst();
        assertThat(((CheckOptions.Dns) stored.options()).expectValues()).as("read back as stored").containsExactly("not an ip");
    }

    /**
     * A user and password in the URL are sent as Basic authentication, so an Authorization header
     * beside them gives the credentials twice: refused when written now, whatever the header's case;
     * either alone is taken, and a stored definition with both still loads.
     */
    @Test
    void credentialsAreGivenInTheUrlOrInAnAuthorizationHeaderNotBoth() {
        assertThat(inputError("type: http\ntarget: 'http://ops:hunter2@127.0.0.1:24701/x'\nheaders: {Authorization: 'Bearer t'}"))
                .isEqualTo("headers.Authorization: credentials given twice: in the URL (user:password@) and in an"
                        + " Authorization header; keep one");
        assertThat(inputError("type: http\ntarget: 'http://ops@127.0.0.1/x'\nheaders: {authorization: 'Basic b3BzOg=='}"))
                .startsWith("headers.authorization: credentials given twice");
        assertThat(inputError("type: http\ntarget: 'http://ops:hunter2@127.0.0.1:24701/x'\nheaders: {X-Team: ops}")).isNull();
        assertThat(inputError("type: http\ntarget: 'http://127.0.0.1:24701/x'\nheaders: {Authorization: 'Bearer t'}")).isNull();
        assertThat(channelInputError("headers: {Authorization: 'Bearer t'}")).isNull();
        ChannelDefinition both = CatalogFile.read("channels:\n  - {name: ops, type: webhook, url: 'http://user:pw@127.0.0.1:24701/h',"
                + " headers: {Authorization: 'Bearer t'}}\n", Set.of()).channels().getFirst();
        assertThatThrownBy(() -> DefinitionReader.requireInputRules(both)).isInstanceOfSatisfying(DefinitionException.class,
                e -> assertThat(e.describe()).startsWith("headers.Authorization: credentials given twice"));
        // the API's masked URL hides the user information; the stored URL it stands for is asked about
        ChannelDefinition stored = CatalogFile.read("channels:\n  - {name: ops, type: webhook, url: 'http://user:pw@127.0.0.1:24701/h'}\n",
                Set.of()).channels().getFirst();
        ChannelDefinition putBack = CatalogFile.read("channels:\n  - {name: ops, type: webhook, url: 'http://127.0.0.1:24701/***',"
                + " headers: {Authorization: 'Bearer t'}}\n", Set.of()).channels().getFirst();
        DefinitionReader.requireInputRules(putBack);
        assertThatThrownBy(() -> DefinitionReader.requireCredentialsOnce(MonitorCatalog.unmask(putBack, java.util.Optional.of(stored))))
                .isInstanceOf(DefinitionException.class);
    }

    /** A bot token written now is @BotFather's shape; one stored before the rule still loads. */
    @Test
    void aTelegramBotTokenWrittenNowIsTheBotsNumberAColonAndItsSecret() throws Exception {
        java.util.function.Function<String, String> written = token -> {
            ChannelDefinition channel = CatalogFile.read("channels:\n  - {name: tg, type: telegram, botToken: '" + token
                    + "', chatId: '42'}\n", Set.of()).channels().getFirst();
            try {
                DefinitionReader.requireInputRules(channel);
                return null;
            } catch (DefinitionException e) {
                return e.describe();
            }
        };
        assertThat(written.apply("badtoken:x")).startsWith("botToken: is not a bot token (the bot's number, a colon");
        assertThat(written.apply("123456:")).startsWith("botToken: is not a bot token");
        assertThat(written.apply("123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11")).isNull();
        assertThat(written.apply("***")).as("the mask of a stored token").isNull();
    }

    /** The later rules' complaint about a monitor the file format takes, or null. */
    private static String inputError(String body) {
        MonitorDefinition monitor = CatalogFile.read(monitor(body), Set.of()).monitors().getFirst();
        try {
            DefinitionReader.requireInputRules(monitor);
            return null;
        } catch (DefinitionException e) {
            return e.describe();
        }
    }

    private static String channelInputError(String settings) {
        ChannelDefinition channel = CatalogFile.read("channels:\n  - name: ops\n    type: webhook\n    url: 'http://x/'\n"
                + settings.indent(4), Set.of()).channels().getFirst();
        try {
            DefinitionReader.requireInputRules(channel);
            return null;
        } catch (DefinitionException e) {
            return e.describe();
        }
    }

    @Test
    void referencesAndDuplicatesInTheFile() {
        DefinitionException unknown = error(monitor("type: http\ntarget: http://x/\nchannels: [pager]"));
        assertThat(unknown.kind()).isEqualTo(DefinitionException.Kind.UNKNOWN_REFERENCE);
        // named like every other error of an entry, so a long file's entry is found by its name
        assertThat(unknown.describe()).isEqualTo("monitors[0] (shop).channels: no channel pager");
        assertThat(error("channels:\n  - {name: ops, type: webhook, url: 'http://x/'}\nmonitors:\n  - {name: a, type: tcp,"
                + " target: 'x:1', channels: [ops]}\n  - {name: shop2, type: tcp, target: 'x:2', channels: [ops, pager]}")
                .describe()).isEqualTo("monitors[1] (shop2).channels: no channel pager; the file defines [ops]");
        // a channel that exists already may be used without defining it again
        assertThat(CatalogFile.read(monitor("type: http\ntarget: http://x/\nchannels: [known]"), Set.of("known")).monitors()).hasSize(1);
        assertThat(error("monitors:\n  - {name: a, type: tcp, target: 'x:1'}\n  - {name: a, type: tcp, target: 'x:2'}").describe())
                .isEqualTo("monitors[1] (a).name: monitor a is defined twice");
        assertThat(error("channels:\n  - {name: ops, type: webhook, url: 'http://x/'}\n  - {name: ops, type: webhook,"
                + " url: 'http://y/'}").describe()).isEqualTo("channels[1] (ops).name: channel ops is defined twice");
        assertThat(error("monitor:\n  - {name: a}").describe())
                .isEqualTo("monitor: unknown key; monitor files have [channels, monitors, maintenance]");
        assertThat(error("monitors: {name: a}").describe()).isEqualTo("monitors: must be a list (items start with \"- \")");
        assertThat(error("monitors:\n  - name: a\n  type: tcp").describe()).startsWith("not valid YAML at line 3");
        // a key written twice is refused, not decided by "the last one wins"
        assertThat(error("monitors:\n  - name: a\n    type: tcp\n    target: 'x:1'\n    interval: 5s\n    interval: 1s").describe())
                .startsWith("not valid YAML at line 6").contains("Duplicate field 'interval'");
        // one line, without SnakeYAML's quoted source and markers
        assertThat(error("monitors:\n\t- name: a").describe()).doesNotContain("\n");
    }

    /**
     * YAML a monitor file does not use, or cannot hold, is named as what it is, where it is: an
     * alias (read as a bare word, it was "expected a block of keys, got string"), a number too large
     * ("got \"Infinity\""), a control character (SnakeYAML says line 1, column 1 wherever it is).
     */
    @Test
    void yamlTheFileCannotUseIsNamedWhereItIs() {
        assertThat(error("monitors:\n  - &shop {name: a, type: tcp, target: 'x:1'}\n  - *shop\n").describe())
                .isEqualTo("line 3, column 5: *shop is a YAML alias, which a monitor file does not use; write the entry or value"
                        + " out in full");
        // a * in a value or a comment is no alias
        assertThat(CatalogFile.read(monitor("type: http\ntarget: 'http://x/*shop'\nkeyword: '*ok*' # *not"), Set.of())
                .monitors()).hasSize(1);
        assertThat(error(monitor("type: tcp\ntarget: 'x:1'\nfailureThreshold: 1e400")).describe())
                .isEqualTo("monitors[0] (shop).failureThreshold: expected a whole number, got a number too large to read");
        assertThat(error("monitors:\n  - {name: a, type: tcp, target: 'x:1'}\n  - {name: b\u0001, type: tcp, target: 'x:2'}\n")
                .describe()).isEqualTo("not valid YAML at line 3, column 13: the character U+0001 (a control character) is not"
                        + " allowed in YAML");
    }

    @Test
    void channels() {
        assertThat(error("channels:\n  - {name: tg, type: telegram, chatId: '1'}").describe())
                .startsWith("channels[0] (tg).botToken: is required");
        assertThat(error("channels:\n  - {name: tg, type: telegram, botToken: '1:abcd', chatId: 'my chat'}").describe())
                .startsWith("channels[0] (tg).chatId: \"my chat\" is not a chat id");
        assertThat(error("channels:\n  - {name: m, type: email, host: smtp.x.org, from: me@x.org, to: [nobody]}").describe())
                .isEqualTo("channels[0] (m).to[0]: \"nobody\" is not an e-mail address");
        assertThat(error("channels:\n  - {name: m, type: email, host: smtp.x.org, from: me@x.org, to: a@x.org, security: ssl}")
                .describe()).isEqualTo("channels[0] (m).security: \"ssl\" is not one of [starttls, tls, none]");
        // a password never goes out in clear text, but to a relay on this host
        assertThat(error("channels:\n  - {name: m, type: email, host: smtp.x.org, from: me@x.org, to: a@x.org,"
                + " security: none, username: u, password: p}").describe())
                .startsWith("channels[0] (m).security: \"none\" would send the password to smtp.x.org in clear text");
        assertThat(error("channels:\n  - {name: m, type: email, host: '10.0.0.5:25', from: me@x.org, to: a@x.org,"
                + " security: none, username: u, password: p}").describe()).contains("in clear text");
        assertThat(error("channels:\n  - {name: m, type: email, host: mail.localhost, from: me@x.org, to: a@x.org,"
                + " security: none, username: u, password: p}").describe()).contains("in clear text");
        for (String local : List.of("localhost", "127.0.0.1:2525", "'[::1]:25'")) {
            assertThat(CatalogFile.read("channels:\n  - {name: m, type: email, host: " + local + ", from: me@x.org, to: a@x.org,"
                    + " security: none, username: u, password: p}", Set.of()).channels()).as(local).hasSize(1);
        }
        assertThat(CatalogFile.read("channels:\n  - {name: m, type: email, host: smtp.x.org, from: me@x.org, to: a@x.org,"
                + " security: none}", Set.of()).channels()).as("no password: nothing to hide").hasSize(1);
        ChannelDefinition mail = CatalogFile.read("channels:\n  - {name: m, type: email, host: smtp.x.org, from: me@x.org,"
                + " to: a@x.org, security: tls}", Set.of()).channels().getFirst();
        assertThat(((ChannelDefinition.ChannelSettings.Email) mail.settings()).port()).isEqualTo(465);
    }

    @Test
    void maintenanceWindowsRepeat() {
        MaintenanceWindow nightly = CatalogFile.read("maintenance:\n  - {name: n, start: '2025-06-01T02:00:00Z', duration: 30m,"
                + " repeat: daily}", Set.of()).maintenance().getFirst();
        assertThat(nightly.covers("any", Instant.parse("2025-06-05T02:10:00Z"))).isTrue();
        assertThat(nightly.covers("any", Instant.parse("2025-06-05T02:31:00Z"))).isFalse();
        assertThat(nightly.covers("any", Instant.parse("2025-05-31T02:10:00Z"))).isFalse();
        assertThat(error("maintenance:\n  - {name: n, start: 'tomorrow', duration: 30m}").describe())
                .startsWith("maintenance[0] (n).start: \"tomorrow\" is not an ISO-8601 instant");
        assertThat(error("maintenance:\n  - {name: n, start: '2025-06-01T02:00:00Z', duration: 2d, repeat: daily}").describe())
                .isEqualTo("maintenance[0] (n).duration: 2d must be above 0 and at most 1d for a daily window");
    }
}
