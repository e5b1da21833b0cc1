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
