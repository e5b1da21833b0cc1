package io.switchboard.sip.codec;

import io.switchboard.sip.message.HeaderNames;
import io.switchboard.sip.message.SipHeaders;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;

/**
 * A message that cannot be accepted. Carries the reason a person can read, the status to answer
 * with (0 when the message must be dropped silently, as for any malformed response) and, when the
 * message was a request whose routing headers were readable, enough of it to build that answer.
 */
public class SipParseException extends Exception {
    /**
     * The To tag of this process's refusals: random (RFC 3261 §19.3; 64 bits), and one per process
     * rather than per response so that a retransmitted request, answered without a transaction,
     * gets the same answer. A refusal makes no dialog, so the tag identifies none.
     */
    private static final String ERROR_TO_TAG = "sb" + Long.toHexString(new java.security.SecureRandom().nextLong());
    private final String reason;
    private final int responseStatus;
    private final transient SipHeaders rawHeaders;
    private final String method;

    public SipParseException(String reason, int responseStatus, SipHeaders rawHeaders, String method) {
        super(reason, null, false, false);
        this.reason = reason;
        this.responseStatus = responseStatus;
        this.rawHeaders = rawHeaders;
        this.method = method;
    }

    public String reason() {
        return reason;
    }

    /** 400, 505, 513, … or 0 when the message is dropped without an answer. */
    public int responseStatus() {
        return responseStatus;
    }

    /**
     * The error response for a malformed request (RFC 3261 §8.2, §16.3), with the reason in the
     * reason phrase, or null when none can be built: the message was a response, an ACK (never
     * answered, RFC 3261 §17.2.3), or lacked the Via, From, To, Call-ID or CSeq to address one.
     */
    public SipResponse errorResponse() {
        if (responseStatus == 0 || rawHeaders == null || SipRequest.ACK.equals(method)) {
            return null;
        }
        SipHeaders headers = new SipHeaders();
        for (String via : rawHeaders.fields(HeaderNames.VIA)) {
            headers.add(HeaderNames.VIA, via);
        }
        String[] required = {HeaderNames.FROM, HeaderNames.TO, HeaderNames.CALL_ID, HeaderNames.CSEQ};
        if (headers.size() == 0) {
            return null;
        }
        for (String name : required) {
            String value = rawHeaders.get(name);
            if (value == null || value.isBlank()) {
                return null;
            }
            headers.add(name, value);
        }
        String phrase = switch (responseStatus) {
            case 505 -> "Version Not Supported";
            case 513 -> "Message Too Large"; // RFC 3261 §21.5.7
            default -> "Bad Request - " + reason;
        };
        SipResponse response = new SipResponse(responseStatus, phrase.replace('\r', ' ').replace('\n', ' '), headers, null);
        try {
            // a UAS adds a To tag to its final responses (RFC 3261 §8.2.6.2), a refusal of its own too
            response.withToTag(ERROR_TO_TAG);
        } catch (RuntimeException unreadableTo) {
            // the To the request came with cannot be read (it may be what was refused): copied as it came
        }
        return response;
    }
}
