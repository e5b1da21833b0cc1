package io.switchboard.platform;

/** The innermost cause of a failure, which is what an operator can act on in a one-line message. */
public final class RootCause {
    private RootCause() {
    }

    /** The message of the innermost cause, or its class name when it has none. */
    public static String message(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    }
}
