package io.switchboard.sip.codec;

/**
 * Reads what the transport needs from a raw message before it is parsed: one pass over the header
 * bytes, no allocation. Runs on the I/O threads, so it is cheap and never throws; on anything it
 * does not recognise it answers "not found" and the message goes on to the parser, which rejects
 * it with a reason (RFC 3261 §7, RFC 4475).
 */
public final class SipPeek {
    /** Returned by {@link #callIdHash} when the message has no Call-ID that this scan can see. */
    public static final long NO_CALL_ID = -1;

    private SipPeek() {
    }

    /**
     * A hash of the message's Call-ID value (RFC 3261 §20.8; compact form {@code i}, §7.3.3), as a
     * non-negative number, or {@link #NO_CALL_ID}. The value is compared octet by octet (§20.8:
     * Call-IDs are case-sensitive), without the whitespace around it; a value folded over several
     * lines (§7.3.1) is hashed up to the end of its first line, which is enough for a key since a
     * peer folds its own Call-ID the same way in every message of a call.
     */
    public static long callIdHash(byte[] data, int offset, int length) {
        int end = offset + length;
        int i = offset;
        while (i < end && (data[i] == '\r' || data[i] == '\n')) {
            i++; // §7.5: CRLFs before the start line are ignored
        }
        i = nextLine(data, i, end); // past the start line
        while (i < end) {
            byte first = data[i];
            if (first == '\r' || first == '\n') {
                return NO_CALL_ID; // the empty line: the headers ended without a Call-ID
            }
            int valueStart = first == ' ' || first == '\t' ? -1 : headerValue(data, i, end, "call-id", 'i');
            if (valueStart >= 0) {
                return hash(data, valueStart, end);
            }
            i = nextLine(data, i, end);
        }
        return NO_CALL_ID;
    }

    /**
     * {@link #callIdHash(byte[], int, int)} for a Call-ID already parsed: the same number the
     * message's bytes give, so work done later for a call can join the lane its messages take.
     */
    public static long callIdHash(String callId) {
        byte[] data = callId.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        return hash(data, 0, data.length);
    }

    /**
     * True when the message is a request that may start new work outside any dialog: not a
     * response, not ACK, CANCEL, BYE or PRACK (which belong to a transaction or dialog in
     * progress), and no tag in its To header (RFC 3261 §8.1.1.2: requests within a dialog carry the
     * remote tag, §12.2.1.1). An INVITE, REGISTER or OPTIONS from a new caller, or its
     * retransmission. When in doubt (no To header found, a tag the scan cannot place) the answer
     * is false: a message in progress is never mistaken for new work on purpose.
     */
    public static boolean isOutOfDialogRequest(byte[] data, int offset, int length) {
        int end = offset + length;
        int i = offset;
        while (i < end && (data[i] == '\r' || data[i] == '\n')) {
            i++;
        }
        if (matches(data, i, end, "sip/") || startsWithMethod(data, i, end, "ACK") || startsWithMethod(data, i, end, "CANCEL")
                || startsWithMethod(data, i, end, "BYE") || startsWithMethod(data, i, end, "PRACK")) {
            return false;
        }
        i = nextLine(data, i, end);
        while (i < end) {
            byte first = data[i];
            if (first == '\r' || first == '\n') {
                return false; // no To header: the parser rejects it, nothing to shed
            }
            if (first != ' ' && first != '\t') {
                int value = headerValue(data, i, end, "to", 't');
                if (value >= 0) {
                    return !hasTag(data, value, end);
                }
            }
            i = nextLine(data, i, end);
        }
        return false;
    }

    private static boolean startsWithMethod(byte[] data, int i, int end, String method) {
        int n = method.length();
        if (end - i <= n || data[i + n] != ' ') {
            return false;
        }
        for (int k = 0; k < n; k++) {
            if (data[i + k] != method.charAt(k)) {
                return false; // methods are case-sensitive (§7.1)
            }
        }
        return true;
    }

    /** Whether the header value starting at {@code i} has a {@code ;tag=} parameter on its line. */
    private static boolean hasTag(byte[] data, int i, int end) {
        for (int j = i; j < end && data[j] != '\r' && data[j] != '\n'; j++) {
            if (data[j] != ';') {
                continue;
            }
            int k = j + 1;
            while (k < end && (data[k] == ' ' || data[k] == '\t')) {
                k++;
            }
            if (!matches(data, k, end, "tag")) {
                continue;
            }
            k += 3;
            while (k < end && (data[k] == ' ' || data[k] == '\t')) {
                k++;
            }
            if (k < end && data[k] == '=') {
                return true;
            }
        }
        return false;
    }

    /** The offset of the value when the header line at {@code i} has this name (long or compact form), else -1. */
    private static int headerValue(byte[] data, int i, int end, String lowerName, char compact) {
        int nameEnd;
        if (matches(data, i, end, lowerName)) {
            nameEnd = i + lowerName.length();
        } else if ((data[i] | 0x20) == compact) {
            nameEnd = i + 1;
        } else {
            return -1;
        }
        int j = nameEnd;
        while (j < end && (data[j] == ' ' || data[j] == '\t')) {
            j++; // HCOLON: whitespace before the colon (§25.1)
        }
        if (j >= end || data[j] != ':') {
            return -1;
        }
        j++;
        while (j < end && (data[j] == ' ' || data[j] == '\t')) {
            j++;
        }
        return j;
    }

    private static boolean matches(byte[] data, int i, int end, String lowerName) {
        if (end - i < lowerName.length()) {
            return false;
        }
        for (int k = 0; k < lowerName.length(); k++) {
            byte b = data[i + k];
            byte lower = b >= 'A' && b <= 'Z' ? (byte) (b | 0x20) : b;
            if (lower != lowerName.charAt(k)) {
                return false;
            }
        }
        return true;
    }

    /** FNV-1a over the value up to the end of its line (trailing whitespace left out), then mixed. */
    private static long hash(byte[] data, int start, int end) {
        int last = start;
        while (last < end && data[last] != '\r' && data[last] != '\n') {
            last++;
        }
        while (last > start && (data[last - 1] == ' ' || data[last - 1] == '\t')) {
            last--;
        }
        if (last == start) {
            return NO_CALL_ID; // an empty Call-ID: the parser rejects it
        }
        int h = 0x811C9DC5;
        for (int k = start; k < last; k++) {
            h ^= data[k] & 0xFF;
            h *= 0x01000193;
        }
        // MurmurHash3's finalizer: Call-IDs that differ in one digit land on different lanes
        h ^= h >>> 16;
        h *= 0x85EBCA6B;
        h ^= h >>> 13;
        h *= 0xC2B2AE35;
        h ^= h >>> 16;
        return h & 0xFFFFFFFFL;
    }

    private static int nextLine(byte[] data, int i, int end) {
        while (i < end && data[i] != '\n') {
            i++;
        }
        return i + 1;
    }
}
