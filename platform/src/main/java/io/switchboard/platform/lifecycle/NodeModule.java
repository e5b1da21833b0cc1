package io.switchboard.platform.lifecycle;

/**
 * A feature module as the node sees it (telephony, chat, rooms, monitor). The server's wiring
 * lists the modules; the node migrates and assembles them in that order:
 *
 * <ol>
 *   <li>store opened, platform migrations run;</li>
 *   <li>each module's migrations ({@code classpath:db/migration/<name>}) run, if it has any;</li>
 *   <li>each module's {@link #assemble(NodeContext)}: build its services, add routes, readiness
 *       checks, meters and components;</li>
 *   <li>the modules' components start, then HTTP, then listeners (sockets that take outside work).</li>
 * </ol>
 *
 * Modules never reference each other; what they share goes through the context or the bus.
 */
public interface NodeModule {
    /**
     * The module's name: its config section ({@code telephony:} in YAML,
     * {@code SWITCHBOARD_TELEPHONY_*}), its migration folder and its log label.
     * Lower case letters and digits.
     */
    String name();

    /**
     * Checks the module's config block before the node touches anything (data directory, store,
     * ports), so a typo stops the node at once with one line naming the key. Throws
     * {@link io.switchboard.platform.config.ConfigException}; {@code assemble} reads the same block
     * again and may rely on it being valid.
     */
    default void checkConfig(io.switchboard.platform.config.ConfigSection section) {
    }

    /** Whether {@code classpath:db/migration/<name>} holds migrations the node should run. */
    default boolean hasMigrations() {
        return true;
    }

    /** Builds the module on a migrated store and registers what it contributes. */
    void assemble(NodeContext context) throws Exception;
}
