package io.switchboard.monitor.definition;

import io.switchboard.platform.config.ConfigSection;
import java.time.Duration;

/**
 * Durations as people write them in the monitor file and the API: a whole number with a unit,
 * {@code 500ms}, {@code 10s}, {@code 5m}, {@code 2h}, {@code 7d}. They are read with the node
 * config's parser, {@link ConfigSection#parseDuration(String)}, so both files take the same
 * grammar; written back in the largest unit that keeps the value exact, so a round trip is stable.
 */
public final class DurationText {
    private DurationText() {
    }

    /**
     * @throws IllegalArgumentException with a message for people
     * @see ConfigSection#parseDuration(String)
     */
    public static Duration parse(String text) {
        return ConfigSection.parseDuration(text);
    }

    public static String format(Duration duration) {
        return ConfigSection.written(duration);
    }

    /** For people: "2 s", "850 ms", "3 min", "1 h 20 min", "2 days". */
    public static String spoken(Duration duration) {
        long ms = Math.max(0, duration.toMillis());
        if (ms < 1000) {
            return ms + " ms";
        }
        long s = ms / 1000;
        if (s < 10 && ms % 1000 != 0) {
            return String.format(java.util.Locale.ROOT, "%.1f s", ms / 1000.0);
        }
        if (s < 60) {
            return s + " s";
        }
        long min = s / 60;
        if (min < 60) {
            return min + " min";
        }
        long h = min / 60;
        if (h < 48) {
            return h + " h" + (min % 60 == 0 ? "" : " " + min % 60 + " min");
        }
        return h / 24 + " days";
    }
}
