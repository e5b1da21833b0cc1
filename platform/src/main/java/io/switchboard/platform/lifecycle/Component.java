package io.switchboard.platform.lifecycle;

/**
 * Something the node starts and stops: the store, a module's workers, the HTTP server, a SIP
 * listener. {@link Node} starts components in order and stops them in reverse.
 */
public interface Component {
    /** A short name for logs, e.g. {@code http} or {@code sip udp:0.0.0.0:5060}. */
    String name();

    /** Starts and returns once the component is ready to serve; throws if it cannot. */
    void start() throws Exception;

    /**
     * Finishes in-flight work and releases resources. The node bounds how long it waits; a
     * component should return promptly once new work is refused and current work is done.
     */
    void stop() throws Exception;

    /** A component from two actions, for small pieces that need no class of their own. */
    static Component of(String name, ThrowingAction start, ThrowingAction stop) {
        return new Component() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public void start() throws Exception {
                start.run();
            }

            @Override
            public void stop() throws Exception {
                stop.run();
            }
        };
    }

    @FunctionalInterface
    interface ThrowingAction {
        void run() throws Exception;
    }
}
