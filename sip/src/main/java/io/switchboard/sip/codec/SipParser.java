package io.switchboard.sip.codec;

import io.switchboard.sip.message.CSeq;
import io.switchboard.sip.message.HeaderNames;
import io.switchboard.sip.message.HeaderText;
import io.switchboard.sip.message.NameAddress;
import io.switchboard.sip.message.SipHeaders;
import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.message.SipUri;
import io.switchboard.sip.message.Via;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Parses SIP messages (RFC 3261 §7) and validates what the stack relies on, so that everything past
 * the parser can trust a message's Via, From, To, Call-ID, CSeq and Max-Forwards. Accepts what
 * RFC 4475 §3.1.1 calls valid (folding, compact names, LWS around separators, leading zeros,
 * unknown headers kept verbatim) and rejects what §3.1.2 calls invalid with a reason.
 */
public final class SipParser {
    private static final long MAX_DELTA_SECONDS = 4294967295L; // 2^32-1, RFC 3261 §25.1 delta-seconds

    private SipParser() {
    }

    /** Parses one datagram; octets after the Content-Length are ignored (RFC 3261 §18.3). */
    public static SipMessage parse(byte[] datagram) throws SipParseException {
        return parse(datagram, 0, datagram.length, true);
    }

    /**
     * Parses {@code length} bytes at {@code offset}.
     *
     * @param datagram true for a message-oriented transport: a missing Content-Length means the body
     *                 runs to the end, and a shorter body than Content-Length is an error (RFC 3261 §18.3)
     */
    public static SipMessage parse(byte[] data, int offset, int length, boolean datagram) throws SipParseException {
        int end = offset + length;
        int start = offset;
        // RFC 3261 §7.5: ignore CRLFs before the start line
        while (start < end && (data[start] == '\r' || data[start] == '\n')) {
            start++;
        }
        if (start == end) {
            throw new SipParseException("empty message", 0, null, null);
        }
        int headerEnd = -1;
        int bodyStart = -1;
        for (int i = start; i < end; i++) {
            if (data[i] == '\n') {
                if (i + 1 < end && data[i + 1] == '\n') {
                    headerEnd = i;
                    bodyStart = i + 2;
                    break;
                }
                if (i + 2 < end && data[i + 1] == '\r' && data[i + 2] == '\n') {
                    headerEnd = i;
                    bodyStart = i + 3;
                    break;
                }
            }
        }
        if (headerEnd < 0) {
            throw new SipParseException("message has no empty line ending the headers", 400, null, null);
        }
        String head = new String(data, start, headerEnd - start, StandardCharsets.UTF_8);
        return parseHead(head, notUtf8At(data, start, headerEnd), data, bodyStart, end, datagram);
    }

    /**
     * RFC 3261 §7.3.1 and §25: a message's head is UTF-8 text. The index in the decoded head of the
     * first character that stands for a byte sequence that is not UTF-8 (decoded as U+FFFD, which
     * the sender may also have written as itself), or -1. A head of ASCII, the usual, is one pass.
     */
    private static int notUtf8At(byte[] data, int from, int to) {
        int high = from;
        while (high < to && data[high] >= 0) {
            high++;
        }
        if (high == to) {
            return -1;
        }
        // the ASCII before it decodes one char a byte; a new decoder reports malformed input
        java.nio.CharBuffer out = java.nio.CharBuffer.allocate(to - high);
        java.nio.charset.CoderResult result = StandardCharsets.UTF_8.newDecoder()
                .decode(java.nio.ByteBuffer.wrap(data, high, to - high), out, true);
        return result.isError() ? high - from + out.position() : -1;
    }

    /**
     * What a stream transport can answer to a message it could not frame (RFC 3261 §18.3: without a
     * usable Content-Length the end of the body cannot be found; or the message is over the size
     * limit): the head alone, {@code length} octets of complete header lines at {@code offset}, is
     * read for the headers an answer needs (§8.2.6.2), and the body is never looked at. The result's
     * {@link SipParseException#errorResponse()} is the {@code status} answer (400, or 513 Message Too
     * Large, §21.5.7), or null when the head is a response, an ACK, or lacks what an answer needs.
     */
    public static SipParseException unframed(byte[] data, int offset, int length, String reason, int status) {
        int end = offset + length;
        int start = offset;
        while (start < end && (data[start] == '\r' || data[start] == '\n')) {
            start++; // §7.5
        }
        String head = new String(data, start, end - start, StandardCharsets.UTF_8);
        int lineEnd = head.indexOf('\n');
        String startLine = stripCr(lineEnd < 0 ? head : head.substring(0, lineEnd));
        if (startLine.regionMatches(true, 0, "SIP/", 0, 4)) {
            return new SipParseException(reason, 0, null, null); // a response is never answered
        }
        int sp = startLine.indexOf(' ');
        String method = sp > 0 ? startLine.substring(0, sp) : null;
        SipHeaders headers = new SipHeaders();
        try {
            readHeaders(head, lineEnd < 0 ? head.length() : lineEnd + 1, headers, -1);
        } catch (IllegalArgumentException e) {
            // what was read before the broken line may still address an answer, as in parseHead
        }
        return new SipParseException(reason, status, headers, method);
    }

    /** @param notUtf8 {@link #notUtf8At}: where the head is not UTF-8, or -1 */
    private static SipMessage parseHead(String head, int notUtf8, byte[] data, int bodyStart, int end, boolean datagram)
            throws SipParseException {
        int lineEnd = head.indexOf('\n');
        String startLine = stripCr(lineEnd < 0 ? head : head.substring(0, lineEnd));
        boolean isResponse = startLine.regionMatches(true, 0, "SIP/", 0, 4);
        SipHeaders headers = new SipHeaders();
        String method = null;
        if (!isResponse) {
            int sp = startLine.indexOf(' ');
            method = sp > 0 ? startLine.substring(0, sp) : null;
        }
        int dropOrReject = isResponse ? 0 : 400;
        try {
            // A response is read with such a sequence as U+FFFD, as before: it cannot be answered,
            // and dropping a device's 486 for a Latin-1 reason phrase would make the call a timeout.
            // In a Request-Line it is refused by the method's token, the URI's ASCII or the version
            readHeaders(head, lineEnd < 0 ? head.length() : lineEnd + 1, headers, isResponse ? -1 : notUtf8);
        } catch (IllegalArgumentException e) {
            throw new SipParseException(e.getMessage(), dropOrReject, headers, method);
        }
        try {
            SipMessage message = isResponse ? parseStatusLine(startLine, headers) : parseRequestLine(startLine, headers);
            byte[] body = readBody(headers, data, bodyStart, end, datagram);
            message.setBody(body, null);
            validate(message);
            return message;
        } catch (VersionException e) {
            throw new SipParseException(e.getMessage(), isResponse ? 0 : 505, headers, method);
        } catch (IllegalArgumentException e) {
            throw new SipParseException(e.getMessage(), dropOrReject, headers, method);
        }
    }

    private static String stripCr(String line) {
        return line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
    }

    /**
     * Reads header lines by index into {@code head}; a value is copied once, and a StringBuilder
     * is used only when a header is folded over several lines (RFC 3261 §7.3.1).
     */
    private static void readHeaders(String head, int from, SipHeaders into, int notUtf8At) {
        String name = null;
        String value = null;
        StringBuilder folded = null;
        int n = head.length();
        int i = from;
        String bareCr = null;
        String notUtf8 = null;
        while (i < n) {
            int nl = head.indexOf('\n', i);
            int next = nl < 0 ? n : nl + 1;
            int end = nl < 0 ? n : nl;
            if (end > i && head.charAt(end - 1) == '\r') {
                end--;
            }
            // bounded by the line: an LF-only head would otherwise be scanned to its end at every line
            int cr = head.indexOf('\r', i, end);
            if (bareCr == null && cr >= 0) {
                // RFC 3261 §7.3.1 and §25.1: CR only ends a line; one inside a value would reach a
                // reason phrase or a forwarded header as a line break of its own. Reported once
                // every line is read, so the 400 can still be addressed (§21.4.1)
                int colon = head.indexOf(':', i);
                bareCr = "bare CR in header " + abbreviate(colon > i && colon < cr ? head.substring(i, colon).trim() : "line");
            }
            if (end == i) {
                i = next;
                continue;
            }
            char first = head.charAt(i);
            if (notUtf8 == null && notUtf8At >= i && notUtf8At < end) {
                // RFC 3261 §7.3.1, §25: UTF-8 text. Reported once every line is read, as the bare
                // CR, so the 400 is addressed (§21.4.1); the values it copies hold U+FFFD in place
                // of the sequence, so what it sends is UTF-8. The reason names, never quotes
                int colon = head.indexOf(':', i);
                String header = (first == ' ' || first == '\t') && name != null ? name
                        : colon > i && colon < end ? head.substring(i, colon).trim() : "line";
                notUtf8 = "header " + abbreviate(header) + " is not UTF-8";
            }
            if (first == ' ' || first == '\t') {
                // folded continuation: LWS = [*WSP CRLF] 1*WSP, replaced by one SP
                if (name == null) {
                    throw new IllegalArgumentException("continuation line before any header");
                }
                if (folded == null) {
                    folded = new StringBuilder(value);
                }
                String more = withoutCr(head.substring(i, end), cr).trim();
                if (!more.isEmpty()) {
                    if (folded.length() > 0) {
                        folded.append(' ');
                    }
                    folded.append(more);
                }
                i = next;
                continue;
            }
            if (name != null) {
                into.add(name, folded != null ? folded.toString() : value);
            }
            folded = null;
            int colon = head.indexOf(':', i);
            if (colon < 0 || colon >= end || colon == i) {
                throw new IllegalArgumentException("header line without a name and colon: "
                        + abbreviate(head.substring(i, end)));
            }
            int nameEnd = colon;
            while (nameEnd > i && (head.charAt(nameEnd - 1) == ' ' || head.charAt(nameEnd - 1) == '\t')) {
                nameEnd--;
            }
            name = head.substring(i, nameEnd);
            if (!HeaderText.isToken(name)) {
                throw new IllegalArgumentException("invalid header name: " + abbreviate(name));
            }
            int valueStart = colon + 1;
            while (valueStart < end && (head.charAt(valueStart) == ' ' || head.charAt(valueStart) == '\t')) {
                valueStart++;
            }
            int valueEnd = end;
            while (valueEnd > valueStart && (head.charAt(valueEnd - 1) == ' ' || head.charAt(valueEnd - 1) == '\t')) {
                valueEnd--;
            }
            value = withoutCr(head.substring(valueStart, valueEnd), cr);
            i = next;
        }
        if (name != null) {
            into.add(name, folded != null ? folded.toString() : value);
        }
        if (bareCr != null) {
            throw new IllegalArgumentException(bareCr);
        }
        if (notUtf8 != null && !inDialog(into)) {
            // Within a dialog it is read with U+FFFD, as before: refusing a BYE or re-INVITE of a
            // call set up before this check (a device sending Latin-1 in User-Agent) would leave
            // the call hanging on both sides; the device's next REGISTER or call is refused
            throw new IllegalArgumentException(notUtf8);
        }
    }

    /**
     * A value whose line held a bare CR ({@code cr >= 0}), with each CR a space: the message is
     * refused, but its 400 copies Via, From, To, Call-ID and CSeq (§8.2.6.2), which must not carry
     * the CR out as a line break of its own.
     */
    private static String withoutCr(String value, int cr) {
        return cr < 0 ? value : value.replace('\r', ' ');
    }

    private static SipRequest parseRequestLine(String line, SipHeaders headers) throws VersionException {
        // Request-Line = Method SP Request-URI SP SIP-Version: exactly one SP between elements
        // (RFC 3261 §7.1, RFC 4475 §3.1.2.9 and §3.1.2.10)
        int first = line.indexOf(' ');
        int last = line.lastIndexOf(' ');
        if (first <= 0 || last == first) {
            throw new IllegalArgumentException("malformed Request-Line");
        }
        String method = line.substring(0, first);
        String uri = line.substring(first + 1, last);
        String version = line.substring(last + 1);
        if (!HeaderText.isToken(method)) {
            throw new IllegalArgumentException("invalid method");
        }
        if (uri.isEmpty() || uri.indexOf(' ') >= 0 || uri.indexOf('\t') >= 0) {
            throw new IllegalArgumentException("whitespace in Request-URI or between Request-Line elements");
        }
        if (version.isEmpty()) {
            throw new IllegalArgumentException("trailing whitespace after SIP-Version");
        }
        checkVersion(version);
        if (uri.startsWith("<")) {
            throw new IllegalArgumentException("Request-URI must not be enclosed in <>");
        }
        for (int i = 0; i < uri.length(); i++) {
            if (uri.charAt(i) >= 0x80) {
                // RFC 3261 §19.1.1, §25.1 (and RFC 3986 §2.1): a URI is ASCII, other octets %HH.
                // UTF-8 or not (then U+FFFD here), the byte is not quoted: the reason stays ASCII
                throw new IllegalArgumentException("Request-URI holds a raw non-ASCII byte (escape it as %HH)");
            }
        }
        SipUri requestUri = SipUri.parse(uri);
        if (requestUri.isSip() && requestUri.headers() != null) {
            // RFC 3261 §19.1.1 table 1: headers are not allowed in a Request-URI
            throw new IllegalArgumentException("Request-URI must not contain headers");
        }
        if (requestUri.isSip() && requestUri.port() == 0 && !inDialog(headers)) {
            // §25.1 port = 1*DIGIT lets ":0" parse, but port 0 is reserved and reaches nothing
            // (RFC 6335 §6): an out-of-dialog request is routed on its Request-URI (§16.5, §10.3),
            // and one naming port 0 can be neither this element nor one to forward to. In a dialog
            // the Request-URI is the peer's remote target, routed past on a Route (§12.2.1.1, §16.4)
            throw new IllegalArgumentException("Request-URI port 0 is not a usable port");
        }
        return new SipRequest(method, requestUri, headers, null);
    }

    /** Whether the To header has a tag (RFC 3261 §12.2): a request within a dialog. Unparseable is left to validate(). */
    private static boolean inDialog(SipHeaders headers) {
        String to = headers.get(HeaderNames.TO);
        if (to == null) {
            return false;
        }
        try {
            return NameAddress.parse(to).tag() != null;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static SipResponse parseStatusLine(String line, SipHeaders headers) throws VersionException {
        int first = line.indexOf(' ');
        if (first < 0) {
            throw new IllegalArgumentException("malformed Status-Line");
        }
        checkVersion(line.substring(0, first));
        int second = line.indexOf(' ', first + 1);
        String code = second < 0 ? line.substring(first + 1) : line.substring(first + 1, second);
        if (code.length() != 3) {
            throw new IllegalArgumentException("status code is not three digits");
        }
        int status = (int) HeaderText.parseBounded(code, 699, "status code");
        if (status < 100) {
            throw new IllegalArgumentException("status code out of range");
        }
        String reason = second < 0 ? "" : line.substring(second + 1);
        return new SipResponse(status, reason, headers, null);
    }

    private static void checkVersion(String version) throws VersionException {
        if (!version.equalsIgnoreCase("SIP/2.0")) {
            if (version.regionMatches(true, 0, "SIP/", 0, 4)) {
                throw new VersionException("unsupported SIP version " + abbreviate(version));
            }
            throw new IllegalArgumentException("malformed SIP-Version");
        }
    }

    private static byte[] readBody(SipHeaders headers, byte[] data, int bodyStart, int end, boolean datagram) {
        String lengthText = headers.get(HeaderNames.CONTENT_LENGTH);
        int available = Math.max(0, end - bodyStart);
        if (lengthText == null) {
            if (!datagram) {
                throw new IllegalArgumentException("Content-Length is required on stream transports");
            }
            return Arrays.copyOfRange(data, bodyStart, bodyStart + available);
        }
        if (headers.fields(HeaderNames.CONTENT_LENGTH).size() > 1) {
            throw new IllegalArgumentException("more than one Content-Length");
        }
        long length = HeaderText.parseBounded(lengthText, Integer.MAX_VALUE, "Content-Length");
        if (length > available) {
            throw new IllegalArgumentException("Content-Length " + length + " is larger than the body (" + available + " octets)");
        }
        return length == 0 ? new byte[0] : Arrays.copyOfRange(data, bodyStart, bodyStart + (int) length);
    }

    private static void validate(SipMessage message) {
        for (String name : new String[]{HeaderNames.CALL_ID, HeaderNames.CSEQ, HeaderNames.FROM, HeaderNames.TO}) {
            if (message.headers().get(name) == null) {
                throw new IllegalArgumentException("missing " + name);
            }
            if (message.headers().fields(name).size() > 1) {
                throw new IllegalArgumentException("more than one " + name);
            }
        }
        if (message.vias().isEmpty()) {
            throw new IllegalArgumentException("missing Via");
        }
        String callId = message.callId();
        if (callId.isEmpty() || callId.indexOf(' ') >= 0 || callId.indexOf('\t') >= 0) {
            throw new IllegalArgumentException("malformed Call-ID");
        }
        CSeq cseq;
        try {
            cseq = message.cseq();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("malformed CSeq: " + e.getMessage());
        }
        address(message, HeaderNames.FROM);
        address(message, HeaderNames.TO);
        if (message.headers().get(HeaderNames.MAX_FORWARDS) != null) {
            message.maxForwards();
        }
        List<NameAddress> contacts;
        try {
            contacts = message.contacts();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("malformed Contact: " + e.getMessage());
        }
        boolean register = message instanceof SipRequest r && r.isMethod(SipRequest.REGISTER);
        for (NameAddress parsed : contacts) {
            if (parsed.isWildcard() && !register) {
                // RFC 3261 §10.2.2 and §20.10: "*" is a REGISTER's way to remove every binding, no address
                throw new IllegalArgumentException("malformed Contact: '*' is allowed only in a REGISTER");
            }
            String expires = parsed.param("expires");
            if (expires != null) {
                HeaderText.parseBounded(expires, MAX_DELTA_SECONDS, "Contact expires");
            }
        }
        for (String name : new String[]{HeaderNames.ROUTE, HeaderNames.RECORD_ROUTE}) {
            for (String route : message.headerValues(name)) {
                // RFC 3261 §20.30 and §20.34: route-param = name-addr; "*" is a Contact's alone (§10.2.2)
                if (NameAddress.parse(route).isWildcard()) {
                    throw new IllegalArgumentException("malformed " + name + ": '*' is not an address");
                }
            }
        }
        // RFC 3261 §20.19 and §20.22: one value each, and no rule for which of two would count
        for (String single : new String[]{HeaderNames.EXPIRES, HeaderNames.MAX_FORWARDS}) {
            if (message.headers().fields(single).size() > 1) {
                throw new IllegalArgumentException("more than one " + single);
            }
        }
        String expires = message.headers().get(HeaderNames.EXPIRES);
        if (expires != null) {
            HeaderText.parseBounded(expires, MAX_DELTA_SECONDS, "Expires");
        }
        String date = message.headers().get(HeaderNames.DATE);
        if (date != null && !date.trim().endsWith(" GMT")) {
            // RFC 3261 §20.17: SIP-date is rfc1123-date, which is always GMT
            throw new IllegalArgumentException("Date must be in GMT");
        }
        String retryAfter = message.headers().get(HeaderNames.RETRY_AFTER);
        if (retryAfter != null) {
            String delta = retryAfter.trim();
            int stop = 0;
            while (stop < delta.length() && Character.isDigit(delta.charAt(stop))) {
                stop++;
            }
            HeaderText.parseBounded(delta.substring(0, stop), MAX_DELTA_SECONDS, "Retry-After");
        }
        for (String warning : message.headerValues(HeaderNames.WARNING)) {
            String code = warning.trim();
            int space = code.indexOf(' ');
            if (space != 3 || !code.substring(0, 3).chars().allMatch(Character::isDigit)) {
                throw new IllegalArgumentException("Warning code must be three digits");
            }
        }
        if (message instanceof SipRequest request) {
            // RFC 3261 §8.1.1.5: the CSeq method matches the request's method
            if (!cseq.method().equals(request.method())) {
                throw new IllegalArgumentException("CSeq method " + cseq.method() + " does not match " + request.method());
            }
        }
        String contentType = message.headers().get(HeaderNames.CONTENT_TYPE);
        if (contentType != null && contentType.toLowerCase(Locale.ROOT).indexOf('/') < 0) {
            throw new IllegalArgumentException("malformed Content-Type");
        }
    }

    private static void address(SipMessage message, String name) {
        try {
            NameAddress address = name.equals(HeaderNames.FROM) ? message.from() : message.to();
            if (address.isWildcard()) {
                throw new IllegalArgumentException("'*' is not an address");
            }
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("malformed " + name + ": " + e.getMessage());
        }
    }

    private static String abbreviate(String text) {
        return text.length() <= 60 ? text : text.substring(0, 57) + "...";
    }

    private static final class VersionException extends Exception {
        VersionException(String message) {
            super(message, null, false, false);
        }
    }
}
