package io.switchboard.platform;

/** The innermost cause of a failure, which is what an operator can act on in a one-line message. */
public final class RootCause {
    private RootCause() {
    }

    /** The message of the innermost cause, or its class name when it has none. */
    public static String message(Throwable e) {
        Throwable t = e;
        String nearest = ownWords(e);
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
            if (ownWords(t) != null) {
                nearest = ownWords(t);
            }
        }
        if (t.getMessage() != null) {
            return t.getMessage();
        }
        // a root without words (an EOFException when a connection is lost mid-statement) means what
        // its nearest wrapper says: "An I/O error occurred while sending to the backend. (EOFException)"
        String kind = t.getClass().getSimpleName();
        return nearest == null ? kind : nearest + " (" + kind + ")";
    }

    /** A throwable's message, unless it is only its cause's text (what {@code new X(cause)} gives it). */
    private static String ownWords(Throwable t) {
        String message = t.getMessage();
        return message != null && t.getCause() != null && String.valueOf(t.getCause()).equals(message) ? null : message;
    }

    /**
     * Why a file operation failed, in the system's words: "permission denied" (an
     * AccessDeniedException's message is the path alone), "Not a directory", "Read-only file
     * system", ...; else the message.
     */
    public static String fileProblem(java.io.IOException e) {
        if (e instanceof java.nio.file.AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof java.nio.file.FileSystemException fs && fs.getReason() != null) {
            return fs.getReason();
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }
}
