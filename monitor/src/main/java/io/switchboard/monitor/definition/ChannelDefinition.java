package io.switchboard.monitor.definition;

import java.util.List;
import java.util.Map;

/** A notification channel: a name monitors refer to, and where and how to deliver. */
public record ChannelDefinition(String name, ChannelSettings settings) {

    public ChannelType type() {
        return switch (settings) {
            case ChannelSettings.Webhook w -> ChannelType.WEBHOOK;
            case ChannelSettings.Telegram t -> ChannelType.TELEGRAM;
            case ChannelSettings.Email e -> ChannelType.EMAIL;
        };
    }

    /** Settings by channel type. Secrets (secret, botToken, password) are masked wherever they are shown. */
    public sealed interface ChannelSettings {
        /**
         * @param secret key for the {@code X-Switchboard-Signature} HMAC-SHA256 header, or null for unsigned
         */
        record Webhook(String url, String secret, Map<String, String> headers) implements ChannelSettings {
            public Webhook {
                headers = Map.copyOf(headers);
            }
        }

        /** @param apiUrl the Bot API base, {@code https://api.telegram.org} unless a proxy or a test stands in */
        record Telegram(String botToken, String chatId, String apiUrl) implements ChannelSettings {
            public static final String DEFAULT_API_URL = "https://api.telegram.org";
        }

        /**
         * @param security starttls (RFC 3207, default, port 587), tls (implicit TLS, RFC 8314, port 465) or none
         * @param caFile   PEM file of extra trusted certificates for the SMTP server, or null
         */
        record Email(String host, int port, String security, String username, String password, String from,
                     List<String> to, String caFile) implements ChannelSettings {
            public Email {
                to = List.copyOf(to);
            }
        }
    }
}
