package io.switchboard.monitor.notify;

/**
 * A delivery that failed. Retryable failures (no connection, a timeout, 429, 5xx) are tried again
 * with backoff; the others (a refused token, an unknown chat, a 4xx) would fail the same way again.
 */
public final class DeliveryException extends Exception {
    private final boolean retryable;

    public DeliveryException(String message, boolean retryable) {
        super(message, null, false, false);
        this.retryable = retryable;
    }

    public boolean retryable() {
        return retryable;
    }

    /** RFC 9110 §15: 408, 425, 429 and 5xx may succeed later; other 4xx will not. */
    static boolean retryableStatus(int status) {
        return status == 408 || status == 425 || status == 429 || status >= 500;
    }
}
