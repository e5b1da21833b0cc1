package io.switchboard.monitor.history;

/**
 * Text as both stores accept it. PostgreSQL refuses the NUL character in text values ("invalid
 * byte sequence for encoding UTF8: 0x00"), and error texts can carry one from whatever a target
 * sent (a header, a DNS answer, a SIP reason phrase). Every text the module stores that did not
 * come from an operator passes through {@link #clean}; nothing useful is lost by dropping NUL.
 */
public final class StoredText {
    private StoredText() {
    }

    public static String clean(String text) {
        return text == null || text.indexOf('\0') < 0 ? text : text.replace("\0", "");
    }
}
