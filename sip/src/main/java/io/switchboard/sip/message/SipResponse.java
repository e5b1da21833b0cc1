package io.switchboard.sip.message;

/** A SIP response (RFC 3261 §7.2). */
public final class SipResponse extends SipMessage {
    private final int status;
    private final String reason;

    public SipResponse(int status, String reason, SipHeaders headers, byte[] body) {
        super(headers, body);
        this.status = status;
        this.reason = reason == null ? null : printable(reason);
    }

    /**
     * RFC 3261 §25.1: Reason-Phrase holds no control characters but HTAB. Reasons often quote what
     * a peer sent ("Bad Request - " + what was wrong); a CR or LF there would end the status line.
     */
    private static String printable(String reason) {
        for (int i = 0; i < reason.length(); i++) {
            char c = reason.charAt(i);
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                StringBuilder clean = new StringBuilder(reason);
                for (int j = i; j < clean.length(); j++) {
                    char d = clean.charAt(j);
                    if ((d < 0x20 && d != '\t') || d == 0x7f) {
                        clean.setCharAt(j, ' ');
                    }
                }
                return clean.toString();
            }
        }
        return reason;
    }

    /**
     * A response to a request with the headers RFC 3261 §8.2.6.2 requires copied: every Via in order,
     * From, To, Call-ID and CSeq. The caller adds a To tag where the response creates a dialog or is final.
     */
    public static SipResponse to(SipRequest request, int status, String reason) {
        SipHeaders headers = new SipHeaders(12);
        for (String via : request.headers().fields(HeaderNames.VIA)) {
            headers.add(HeaderNames.VIA, via);
        }
        copy(request, headers, HeaderNames.FROM);
        copy(request, headers, HeaderNames.TO);
        copy(request, headers, HeaderNames.CALL_ID);
        copy(request, headers, HeaderNames.CSEQ);
        SipResponse response = new SipResponse(status, reason == null ? StatusCodes.reason(status) : reason, headers, null);
        response.inheritParsed(request);
        return response;
    }

    private static void copy(SipRequest request, SipHeaders into, String name) {
        String value = request.headers().get(name);
        if (value != null) {
            into.add(name, value);
        }
    }

    public int status() {
        return status;
    }

    public String reason() {
        return reason;
    }

    public boolean isProvisional() {
        return status < 200;
    }

    public boolean isSuccess() {
        return status >= 200 && status < 300;
    }

    /** Adds a tag to To when it has none (RFC 3261 §8.2.6.2). */
    public SipResponse withToTag(String tag) {
        NameAddress to = to();
        if (to != null && to.tag() == null) {
            // Appending keeps the header as the peer wrote it; in both name-addr and addr-spec form a
            // trailing ";tag=" is a header parameter (RFC 3261 §20.10)
            replaceTo(to.withParam("tag", tag), headers.get(HeaderNames.TO) + ";tag=" + tag);
        }
        return this;
    }

    @Override
    public String startLine() {
        return "SIP/2.0 " + status + " " + reason;
    }
}
