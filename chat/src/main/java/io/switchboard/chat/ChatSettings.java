package io.switchboard.chat;

import io.switchboard.platform.config.ConfigSection;
import java.time.Duration;
import java.util.List;

/** The {@code chat:} block. */
public record ChatSettings(int maxMessageLength, int maxMembers, int streamQueueLimit, Duration streamHeartbeat,
                           Duration resumeWindow, int writerQueue, Duration streamCatchUp,
                           Duration streamReorderWait) {
    public static final List<String> KNOWN_KEYS = List.of("maxMessageLength", "maxMembers", "streamQueueLimit",
            "streamHeartbeat", "resumeWindow", "writerQueue", "streamCatchUp", "streamReorderWait");

    public static ChatSettings from(ConfigSection section) {
        section.allowOnly(KNOWN_KEYS);
        Duration heartbeat = section.duration("streamHeartbeat", Duration.ofSeconds(20), Duration.ofSeconds(1),
                Duration.ofMinutes(10));
        Duration resumeWindow = section.duration("resumeWindow", Duration.ofSeconds(1));
        if (resumeWindow.compareTo(Duration.ofSeconds(30)) > 0) {
            throw section.problem("resumeWindow", ConfigSection.written(resumeWindow) + " is over 30s");
        }
        Duration streamCatchUp = section.duration("streamCatchUp", Duration.ofSeconds(30));
        if (!streamCatchUp.isZero() && (streamCatchUp.compareTo(Duration.ofSeconds(1)) < 0
                || streamCatchUp.compareTo(Duration.ofHours(1)) > 0)) {
            throw section.problem("streamCatchUp", ConfigSection.written(streamCatchUp) + " is outside 1s..1h (0s turns it off)");
        }
        Duration streamReorderWait = section.duration("streamReorderWait", Duration.ofMillis(100));
        if (streamReorderWait.compareTo(Duration.ofSeconds(5)) > 0) {
            throw section.problem("streamReorderWait", ConfigSection.written(streamReorderWait) + " is over 5s (0s turns it off)");
        }
        return new ChatSettings(
                // up to a million as before (a lower bound would stop nodes configured so from
                // starting); what a 1 MB body holds is the real limit, which the docs name
                section.integer("maxMessageLength", 4000, 1, 1_000_000),
                section.integer("maxMembers", 1000, 2, 100_000),
                section.integer("streamQueueLimit", 1000, 10, 1_000_000),
                heartbeat,
                resumeWindow,
                section.integer("writerQueue", 20_000, 100, 10_000_000),
                streamCatchUp,
                streamReorderWait);
    }

    public static ChatSettings defaults() {
        return from(ConfigSection.empty("chat"));
    }
}
