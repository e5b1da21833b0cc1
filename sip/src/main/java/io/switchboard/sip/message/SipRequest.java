package io.switchboard.sip.message;

/** A SIP request (RFC 3261 §7.1). */
public final class SipRequest extends SipMessage {
    public static final String INVITE = "INVITE";
    public static final String ACK = "ACK";
    public static final String BYE = "BYE";
    public static final String CANCEL = "CANCEL";
    public static final String OPTIONS = "OPTIONS";
    public static final String REGISTER = "REGISTER";
    public static final String PRACK = "PRACK";
    public static final String UPDATE = "UPDATE";
    public static final String INFO = "INFO";
    public static final String MESSAGE = "MESSAGE";
    public static final String SUBSCRIBE = "SUBSCRIBE";
    public static final String NOTIFY = "NOTIFY";
    public static final String REFER = "REFER";

    private final String method;
    private SipUri requestUri;

    public SipRequest(String method, SipUri requestUri, SipHeaders headers, byte[] body) {
        super(headers, body);
        this.method = method;
        this.requestUri = requestUri;
    }

    public SipRequest(String method, SipUri requestUri) {
        this(method, requestUri, new SipHeaders(), null);
    }

    public String method() {
        return method;
    }

    public boolean isMethod(String name) {
        return method.equals(name);
    }

    public SipUri requestUri() {
        return requestUri;
    }

    public void setRequestUri(SipUri uri) {
        this.requestUri = uri;
    }

    /** A deep copy, for a proxy that forwards one request to several targets (RFC 3261 §16.6 step 1). */
    public SipRequest copy() {
        return new SipRequest(method, requestUri, headers.copy(), body());
    }

    @Override
    public String startLine() {
        return method + " " + requestUri + " SIP/2.0";
    }
}
