package io.switchboard.platform.config;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A node's effective configuration: built by {@link NodeConfigLoader} from the YAML file, the
 * {@code SWITCHBOARD_*} environment and CLI flags, already validated.
 *
 * @param dataDir      absolute directory for the SQLite file, the admin token file and other local state
 * @param http         address plain HTTP binds (port 0: ephemeral), or null when it is off ({@code http: none})
 * @param https        address HTTPS binds, or null for none (then the {@code tls:} block must name a certificate)
 * @param sipListeners SIP listeners to open, possibly none
 * @param domain       the SIP domain this node serves (default: the machine's host name)
 * @param store        database URL and credentials
 * @param logLevel     root log level: trace, debug, info, warn or error
 * @param drainDelay   after SIGTERM, how long the node keeps serving while {@code /readyz} says 503,
 *                     so balancers' health checks move traffic away before new work is refused
 * @param sections     modules' own blocks (e.g. {@code telephony}), by name; every declared module has one
 */
public record NodeConfig(
        Path dataDir,
        HostPort http,
        HostPort https,
        List<ListenAddress> sipListeners,
        String domain,
        StoreSettings store,
        String logLevel,
        java.time.Duration drainDelay,
        Map<String, ConfigSection> sections) {

    /** Keys whose values are masked in the log; a token's lifetime (accessTokenTtl) is not a secret. */
    private static final Pattern SECRET_KEY = Pattern.compile("(?i)(?!.*ttl$).*(password|secret|token|apikey|api_key|credential).*");

    public NodeConfig {
        dataDir = dataDir.toAbsolutePath().normalize();
        sipListeners = List.copyOf(sipListeners);
        sections = Map.copyOf(sections);
    }

    /** Whether the loader was told of a section of this name (every wired module's is). */
    public boolean declares(String name) {
        return sections.containsKey(name);
    }

    /**
     * The block a module declared, e.g. {@code section("telephony")}. Absent in the file means
     * empty, never null.
     *
     * @throws IllegalArgumentException if no module declared that section to the loader
     *                                  (a wiring mistake, not an operator's)
     */
    public ConfigSection section(String name) {
        ConfigSection section = sections.get(name);
        if (section == null) {
            throw new IllegalArgumentException("config section \"" + name + "\" was not declared to NodeConfigLoader;"
                    + " declared: " + sections.keySet());
        }
        return section;
    }

    /** The same configuration listening on another HTTP address (tests use port 0). */
    public NodeConfig withHttp(HostPort address) {
        return new NodeConfig(dataDir, address, https, sipListeners, domain, store, logLevel, drainDelay, sections);
    }

    /** The same configuration serving HTTPS on another address (null: none). */
    public NodeConfig withHttps(HostPort address) {
        return new NodeConfig(dataDir, http, address, sipListeners, domain, store, logLevel, drainDelay, sections);
    }

    /** The same configuration with other SIP listeners. */
    public NodeConfig withSipListeners(List<ListenAddress> listeners) {
        return new NodeConfig(dataDir, http, https, listeners, domain, store, logLevel, drainDelay, sections);
    }

    /**
     * Every effective value as {@code key → text}, in a stable order, with passwords, secrets and
     * tokens replaced by {@code ***}: what the node logs at start.
     */
    public Map<String, String> describe() {
        Map<String, String> lines = new LinkedHashMap<>();
        lines.put("dataDir", dataDir.toString());
        lines.put("http", http == null ? "none" : http.toString());
        lines.put("https", https == null ? "none" : https.toString());
        lines.put("sip", sipListeners.isEmpty() ? "(none)"
                : sipListeners.stream().map(ListenAddress::toString).collect(Collectors.joining(",")));
        lines.put("domain", domain);
        lines.put("store.url", store.maskedUrl());
        lines.put("store.user", store.user() == null ? "(none)" : store.user());
        lines.put("store.password", store.password() == null ? "(none)" : "***");
        lines.put("store.commitDelay", store.commitDelay().toMillis() + "ms");
        lines.put("log.level", logLevel);
        lines.put("drainDelay", drainDelay.toMillis() % 1000 == 0 ? drainDelay.toSeconds() + "s" : drainDelay.toMillis() + "ms");
        sections.keySet().stream().sorted().forEach(name -> flatten(name, sections.get(name).asMap(), lines));
        // SWITCHBOARD_CLUSTER_NODEID and --node-id arrive as cluster.nodeid, the environment's rule
        // for one word; shown under the documented key with the value that wins (ClusterSettings)
        String nodeId = lines.remove("cluster.nodeid");
        if (nodeId != null) {
            lines.put("cluster.nodeId", nodeId);
        }
        return lines;
    }

    @SuppressWarnings("unchecked")
    private static void flatten(String prefix, Map<String, Object> values, Map<String, String> out) {
        values.forEach((key, value) -> {
            String fullKey = prefix + "." + key;
            if (value instanceof Map<?, ?> nested) {
                flatten(fullKey, (Map<String, Object>) nested, out);
            } else if (SECRET_KEY.matcher(key).matches() && value != null) {
                out.put(fullKey, "***");
            } else if (value != null && String.valueOf(value).contains("-----BEGIN")) {
                out.put(fullKey, "*** (PEM text)"); // a key pasted where its path belongs is never logged
            } else {
                out.put(fullKey, String.valueOf(value));
            }
        });
    }

    /** One line for the log: {@code key=value key=value ...}, secrets masked. */
    public String describeOneLine() {
        return describe().entrySet().stream()
                .map(e -> e.getKey() + "=" + e.getValue())
                .collect(Collectors.joining(" "));
    }
}
