package io.switchboard.platform.bus;

/** A request on the bus that got no usable answer: its responder failed, the reply was unreadable, or no other node could be reached. */
public final class BusRequestException extends RuntimeException {
    public BusRequestException(String message) {
        super(message);
    }

    public BusRequestException(String message, Throwable cause) {
        super(message, cause);
    }
}
