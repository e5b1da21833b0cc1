package io.switchboard.platform.tls;

/**
 * Why a certificate, key or CA file cannot be used, in words for the operator, with the config
 * key of the file at fault ({@code tls.certificate}, {@code tls.key}, {@code tls.clientCa}).
 */
public final class CertificateProblem extends Exception {
    private final String key;

    CertificateProblem(String key, String message) {
        super(message);
        this.key = key;
    }

    CertificateProblem(String key, String message, Throwable cause) {
        super(message, cause);
        this.key = key;
    }

    /** The config key of the file at fault. */
    public String key() {
        return key;
    }
}
