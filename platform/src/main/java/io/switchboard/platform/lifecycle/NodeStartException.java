package io.switchboard.platform.lifecycle;

/** The node could not start; the message names the step (store, a module, http, a listener) and the cause. */
public final class NodeStartException extends RuntimeException {
    public NodeStartException(String message, Throwable cause) {
        super(message, cause);
    }
}
