package io.switchboard.server.process;

/**
 * Ends the process at once, with exit code 1, when the code it runs can no longer be loaded.
 *
 * <p>A {@link LinkageError} ({@code NoClassDefFoundError}, {@code ClassFormatError}, ...) means the
 * classes on disk no longer match the running program, typically because its jar was rewritten.
 * Such a process answers nothing yet would otherwise stay up, or even exit 0 through its shutdown
 * hooks; {@link Runtime#halt} skips those hooks, which would need classes of their own. Everything
 * this class runs when it halts comes from the JDK, whose classes cannot vanish, and the class is
 * loaded by {@link #install()} before anything could go wrong.
 */
public final class FatalErrors {
    public static final int EXIT_CODE = 1;

    private FatalErrors() {
    }

    /**
     * Makes every thread that dies of a {@link LinkageError} halt the process; other uncaught
     * exceptions are printed as the JVM prints them and end only their thread, as before.
     */
    public static void install() {
        Thread.setDefaultUncaughtExceptionHandler(FatalErrors::uncaught);
    }

    static void uncaught(Thread thread, Throwable error) {
        if (isLinkageFailure(error)) {
            halt("thread \"" + thread.getName() + "\" could not load the code it runs: " + error, error);
        }
        // What ThreadGroup.uncaughtException prints; calling it would call this handler again.
        System.err.print("Exception in thread \"" + thread.getName() + "\" ");
        error.printStackTrace(System.err);
    }

    /** Whether the error, or one of its causes, is a class that could not be loaded or linked. */
    public static boolean isLinkageFailure(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof LinkageError) {
                return true;
            }
        }
        return false;
    }

    /** Prints why on stderr and ends the process with exit code 1, without shutdown hooks. */
    public static void halt(String why, Throwable error) {
        try {
            System.err.print("switchboard: fatal: ");
            System.err.print(why);
            System.err.println("; stopping with exit code 1");
            if (error != null) {
                error.printStackTrace(System.err);
            }
            System.err.flush();
        } finally {
            Runtime.getRuntime().halt(EXIT_CODE);
        }
    }
}
