package io.switchboard.sip.message;

/** The CSeq header (RFC 3261 §20.16): a sequence number below 2^31 and the request method. */
public record CSeq(long number, String method) {
    public static final long MAX = (1L << 31) - 1;

    /** @throws IllegalArgumentException with a reason a person can read */
    public static CSeq parse(String value) {
        String text = value.trim();
        int space = -1;
        for (int i = 0; i < text.length(); i++) {
            if (HeaderText.isWhitespace(text.charAt(i))) {
                space = i;
                break;
            }
        }
        if (space < 0) {
            throw new IllegalArgumentException("CSeq has no method");
        }
        long number = HeaderText.parseBounded(text.substring(0, space), MAX, "CSeq number");
        String method = text.substring(space).trim();
        if (!HeaderText.isToken(method)) {
            throw new IllegalArgumentException("CSeq method is not a token");
        }
        return new CSeq(number, method);
    }

    @Override
    public String toString() {
        return number + " " + method;
    }
}
