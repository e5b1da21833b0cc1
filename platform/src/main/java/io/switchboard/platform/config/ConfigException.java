package io.switchboard.platform.config;

/**
 * A configuration value that cannot be used. Carries the full key ({@code store.url},
 * {@code telephony.minExpires}, or an environment variable's name) and the problem in words,
 * so the CLI can print one line that tells the operator what to fix.
 */
public final class ConfigException extends RuntimeException {
    private final String key;
    private final String problem;

    public ConfigException(String key, String problem) {
        super(key + ": " + problem);
        this.key = key;
        this.problem = problem;
    }

    public ConfigException(String key, String problem, Throwable cause) {
        super(key + ": " + problem, cause);
        this.key = key;
        this.problem = problem;
    }

    public String key() {
        return key;
    }

    public String problem() {
        return problem;
    }
}
