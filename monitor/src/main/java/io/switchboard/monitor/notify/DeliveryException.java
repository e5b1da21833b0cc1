package io.switchboard.monitor.notify;

/**
 * A delivery that failed. Retryable failures (no connection, a timeout, 429, 5xx) are tried again
 * with backoff; the others (a refused token, an unknown chat, a 4xx) would fail the same way again.
 */
public final class DeliveryException extends Exception {
    private final boolean retryable;
    private final boolean refused;

    /** A failure after which the channel may have the message (a timeout, a connection that broke mid-way). */
    public DeliveryException(String message, boolean retryable) {
        this(message, retryable, false);
    }

    private DeliveryException(String message, boolean retryable, boolean refused) {
        super(message, null, false, false);
        this.retryable = retryable;
        this.refused = refused;
    }

    /**
     * A failure after which the channel does not have the message as far as can be told: it
     * answered and did not take it (an HTTP status, an API's error), or no connection was ever
     * made. A node that stops after such attempts gives the message back to be sent again. (A
     * gateway's 502 or 504 may come after the service behind it took the message; a webhook's
     * Idempotency-Key lets the receiver drop the copy, as with any retry.)
     */
    public static DeliveryException refused(String message, boolean retryable) {
        return new DeliveryException(message, retryable, true);
    }

    public boolean retryable() {
        return retryable;
    }

    /** See {@link #refused(String, boolean)}. */
    public boolean refused() {
        return refused;
    }

    /**
     * An HTTP exchange that failed on the network ({@code why} in words): retried, and refused when
     * the request can never have left (no connection made, or its TLS handshake failed), else one
     * that may have arrived.
     */
    static DeliveryException network(String why, java.io.IOException e) {
        boolean neverSent = false;
        for (Throwable t = e; t != null && !neverSent; t = t.getCause() == t ? null : t.getCause()) {
            neverSent = t instanceof java.net.ConnectException || t instanceof java.net.http.HttpConnectTimeoutException
                    || t instanceof javax.net.ssl.SSLHandshakeException;
        }
        return neverSent ? refused(why, true) : new DeliveryException(why, true);
    }

    /** RFC 9110 §15: 408, 425, 429 and 5xx may succeed later; other 4xx will not. */
    static boolean retryableStatus(int status) {
        return status == 408 || status == 425 || status == 429 || status >= 500;
    }
}
