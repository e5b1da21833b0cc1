package io.switchboard.monitor;

import io.switchboard.platform.config.ConfigSection;
import java.net.URI;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.ZoneId;
import java.util.List;

/**
 * The {@code monitor:} block of the node config (each key also {@code SWITCHBOARD_MONITOR_<KEY>}).
 *
 * @param llmBaseUrl null: reports come from the template only
 */
public record MonitorSettings(int maxConcurrentChecks, Duration rawRetention, Duration hourlyRetention,
                              Duration dailyRetention, Duration reminderEvery, int notifyAttempts, Duration notifyBackoff,
                              Duration notifyTimeout, String llmBaseUrl, String llmModel, String llmApiKey, Duration llmTimeout,
                              int llmConcurrency, ZoneId timeZone, int resultQueue) {
    /** The keys of the block, flat so each maps to one environment variable. */
    public static final List<String> KEYS = List.of("maxConcurrentChecks", "rawRetention", "hourlyRetention", "dailyRetention",
            "reminderEvery", "notifyAttempts", "notifyBackoff", "notifyTimeout", "llmBaseUrl", "llmModel", "llmApiKey",
            "llmTimeout", "llmConcurrency", "timeZone", "resultQueue");

    public static MonitorSettings defaults() {
        return from(ConfigSection.empty("monitor"));
    }

    public static MonitorSettings from(ConfigSection s) {
        s.allowOnly(KEYS);
        Duration raw = s.duration("rawRetention", Duration.ofDays(7));
        if (raw.compareTo(Duration.ofHours(2)) < 0) {
            throw s.problem("rawRetention", "must be at least 2h (raw results are folded into hours first)");
        }
        Duration hourly = s.duration("hourlyRetention", Duration.ofDays(90));
        if (hourly.compareTo(Duration.ofDays(31)) < 0) {
            throw s.problem("hourlyRetention", "must be at least 31d: the API answers uptime over 30 days from the hours");
        }
        Duration daily = s.duration("dailyRetention", Duration.ofDays(730));
        if (daily.compareTo(hourly) < 0) {
            throw s.problem("dailyRetention", "must not be below hourlyRetention");
        }
        Duration reminder = s.duration("reminderEvery", Duration.ofHours(1));
        if (!reminder.isZero() && reminder.compareTo(Duration.ofMinutes(1)) < 0) {
            throw s.problem("reminderEvery", "must be at least 1m, or 0s for no reminders");
        }
        Duration backoff = s.duration("notifyBackoff", Duration.ofSeconds(2));
        if (backoff.isZero() || backoff.compareTo(Duration.ofMinutes(10)) > 0) {
            throw s.problem("notifyBackoff", "must be above 0 and at most 10m");
        }
        Duration notifyTimeout = positive(s, "notifyTimeout", Duration.ofSeconds(10));
        String llmBaseUrl = s.string("llmBaseUrl").map(String::strip).filter(v -> !v.isEmpty()).orElse(null);
        String llmModel = s.string("llmModel").map(String::strip).filter(v -> !v.isEmpty()).orElse(null);
        if (llmBaseUrl != null) {
            URI uri;
            try {
                uri = URI.create(llmBaseUrl);
            } catch (IllegalArgumentException e) {
                throw s.problem("llmBaseUrl", "\"" + llmBaseUrl + "\" is not a URL");
            }
            if (uri.getScheme() == null || !(uri.getScheme().equals("http") || uri.getScheme().equals("https")) || uri.getHost() == null) {
                throw s.problem("llmBaseUrl", "expected an http(s) URL such as https://api.openai.com/v1");
            }
            if (llmModel == null) {
                throw s.problem("llmModel", "is required with " + s.named("llmBaseUrl")
                        + ": the model to ask, e.g. gpt-4o-mini");
            }
        }
        ZoneId zone;
        String zoneName = s.string("timeZone", "UTC");
        try {
            zone = ZoneId.of(zoneName);
        } catch (DateTimeException e) {
            throw s.problem("timeZone", "\"" + zoneName + "\" is not a time zone; use an IANA name such as Europe/Berlin, or UTC");
        }
        return new MonitorSettings(
                s.integer("maxConcurrentChecks", 2048, 1, 100_000), raw, hourly, daily, reminder,
                s.integer("notifyAttempts", 4, 1, 20), backoff, notifyTimeout, llmBaseUrl, llmModel,
                s.string("llmApiKey").orElse(null), positive(s, "llmTimeout", Duration.ofSeconds(10)),
                s.integer("llmConcurrency", 4, 1, 256), zone,
                s.integer("resultQueue", 200_000, 1000, 10_000_000));
    }

    private static Duration positive(ConfigSection s, String key, Duration fallback) {
        Duration d = s.duration(key, fallback);
        if (d.isZero() || d.compareTo(Duration.ofMinutes(5)) > 0) {
            throw s.problem(key, "must be above 0 and at most 5m");
        }
        return d;
    }
}
