package io.switchboard.platform.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A module's block of configuration (for example the {@code telephony:} block of the YAML file,
 * with {@code SWITCHBOARD_TELEPHONY_*} environment variables and flags already applied).
 *
 * <p>Values come from YAML (numbers, booleans, strings, lists, maps) or from the environment
 * (always strings), so each typed getter accepts both forms. A value that cannot be read throws
 * {@link ConfigException} naming the full key, e.g. {@code telephony.minExpires}.
 */
public final class ConfigSection {
    private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)");

    private final String name;
    private final Map<String, Object> values;
    private final Map<String, String> origins;

    ConfigSection(String name, Map<String, Object> values, Map<String, String> origins) {
        this.name = name;
        this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
        this.origins = origins;
    }

    /** An empty section, for modules whose block is absent and for tests. */
    public static ConfigSection empty(String name) {
        return new ConfigSection(name, Map.of(), Map.of());
    }

    /** A section over given values, for tests and for modules' own defaults. */
    public static ConfigSection of(String name, Map<String, Object> values) {
        return new ConfigSection(name, values, Map.of());
    }

    public String name() {
        return name;
    }

    /** The raw values, as parsed: String, Integer, Long, Double, Boolean, List or Map. */
    public Map<String, Object> asMap() {
        return values;
    }

    public boolean has(String key) {
        return values.get(key) != null;
    }

    /** The full dotted key for messages, e.g. {@code telephony.minExpires}. */
    public String fullKey(String key) {
        return name + "." + key;
    }

    public Optional<String> string(String key) {
        Object value = values.get(key);
        if (value == null) {
            return Optional.empty();
        }
        if (value instanceof Map || value instanceof List) {
            throw problem(key, "expected a single value, got " + describe(value));
        }
        return Optional.of(value.toString());
    }

    public String string(String key, String fallback) {
        return string(key).orElse(fallback);
    }

    public String requireString(String key) {
        return string(key).orElseThrow(() -> problem(key, "is required"));
    }

    public int integer(String key, int fallback) {
        Object value = values.get(key);
        if (value == null) {
            return fallback;
        }
        if (value instanceof Integer i) {
            return i;
        }
        if (value instanceof Long l && l == l.intValue()) {
            return l.intValue();
        }
        String text = value.toString().strip();
        try {
            return Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw problem(key, "\"" + text + "\" is not a whole number");
        }
    }

    /** An integer within [min, max], inclusive. */
    public int integer(String key, int fallback, int min, int max) {
        int value = integer(key, fallback);
        if (value < min || value > max) {
            throw problem(key, value + " is outside " + min + ".." + max);
        }
        return value;
    }

    public boolean bool(String key, boolean fallback) {
        Object value = values.get(key);
        if (value == null) {
            return fallback;
        }
        if (value instanceof Boolean b) {
            return b;
        }
        return switch (value.toString().strip().toLowerCase(Locale.ROOT)) {
            case "true", "yes", "on", "1" -> true;
            case "false", "no", "off", "0" -> false;
            default -> throw problem(key, "\"" + value + "\" is not a boolean; expected true or false");
        };
    }

    /**
     * A duration written with a unit: {@code 500ms}, {@code 30s}, {@code 5m}, {@code 2h},
     * {@code 1d}. A bare number is refused because its unit would be a guess.
     */
    public Duration duration(String key, Duration fallback) {
        Object value = values.get(key);
        if (value == null) {
            return fallback;
        }
        return parseDuration(fullKey(key), value.toString(), origins.get(key));
    }

    /**
     * A duration within [min, max], inclusive (a max of Long.MAX_VALUE ms: no upper bound); the
     * problem quotes the value as it was written ("10ms is outside 50ms..1h", not Java's "PT0.01S").
     */
    public Duration duration(String key, Duration fallback, Duration min, Duration max) {
        return within(key, duration(key, fallback), min, max);
    }

    private Duration within(String key, Duration value, Duration min, Duration max) {
        if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
            Object given = values.get(key);
            String shown = given == null ? written(value) : given.toString().strip();
            throw problem(key, max.toMillis() == Long.MAX_VALUE ? shown + " is below " + written(min)
                    : shown + " is outside " + written(min) + ".." + written(max));
        }
        return value;
    }

    /** A duration as it would be written here: 500ms, 30s, 5m, 2h, 1d (the largest whole unit). */
    public static String written(Duration duration) {
        long millis = duration.toMillis();
        if (millis == 0) {
            return "0s";
        }
        if (millis % 86_400_000 == 0) {
            return millis / 86_400_000 + "d";
        }
        if (millis % 3_600_000 == 0) {
            return millis / 3_600_000 + "h";
        }
        if (millis % 60_000 == 0) {
            return millis / 60_000 + "m";
        }
        if (millis % 1000 == 0) {
            return millis / 1000 + "s";
        }
        return millis + "ms";
    }

    static Duration parseDuration(String fullKey, String text, String origin) {
        try {
            return parseDuration(text);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(fullKey, e.getMessage() + originSuffix(origin));
        }
    }

    /**
     * A duration in the grammar of {@link #duration}: a whole number and a unit ({@code ms},
     * {@code s}, {@code m}, {@code h}, {@code d}), case and spaces around it ignored. Also the
     * grammar of other files people write (the monitor file), so it is the same everywhere.
     *
     * @throws IllegalArgumentException with a message for people, without a key: {@code "30" is
     *     not a duration; ...}, or {@code is too large} when the milliseconds do not fit a long
     */
    public static Duration parseDuration(String text) {
        Matcher m = DURATION.matcher(text.strip().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException("\"" + text + "\" is not a duration; expected a number with a unit,"
                    + " e.g. 500ms, 30s, 5m, 2h, 1d");
        }
        try {
            long amount = Long.parseLong(m.group(1));
            Duration duration = switch (m.group(2)) {
                case "ms" -> Duration.ofMillis(amount);
                case "s" -> Duration.ofSeconds(amount);
                case "m" -> Duration.ofMinutes(amount);
                case "h" -> Duration.ofHours(amount);
                default -> Duration.ofDays(amount);
            };
            duration.toMillis(); // readers work in milliseconds: refuse what they cannot hold
            return duration;
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("\"" + text + "\" is too large");
        }
    }

    /**
     * {@link #parseDuration}, where a bare {@code 0} is also accepted and means none: for settings
     * whose zero turns something off (a wait, a delay), so "0" need not be written "0ms". Other
     * durations keep the unit required, so a forgotten unit is not read as zero.
     */
    static Duration parseDurationOrNone(String text) {
        return text.strip().equals("0") ? Duration.ZERO : parseDuration(text);
    }

    /** The same, with the key and where it was set in its problem. */
    static Duration parseDurationOrNone(String fullKey, String text, String origin) {
        return text.strip().equals("0") ? Duration.ZERO : parseDuration(fullKey, text, origin);
    }

    /** As {@link #duration(String, Duration, Duration, Duration)}, with a bare {@code 0} for none ({@link #parseDurationOrNone}). */
    public Duration durationOrNone(String key, Duration fallback, Duration min, Duration max) {
        Object value = values.get(key);
        if (value != null && value.toString().strip().equals("0")) {
            return within(key, Duration.ZERO, min, max);
        }
        return duration(key, fallback, min, max);
    }

    /** A list from a YAML list or from a comma-separated string (as environment variables give). */
    public List<String> stringList(String key) {
        Object value = values.get(key);
        if (value == null) {
            return List.of();
        }
        if (value instanceof List<?> list) {
            List<String> result = new ArrayList<>();
            for (Object item : list) {
                if (item == null || item instanceof Map || item instanceof List) {
                    throw problem(key, "expected a list of plain values, got " + describe(item));
                }
                result.add(item.toString());
            }
            return List.copyOf(result);
        }
        if (value instanceof Map) {
            throw problem(key, "expected a list, got a map");
        }
        String text = value.toString();
        if (text.isBlank()) {
            return List.of();
        }
        return List.of(text.split("\\s*,\\s*"));
    }

    /** A nested block, e.g. {@code telephony.limits}. Absent means empty. */
    @SuppressWarnings("unchecked")
    public ConfigSection section(String key) {
        Object value = values.get(key);
        if (value == null) {
            return empty(fullKey(key));
        }
        if (!(value instanceof Map)) {
            throw problem(key, "expected a block of keys, got " + describe(value));
        }
        return new ConfigSection(fullKey(key), (Map<String, Object>) value, Map.of());
    }

    /**
     * Refuses a key that is not one of {@code known}: a typo must stop the node, not be ignored.
     *
     * @throws ConfigException naming the key and listing the known ones
     */
    public void allowOnly(List<String> known) {
        allowOnly(known, known);
    }

    /**
     * As {@link #allowOnly(List)}, naming only {@code shown} in the message: a key accepted under
     * a second spelling (the environment's {@code cluster.nodeid} for {@code cluster.nodeId}) is
     * offered once, as documented.
     */
    public void allowOnly(List<String> known, List<String> shown) {
        for (String key : values.keySet()) {
            if (!known.contains(key)) {
                throw problem(key, "unknown setting; " + name + " has " + shown);
            }
        }
    }

    /**
     * {@code key} as a message about another key names it: the full key and, when its value came
     * from the environment or a flag, which one ({@code tls.certificate (from
     * SWITCHBOARD_TLS_CERTIFICATE)}), as {@link #problem} says it for the key the message is about.
     */
    public String named(String key) {
        return fullKey(key) + originSuffix(origins.get(key));
    }

    /** A ConfigException for {@code key} in this section, mentioning where the value came from. */
    public ConfigException problem(String key, String problem) {
        return new ConfigException(fullKey(key), problem + originSuffix(origins.get(key)));
    }

    /**
     * As {@link #problem(String, String)} for a value read under {@code key} but documented as
     * {@code shownKey} ({@code cluster.nodeid}, which the environment's naming rule makes of
     * {@code SWITCHBOARD_CLUSTER_NODEID}, is {@code cluster.nodeId}).
     */
    public ConfigException problem(String key, String shownKey, String problem) {
        return new ConfigException(fullKey(shownKey), problem + originSuffix(origins.get(key)));
    }

    static String originSuffix(String origin) {
        return origin == null ? "" : " (from " + origin + ")";
    }

    static String describe(Object value) {
        if (value == null) {
            return "nothing";
        }
        if (value instanceof Map) {
            return "a block of keys";
        }
        if (value instanceof List) {
            return "a list";
        }
        return "\"" + value + "\"";
    }

    @Override
    public String toString() {
        return "ConfigSection[" + name + "]";
    }
}
