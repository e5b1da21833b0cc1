package io.switchboard.platform.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Builds a {@link NodeConfig} from three layers, later ones winning:
 *
 * <ol>
 *   <li>the YAML file given with {@code --config} (optional);</li>
 *   <li>environment variables {@code SWITCHBOARD_*};</li>
 *   <li>CLI flags.</li>
 * </ol>
 *
 * <p><b>Environment names.</b> Strip {@code SWITCHBOARD_}, split the rest on {@code _}. If the
 * first word names a block ({@code store}, {@code log}, or a module's section such as
 * {@code telephony}), the remaining words form one camelCase key inside it:
 * {@code SWITCHBOARD_TELEPHONY_MIN_EXPIRES → telephony.minExpires},
 * {@code SWITCHBOARD_STORE_URL → store.url}. Otherwise all words form one top-level key:
 * {@code SWITCHBOARD_DATA_DIR → dataDir}, {@code SWITCHBOARD_HTTP → http}. Keys nested deeper
 * than one block can only be set in the file. An unknown variable is an error, as is an
 * unknown top-level YAML key: a typo should stop the node, not be silently ignored.
 */
public final class NodeConfigLoader {
    public static final String ENV_PREFIX = "SWITCHBOARD_";

    static final String DEFAULT_HTTP = "127.0.0.1:8080";
    static final String DEFAULT_SIP = "udp:0.0.0.0:5060,tcp:0.0.0.0:5060";
    static final String DEFAULT_DATA_DIR = "./data";
    static final String DEFAULT_LOG_LEVEL = "info";
    static final String DEFAULT_DRAIN_DELAY = "10s";
    /** A longer drain delay is surely a slip (5h for 5s); init systems give a stop about 90 s. */
    static final java.time.Duration MAX_DRAIN_DELAY = java.time.Duration.ofMinutes(10);

    private static final List<String> SCALAR_KEYS = List.of("dataDir", "http", "https", "sip", "domain", "drainDelay");
    /** The value of {@code http} that turns plain HTTP off (with {@code https} on). */
    static final String NONE = "none";
    private static final Map<String, List<String>> CORE_BLOCKS = Map.of(
            "store", List.of("url", "user", "password", "commitDelay"),
            "log", List.of("level"));
    /**
     * Blocks the platform reads itself as free-form sections, like a module's: sign-in, the bus,
     * certificates, the cluster, the reverse proxies trusted with a client's address.
     */
    private static final List<String> PLATFORM_SECTIONS = List.of("auth", "bus", "tls", "cluster", "proxies");
    private static final List<String> LOG_LEVELS = List.of("trace", "debug", "info", "warn", "error");
    private static final Pattern SECTION_NAME = Pattern.compile("[a-z][a-z0-9]*");

    private final Set<String> moduleSections;

    /**
     * @param moduleSections names of the blocks feature modules read (e.g. {@code telephony});
     *                       any other top-level key is refused
     */
    public NodeConfigLoader(Collection<String> moduleSections) {
        Set<String> names = new LinkedHashSet<>(PLATFORM_SECTIONS);
        for (String name : moduleSections) {
            if (!SECTION_NAME.matcher(name).matches() || SCALAR_KEYS.contains(name) || CORE_BLOCKS.containsKey(name)
                    || PLATFORM_SECTIONS.contains(name)) {
                throw new IllegalArgumentException("bad module section name \"" + name + "\"");
            }
            names.add(name);
        }
        this.moduleSections = Set.copyOf(names);
    }

    /**
     * @param file  the YAML file, or null for none
     * @param env   the environment (normally {@code System.getenv()}); only {@code SWITCHBOARD_*} is read
     * @param flags CLI flags by config key ({@code dataDir}, {@code http}, {@code sip}, {@code domain},
     *              {@code store.url}, ...); absent flags are simply not in the map
     * @throws ConfigException naming the key and the problem
     */
    public NodeConfig load(Path file, Map<String, String> env, Map<String, String> flags) {
        String text = file == null ? null : readText(file);
        Map<String, Object> tree = file == null ? new LinkedHashMap<>() : readYaml(file, text);
        Map<String, String> origins = new HashMap<>();
        if (file != null && !tree.isEmpty()) {
            // where each key of the file is, so that a bad value is found by its line, not searched
            // for (the environment and the flags below replace the origin of what they set)
            keyLines(text).forEach((key, line) -> origins.put(key, file + ", line " + line));
        }
        checkTopLevelKeys(tree, origins);

        // Sorted so that error messages do not depend on HashMap order.
        for (Map.Entry<String, String> e : new TreeMap<>(env).entrySet()) {
            if (e.getKey().startsWith(ENV_PREFIX)) {
                String key = keyForEnvironmentVariable(e.getKey());
                put(tree, key, e.getValue());
                origins.put(key, e.getKey());
            }
        }
        for (Map.Entry<String, String> e : flags.entrySet()) {
            if (e.getValue() == null) {
                continue;
            }
            String key = e.getKey();
            if (!isKnownKey(key)) {
                throw new IllegalArgumentException("flag for unknown config key \"" + key + "\"");
            }
            put(tree, key, e.getValue());
            // log.level is --log-level; cluster.nodeid (the key the environment's rule gives) is --node-id
            origins.put(key, key.equals("cluster.nodeid") ? "--node-id" : "--" + kebab(key).replace('.', '-'));
        }
        refuseEmptyKeys(tree, origins); // after the environment and flags: a key left empty in the file may be given there
        return build(tree, origins);
    }

    /** The config key an environment variable sets, by the rule in the class comment. */
    public String keyForEnvironmentVariable(String variable) {
        String rest = variable.substring(ENV_PREFIX.length());
        List<String> words = new ArrayList<>();
        for (String word : rest.split("_")) {
            if (!word.isEmpty()) {
                words.add(word.toLowerCase(Locale.ROOT));
            }
        }
        if (words.isEmpty()) {
            throw new ConfigException(variable, "names no setting");
        }
        String first = words.getFirst();
        if (CORE_BLOCKS.containsKey(first) || moduleSections.contains(first)) {
            if (words.size() == 1) {
                throw new ConfigException(variable, "\"" + first + "\" is a block; set one of its keys, e.g. "
                        + ENV_PREFIX + first.toUpperCase(Locale.ROOT) + "_" + exampleSubKey(first));
            }
            String key = first + "." + camel(words.subList(1, words.size()));
            List<String> allowed = CORE_BLOCKS.get(first);
            if (allowed != null && !allowed.contains(key.substring(first.length() + 1))) {
                throw new ConfigException(variable, "unknown setting " + key + "; " + first + " has " + allowed);
            }
            return key;
        }
        String key = camel(words);
        if (!SCALAR_KEYS.contains(key)) {
            throw new ConfigException(variable, "unknown setting; known variables are " + knownVariables());
        }
        return key;
    }

    private String exampleSubKey(String block) {
        List<String> keys = CORE_BLOCKS.get(block);
        return keys == null ? "KEY" : keys.getFirst().toUpperCase(Locale.ROOT);
    }

    private String knownVariables() {
        List<String> names = new ArrayList<>(List.of("SWITCHBOARD_DATA_DIR", "SWITCHBOARD_HTTP", "SWITCHBOARD_HTTPS", "SWITCHBOARD_SIP",
                "SWITCHBOARD_DOMAIN", "SWITCHBOARD_DRAIN_DELAY", "SWITCHBOARD_STORE_URL", "SWITCHBOARD_STORE_USER", "SWITCHBOARD_STORE_PASSWORD",
                "SWITCHBOARD_STORE_COMMIT_DELAY", "SWITCHBOARD_LOG_LEVEL"));
        moduleSections.stream().sorted()
                .forEach(s -> names.add(ENV_PREFIX + s.toUpperCase(Locale.ROOT) + "_<KEY>"));
        return String.join(", ", names);
    }

    private boolean isKnownKey(String key) {
        int dot = key.indexOf('.');
        if (dot < 0) {
            return SCALAR_KEYS.contains(key);
        }
        String block = key.substring(0, dot);
        List<String> allowed = CORE_BLOCKS.get(block);
        return allowed != null ? allowed.contains(key.substring(dot + 1)) : moduleSections.contains(block);
    }

    /** The file's text, read once (a named pipe could not be read twice). */
    private static String readText(Path file) {
        try {
            return Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException("config", "file " + file.toAbsolutePath() + " does not exist");
        } catch (IOException e) {
            throw new ConfigException("config", "cannot read " + file.toAbsolutePath() + ": "
                    + io.switchboard.platform.RootCause.fileProblem(e));
        }
    }

    private static Map<String, Object> readYaml(Path file, String text) {
        if (text.isBlank()) {
            return new LinkedHashMap<>();
        }
        Object parsed;
        try {
            // a key written twice is a mistake, not "the last one wins" in silence
            parsed = new ObjectMapper(new YAMLFactory()).enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
                    .readValue(text, Object.class);
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? ""
                    : " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr();
            throw new ConfigException("config", file + " is not valid YAML" + where + ": " + yamlProblem(e.getOriginalMessage()));
        }
        if (parsed == null) {
            return new LinkedHashMap<>();
        }
        if (!(parsed instanceof Map<?, ?> map)) {
            throw new ConfigException("config", file + " must hold a block of keys (dataDir, http, sip, ...), not "
                    + ConfigSection.describe(parsed));
        }
        return deepCopy(map);
    }

    /**
     * The line of each key of the YAML text that {@link #readYaml} read without error, by its
     * dotted path ({@code store.commitDelay}; keys nested deeper are not named, the config's keys
     * have two levels). Only the first document counts, as only it is read. A read that fails here
     * gives no lines: the values themselves were read, and the errors about them just do not say
     * where.
     */
    private static Map<String, Integer> keyLines(String text) {
        Map<String, Integer> lines = new HashMap<>();
        try (com.fasterxml.jackson.core.JsonParser parser = new YAMLFactory().createParser(text)) {
            List<String> path = new ArrayList<>();
            int depth = 0;
            for (com.fasterxml.jackson.core.JsonToken token = parser.nextToken(); token != null; token = parser.nextToken()) {
                switch (token) {
                    case START_OBJECT, START_ARRAY -> depth++;
                    case END_OBJECT, END_ARRAY -> {
                        if (--depth == 0) {
                            return lines; // the end of the first document
                        }
                    }
                    case FIELD_NAME -> {
                        if (depth <= 2) {
                            while (path.size() >= depth) {
                                path.removeLast();
                            }
                            path.add(parser.currentName());
                            lines.putIfAbsent(String.join(".", path), parser.currentTokenLocation().getLineNr());
                        }
                    }
                    default -> { }
                }
            }
        } catch (IOException | RuntimeException e) {
            return Map.of();
        }
        return lines;
    }

    /**
     * SnakeYAML's message in one line: its first and its last statement ("while parsing a flow
     * sequence ... expected ',' or ']', but got <stream end>"), without the quoted source and markers.
     */
    public static String yamlProblem(String message) {
        if (message == null) {
            return "";
        }
        // SnakeYAML's statements start a line; the source it quotes and its ^ markers are indented,
        // and " in 'reader', line L, column C:" says where (already given as the location).
        java.util.List<String> statements = message.lines()
                .filter(line -> !line.isBlank() && !line.startsWith(" ") && !line.startsWith("in '"))
                .map(String::strip)
                .toList();
        if (statements.isEmpty()) {
            return message.strip();
        }
        String first = statements.getFirst();
        String last = statements.getLast();
        return last.equals(first) ? first : first + " ... " + last;
    }

    private static Map<String, Object> deepCopy(Map<?, ?> map) {
        Map<String, Object> copy = new LinkedHashMap<>();
        map.forEach((k, v) -> copy.put(String.valueOf(k), v instanceof Map<?, ?> m ? deepCopy(m) : v));
        return copy;
    }

    private void checkTopLevelKeys(Map<String, Object> tree, Map<String, String> origins) {
        for (String key : tree.keySet()) {
            if (!SCALAR_KEYS.contains(key) && !CORE_BLOCKS.containsKey(key) && !moduleSections.contains(key)) {
                List<String> known = new ArrayList<>(SCALAR_KEYS);
                known.addAll(List.of("store", "log"));
                known.addAll(moduleSections.stream().sorted().toList());
                throw new ConfigException(key, "unknown key; known top-level keys are " + known
                        + ConfigSection.originSuffix(origins.get(key)));
            }
        }
        for (Map.Entry<String, List<String>> block : CORE_BLOCKS.entrySet()) {
            Object value = tree.get(block.getKey());
            if (value == null) {
                continue;
            }
            if (!(value instanceof Map<?, ?> map)) {
                throw new ConfigException(block.getKey(), "expected a block with " + block.getValue() + ", got "
                        + ConfigSection.describe(value) + ConfigSection.originSuffix(origins.get(block.getKey())));
            }
            for (Object sub : map.keySet()) {
                String key = block.getKey() + "." + sub;
                if (!block.getValue().contains(String.valueOf(sub))) {
                    throw new ConfigException(key, "unknown key; " + block.getKey() + " has " + block.getValue()
                            + ConfigSection.originSuffix(origins.get(key)));
                }
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static void put(Map<String, Object> tree, String key, String value) {
        int dot = key.indexOf('.');
        if (dot < 0) {
            tree.put(key, value);
            return;
        }
        String block = key.substring(0, dot);
        Object existing = tree.get(block);
        Map<String, Object> map;
        if (existing instanceof Map<?, ?> m) {
            map = (Map<String, Object>) m;
        } else if (existing == null) {
            map = new LinkedHashMap<>();
            tree.put(block, map);
        } else {
            throw new ConfigException(block, "expected a block of keys, got " + ConfigSection.describe(existing));
        }
        map.put(key.substring(dot + 1), value);
    }

    private NodeConfig build(Map<String, Object> tree, Map<String, String> origins) {
        Path dataDir = parse(tree, origins, "dataDir", DEFAULT_DATA_DIR, text -> {
            if (text.isBlank()) {
                throw new IllegalArgumentException("empty; expected a directory path");
            }
            try {
                return Path.of(text).toAbsolutePath().normalize();
            } catch (InvalidPathException e) {
                throw new IllegalArgumentException("\"" + text + "\" is not a valid path: " + e.getReason());
            }
        });
        HostPort http = parse(tree, origins, "http", DEFAULT_HTTP, NodeConfigLoader::parseHttp);
        HostPort https = parse(tree, origins, "https", NONE, NodeConfigLoader::parseHttp);
        if (http == null && https == null) {
            throw new ConfigException("http", "is none and https is not set: the node would serve no API, health checks"
                    + " or metrics; give https a HOST:PORT, or http one" + ConfigSection.originSuffix(origins.get("http")));
        }
        if (http != null && https != null && http.sharesPortWith(https)) {
            throw new ConfigException("https", "is " + https + ", the port plain HTTP (" + http + ") listens on: one port"
                    + " cannot serve both; give HTTPS its own port (8443, 443) or turn plain HTTP off with http: none"
                    + ConfigSection.originSuffix(origins.get("https")));
        }
        List<ListenAddress> sip = parseSip(tree.get("sip"), origins.get("sip"));
        refuseSipOnAnHttpPort(sip, http, "HTTP", origins.get("sip"));
        refuseSipOnAnHttpPort(sip, https, "HTTPS", origins.get("sip"));
        String domain = parse(tree, origins, "domain", null, NodeConfigLoader::checkDomain);
        if (domain == null) {
            domain = machineHostName();
        }

        Map<String, Object> storeBlock = block(tree, "store");
        String storeUrl = scalar(storeBlock.get("url"), "store.url", origins);
        String storeUser = scalar(storeBlock.get("user"), "store.user", origins);
        String storePassword = scalar(storeBlock.get("password"), "store.password", origins);
        String storeCommitDelay = scalar(storeBlock.get("commitDelay"), "store.commitDelay", origins);
        java.time.Duration commitDelay = null;
        if (storeCommitDelay != null) {
            commitDelay = ConfigSection.parseDurationOrNone("store.commitDelay", storeCommitDelay, origins.get("store.commitDelay"));
            if (commitDelay.compareTo(StoreSettings.MAX_COMMIT_DELAY) > 0) {
                throw new ConfigException("store.commitDelay", "\"" + storeCommitDelay + "\" is longer than "
                        + StoreSettings.MAX_COMMIT_DELAY.toMillis() + "ms; every write under load waits this much more"
                        + ConfigSection.originSuffix(origins.get("store.commitDelay")));
            }
        }
        StoreSettings store;
        try {
            store = storeUrl == null
                    ? new StoreSettings(StoreSettings.sqliteIn(dataDir).url(), storeUser, storePassword, commitDelay)
                    : new StoreSettings(storeUrl, storeUser, storePassword, commitDelay);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("store.url", e.getMessage() + ConfigSection.originSuffix(origins.get("store.url")));
        }

        Map<String, Object> logBlock = block(tree, "log");
        String level = scalar(logBlock.get("level"), "log.level", origins);
        level = level == null ? DEFAULT_LOG_LEVEL : level.strip().toLowerCase(Locale.ROOT);
        if (!LOG_LEVELS.contains(level)) {
            throw new ConfigException("log.level", "\"" + level + "\" is not a level; expected one of " + LOG_LEVELS
                    + ConfigSection.originSuffix(origins.get("log.level")));
        }

        java.time.Duration drainDelay = parse(tree, origins, "drainDelay", DEFAULT_DRAIN_DELAY, text -> {
            java.time.Duration delay = ConfigSection.parseDurationOrNone(text);
            if (delay.compareTo(MAX_DRAIN_DELAY) > 0) {
                throw new IllegalArgumentException("\"" + text + "\" is longer than " + MAX_DRAIN_DELAY.toMinutes()
                        + "m; a few seconds (the balancer's health-check interval times its fall count, and some) is enough");
            }
            return delay;
        });

        Map<String, ConfigSection> sections = new LinkedHashMap<>();
        for (String name : moduleSections) {
            Object value = tree.get(name);
            if (value != null && !(value instanceof Map)) {
                throw new ConfigException(name, "expected a block of keys, got " + ConfigSection.describe(value)
                        + ConfigSection.originSuffix(origins.get(name)));
            }
            Map<String, Object> values = value == null ? Map.of() : block(tree, name);
            Map<String, String> sectionOrigins = new HashMap<>();
            origins.forEach((key, origin) -> {
                if (key.startsWith(name + ".")) {
                    sectionOrigins.put(key.substring(name.length() + 1), origin);
                }
            });
            sections.put(name, new ConfigSection(name, values, sectionOrigins));
        }
        return new NodeConfig(dataDir, http, https, sip, domain, store, level, drainDelay, sections);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> block(Map<String, Object> tree, String name) {
        Object value = tree.get(name);
        return value instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
    }

    private static String scalar(Object value, String key, Map<String, String> origins) {
        if (value == null) {
            return null;
        }
        if (value instanceof Map || value instanceof List) {
            throw new ConfigException(key, "expected a single value, got " + ConfigSection.describe(value)
                    + ConfigSection.originSuffix(origins.get(key)));
        }
        return value.toString();
    }

    private interface Parser<T> {
        T parse(String text);
    }

    private static <T> T parse(Map<String, Object> tree, Map<String, String> origins, String key, String fallback,
                               Parser<T> parser) {
        String text = scalar(tree.get(key), key, origins);
        if (text == null) {
            if (fallback == null) {
                return null;
            }
            text = fallback;
        }
        try {
            return parser.parse(text);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(key, e.getMessage() + ConfigSection.originSuffix(origins.get(key)));
        }
    }

    /**
     * A key written with no value ({@code sip:} alone, {@code http: ~}, {@code store:} with
     * nothing under it, {@code telephony: {minExpires: }}) is YAML's null, which read as "not
     * given" and so as the default: {@code sip:} meant for "no listener" opened SIP on every
     * interface, and a bare block was someone about to write its keys. Which was meant cannot
     * be told, so it is refused, at the top level and one level down in a block.
     */
    private void refuseEmptyKeys(Map<String, Object> tree, Map<String, String> origins) {
        for (String key : SCALAR_KEYS) {
            if (tree.containsKey(key) && tree.get(key) == null) {
                throw new ConfigException(key, "has no value; remove the key for the default"
                        + (key.equals("sip") ? " (" + DEFAULT_SIP + "), or write sip: [] for no SIP listener"
                        : key.equals("http") ? ", or write http: none for no plain HTTP" : ", or give one")
                        + ConfigSection.originSuffix(origins.get(key)));
            }
        }
        for (String block : blockNames()) {
            if (tree.containsKey(block) && tree.get(block) == null) {
                List<String> keys = CORE_BLOCKS.get(block);
                throw new ConfigException(block, "has no value; remove the key for the defaults, or write its keys"
                        + " under it" + (keys == null ? "" : " " + keys) + ConfigSection.originSuffix(origins.get(block)));
            }
            if (tree.get(block) instanceof Map<?, ?> map) {
                for (Map.Entry<?, ?> entry : map.entrySet()) {
                    if (entry.getValue() == null && !givenInAnotherCase(map, entry.getKey())) {
                        throw new ConfigException(block + "." + entry.getKey(), "has no value; remove the key for the default,"
                                + " or give one" + ConfigSection.originSuffix(origins.get(block + "." + entry.getKey())));
                    }
                }
            }
        }
    }

    /**
     * Whether a value for {@code key} is there under another case: environment variables and flags
     * write their keys in lower case ({@code SWITCHBOARD_CLUSTER_NODEID} and {@code --node-id} as
     * {@code nodeid}), and keys are read without regard to case, so a file's empty {@code nodeId:}
     * is then given, as an empty top-level key set by a variable is.
     */
    private static boolean givenInAnotherCase(Map<?, ?> block, Object key) {
        for (Map.Entry<?, ?> other : block.entrySet()) {
            if (other.getValue() != null && other.getKey() != key && String.valueOf(other.getKey())
                    .equalsIgnoreCase(String.valueOf(key))) {
                return true;
            }
        }
        return false;
    }

    private List<String> blockNames() {
        List<String> names = new ArrayList<>(CORE_BLOCKS.keySet().stream().sorted().toList());
        names.addAll(moduleSections.stream().sorted().toList());
        return names;
    }

    private static List<ListenAddress> parseSip(Object value, String origin) {
        try {
            if (value == null) {
                return ListenAddress.parseList(DEFAULT_SIP);
            }
            if (value instanceof List<?> list) {
                List<String> items = new ArrayList<>();
                for (Object item : list) {
                    if (!(item instanceof String s)) {
                        throw new IllegalArgumentException("list entries must be text like udp:0.0.0.0:5060, got "
                                + ConfigSection.describe(item));
                    }
                    items.add(s);
                }
                return ListenAddress.parseAll(items);
            }
            if (value instanceof Map) {
                throw new IllegalArgumentException("expected a list like udp:0.0.0.0:5060,tcp:0.0.0.0:5060, got a block");
            }
            return ListenAddress.parseList(value.toString());
        } catch (IllegalArgumentException e) {
            throw new ConfigException("sip", e.getMessage() + ConfigSection.originSuffix(origin));
        }
    }

    /** {@code HOST:PORT}, or {@code none} for no listener (null). */
    private static HostPort parseHttp(String text) {
        if (text.strip().equalsIgnoreCase(NONE)) {
            return null;
        }
        if (text.isBlank()) {
            throw new IllegalArgumentException("empty; expected HOST:PORT, or none to turn this listener off");
        }
        return HostPort.parse(text);
    }

    private static String checkDomain(String text) {
        String domain = text.strip();
        if (domain.isEmpty()) {
            throw new IllegalArgumentException("empty; expected a domain name such as sip.example.org");
        }
        return new HostPort(domain, 0).host();
    }

    /** The machine's host name, or "localhost" when it cannot be read or is not a valid name. */
    static String machineHostName() {
        try {
            return checkDomain(InetAddress.getLocalHost().getHostName());
        } catch (IOException | IllegalArgumentException e) {
            return "localhost";
        }
    }

    private static String camel(List<String> words) {
        StringBuilder sb = new StringBuilder(words.getFirst());
        for (String word : words.subList(1, words.size())) {
            sb.append(Character.toUpperCase(word.charAt(0))).append(word.substring(1));
        }
        return sb.toString();
    }

    private static String kebab(String camel) {
        return camel.replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(Locale.ROOT);
    }

    /** A SIP listener over TCP or TLS on the HTTP or HTTPS port would fail to bind at start: said now, exit 2. */
    private static void refuseSipOnAnHttpPort(List<ListenAddress> sip, HostPort web, String what, String origin) {
        if (web == null) {
            return;
        }
        for (ListenAddress listener : sip) {
            if (listener.overTcp() && listener.address().sharesPortWith(web)) {
                throw new ConfigException("sip", listener + " is on the port " + what + " (" + web + ") listens on:"
                        + " one port cannot serve both; give SIP its own port (SIP over WebSocket needs none: it is"
                        + " served on the HTTP port at /sip)" + ConfigSection.originSuffix(origin));
            }
        }
    }
}
