package io.switchboard.monitor.definition;

import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;

/** What a monitor checks. The wire name is the lower-case constant: {@code type: http}. */
public enum CheckType {
    HTTP, DNS, TLS, TCP, SIP;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Optional<CheckType> fromWire(String text) {
        return Arrays.stream(values()).filter(t -> t.wireName().equals(text)).findFirst();
    }

    public static String wireNames() {
        return String.join(", ", Arrays.stream(values()).map(CheckType::wireName).toList());
    }
}
