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
            int valueStart = first == ' ' || first == '\t' ? -1 : callIdValue(data, i, end);
            if (valueStart >= 0) {
                return hash(data, valueStart, end);
            }
            i = nextLine(data, i, end);
        }
        return NO_CALL_ID;
    }

    /** The offset of the value when the header line at {@code i} is a Call-ID, else -1. */
    private static int callIdValue(byte[] data, int i, int end) {
        int nameEnd;
        if (matches(data, i, end, "call-id")) {
            nameEnd = i + 7;
        } else if ((data[i] | 0x20) == 'i') {
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
