package io.switchboard.monitor.definition;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns definitions back into the plain maps {@link DefinitionReader} reads, keys in the file's
 * order and defaults left out, so that reading what was written gives the same definition (the
 * store keeps this form, {@code monitor export} writes it). With {@code Secrets.MASK} every secret
 * is replaced by {@value DefinitionReader#MASK}: what the API shows (see {@link Redaction}: credential
 * headers, a target's password, a webhook URL's path).
 */
public final class DefinitionWriter {
    public enum Secrets { REVEAL, MASK }

    private DefinitionWriter() {
    }

    public static Map<String, Object> monitor(MonitorDefinition m, Secrets secrets) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("name", m.name());
        out.put("type", m.type().wireName());
        out.put("target", secrets == Secrets.MASK ? Redaction.target(m.target()) : m.target());
        out.put("interval", DurationText.format(m.interval()));
        out.put("timeout", DurationText.format(m.timeout()));
        out.put("failureThreshold", m.failureThreshold());
        out.put("recoveryThreshold", m.recoveryThreshold());
        out.put("channels", m.channels());
        if (m.paused()) {
            out.put("paused", true);
        }
        if (m.degradedAbove() != null) {
            out.put("degradedAbove", DurationText.format(m.degradedAbove()));
        }
        if (m.reminderEvery() != null) {
            out.put("reminderEvery", DurationText.format(m.reminderEvery()));
        }
        switch (m.options()) {
            case CheckOptions.Http h -> {
                if (!h.method().equals(CheckOptions.Http.DEFAULT_METHOD)) {
                    out.put("method", h.method());
                }
                if (!h.headers().isEmpty()) {
                    Map<String, String> headers = new LinkedHashMap<>();
                    h.headers().entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> headers.put(e.getKey(),
                            secrets == Secrets.MASK && Redaction.isCredentialHeader(e.getKey())
                                    ? DefinitionReader.MASK : e.getValue()));
                    out.put("headers", headers);
                }
                putIfSet(out, "body", h.body());
                if (!h.expectStatus().equals(StatusSet.SUCCESS)) {
                    out.put("expectStatus", statusItems(h.expectStatus()));
                }
                if (h.maxRedirects() != CheckOptions.Http.DEFAULT_MAX_REDIRECTS) {
                    out.put("maxRedirects", h.maxRedirects());
                }
                putIfSet(out, "keyword", h.keyword());
                putIfSet(out, "jsonPath", h.jsonPath());
                putIfSet(out, "jsonValue", h.jsonValue());
                putIfSet(out, "caFile", h.caFile());
            }
            case CheckOptions.Dns d -> {
                if (!d.recordType().equals("A")) {
                    out.put("recordType", d.recordType());
                }
                if (!d.expectValues().isEmpty()) {
                    out.put("expect", d.expectValues());
                }
                if (!d.expectRcode().equals("NOERROR")) {
                    out.put("expectRcode", d.expectRcode());
                }
                putIfSet(out, "resolver", d.resolver());
            }
            case CheckOptions.Tls t -> {
                if (t.warnDays() != CheckOptions.Tls.DEFAULT_WARN_DAYS) {
                    out.put("warnDays", t.warnDays());
                }
                if (t.criticalDays() != CheckOptions.Tls.DEFAULT_CRITICAL_DAYS) {
                    out.put("criticalDays", t.criticalDays());
                }
                putIfSet(out, "serverName", t.serverName());
                putIfSet(out, "caFile", t.caFile());
            }
            case CheckOptions.Tcp t -> {
            }
            case CheckOptions.Sip s -> {
                String fromUri = Targets.sipUri(m.target()).param("transport");
                if (!s.transport().equals(fromUri == null ? "udp" : fromUri.toLowerCase(Locale.ROOT))) {
                    out.put("transport", s.transport());
                }
                if (s.expectStatus() != null) {
                    out.put("expectStatus", statusItems(s.expectStatus()));
                }
            }
        }
        return out;
    }

    /** Status items as written; plain codes as numbers, so {@code [200]} stays {@code [200]}. */
    private static List<Object> statusItems(StatusSet set) {
        List<Object> items = new ArrayList<>();
        for (String item : set.items()) {
            items.add(item.matches("\\d{3}") ? (Object) Integer.parseInt(item) : item);
        }
        return items;
    }

    public static Map<String, Object> channel(ChannelDefinition c, Secrets secrets) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("name", c.name());
        out.put("type", c.type().wireName());
        switch (c.settings()) {
            case ChannelDefinition.ChannelSettings.Webhook w -> {
                out.put("url", secrets == Secrets.MASK ? Redaction.url(w.url()) : w.url());
                putIfSet(out, "secret", secret(w.secret(), secrets));
                if (!w.headers().isEmpty()) {
                    Map<String, String> headers = new LinkedHashMap<>();
                    w.headers().entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> headers.put(e.getKey(),
                            secrets == Secrets.MASK && Redaction.isCredentialHeader(e.getKey())
                                    ? DefinitionReader.MASK : e.getValue()));
                    out.put("headers", headers);
                }
            }
            case ChannelDefinition.ChannelSettings.Telegram t -> {
                out.put("botToken", secret(t.botToken(), secrets));
                out.put("chatId", t.chatId());
                if (!t.apiUrl().equals(ChannelDefinition.ChannelSettings.Telegram.DEFAULT_API_URL)) {
                    out.put("apiUrl", t.apiUrl());
                }
            }
            case ChannelDefinition.ChannelSettings.Email e -> {
                out.put("host", e.host());
                if (e.port() != DefinitionReader.defaultSmtpPort(e.security())) {
                    out.put("port", e.port());
                }
                if (!e.security().equals("starttls")) {
                    out.put("security", e.security());
                }
                putIfSet(out, "username", e.username());
                putIfSet(out, "password", secret(e.password(), secrets));
                out.put("from", e.from());
                out.put("to", e.to());
                putIfSet(out, "caFile", e.caFile());
            }
        }
        return out;
    }

    public static Map<String, Object> maintenance(MaintenanceWindow w) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("name", w.name());
        out.put("start", w.start().toString());
        out.put("duration", DurationText.format(w.duration()));
        if (!w.repeat().equals("none")) {
            out.put("repeat", w.repeat());
        }
        if (!w.monitors().isEmpty()) {
            out.put("monitors", w.monitors());
        }
        return out;
    }

    /** The monitor file: channels, monitors, maintenance (empty lists left out). */
    public static Map<String, Object> catalog(Catalog catalog, Secrets secrets) {
        Map<String, Object> out = new LinkedHashMap<>();
        if (!catalog.channels().isEmpty()) {
            out.put("channels", catalog.channels().stream().map(c -> channel(c, secrets)).toList());
        }
        if (!catalog.monitors().isEmpty()) {
            out.put("monitors", catalog.monitors().stream().map(m -> monitor(m, secrets)).toList());
        }
        if (!catalog.maintenance().isEmpty()) {
            out.put("maintenance", catalog.maintenance().stream().map(DefinitionWriter::maintenance).toList());
        }
        return out;
    }

    private static String secret(String value, Secrets secrets) {
        return value == null ? null : secrets == Secrets.MASK ? DefinitionReader.MASK : value;
    }

    private static void putIfSet(Map<String, Object> out, String key, Object value) {
        if (value != null) {
            out.put(key, value);
        }
    }
}
