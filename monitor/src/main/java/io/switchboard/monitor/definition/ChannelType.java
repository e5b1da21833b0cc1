package io.switchboard.monitor.definition;

import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;

/** Where notifications go. */
public enum ChannelType {
    WEBHOOK, TELEGRAM, EMAIL;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Optional<ChannelType> fromWire(String text) {
        return Arrays.stream(values()).filter(t -> t.wireName().equals(text)).findFirst();
    }

    public static String wireNames() {
        return String.join(", ", Arrays.stream(values()).map(ChannelType::wireName).toList());
    }
}
