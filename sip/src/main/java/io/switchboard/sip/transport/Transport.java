package io.switchboard.sip.transport;

import java.util.Locale;

/** The transports a flow can run on; the names are those of the Via transport token (RFC 3261 §20.42, RFC 7118 §5). */
public enum Transport {
    UDP(false), TCP(true), TLS(true), WS(true), WSS(true);

    private final boolean reliable;

    Transport(boolean reliable) {
        this.reliable = reliable;
    }

    public boolean isReliable() {
        return reliable;
    }

    /** The token as written in a Via header. */
    public String viaToken() {
        return name();
    }

    /** The value of a URI's transport parameter (RFC 3261 §19.1.1). */
    public String uriParam() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Transport parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown transport '" + text + "' (expected udp, tcp, tls, ws or wss)");
        }
    }
}
