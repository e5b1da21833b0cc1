package io.switchboard.telephony.sip;

import io.netty.handler.ssl.OpenSslCertificateException;
import io.netty.internal.tcnative.CertificateVerifier;
import java.net.Socket;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.CertificateRevokedException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The {@code tls.clientCa} trust for BoringSSL, telling a refused peer why in the TLS alert.
 * Netty turns a trust manager's refusal it does not recognise into X509_V_ERR_UNSPECIFIED, which
 * BoringSSL answers with the alert {@code internal_error}: a door panel whose certificate another
 * CA signed logged that the node had failed, not that it distrusted the panel. Refusals about dates
 * or revocation pass as they are (Netty names them: {@code certificate_expired},
 * {@code certificate_revoked}); one for want of a path to a {@code tls.clientCa} is reported as an
 * unknown issuer, which BoringSSL answers with {@code unknown_ca} (RFC 8446 §6.2: "the CA
 * certificate could not be located or could not be matched with a known trust anchor"), as
 * OpenSSL's own verification does; any other (a key usage that does not allow client
 * authentication, a weak signature) as a rejected certificate, answered {@code bad_certificate}.
 * The JDK's engine (Ed25519 and Ed448 keys) answers {@code certificate_unknown} for all of these.
 */
final class ClientTrustAlerts extends X509ExtendedTrustManager {
    private final X509ExtendedTrustManager trust;

    private ClientTrustAlerts(X509ExtendedTrustManager trust) {
        this.trust = trust;
    }

    /** The factory's X.509 trust manager, wrapped. */
    static TrustManager of(TrustManagerFactory factory) {
        for (TrustManager manager : factory.getTrustManagers()) {
            if (manager instanceof X509ExtendedTrustManager x509) {
                return new ClientTrustAlerts(x509);
            }
        }
        throw new IllegalStateException("the client CA trust has no X.509 trust manager");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        refusalsNamed(() -> trust.checkClientTrusted(chain, authType, engine));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        refusalsNamed(() -> trust.checkClientTrusted(chain, authType, socket));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        refusalsNamed(() -> trust.checkClientTrusted(chain, authType));
    }

    /** A check of the wrapped trust manager. */
    private interface Check {
        void run() throws CertificateException;
    }

    /** Runs {@code check}, its refusal {@linkplain #named(CertificateException) named} for BoringSSL. */
    private static void refusalsNamed(Check check) throws CertificateException {
        try {
            check.run();
        } catch (CertificateException e) {
            throw named(e);
        }
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        trust.checkServerTrusted(chain, authType, engine);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        trust.checkServerTrusted(chain, authType, socket);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        trust.checkServerTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return trust.getAcceptedIssuers();
    }

    /** The refusal as Netty should pass it to BoringSSL: as it is when Netty names it, else an unknown issuer or a rejected certificate. */
    static CertificateException named(CertificateException refusal) {
        for (Throwable t = refusal; t != null; t = t.getCause()) {
            if (t instanceof CertificateExpiredException || t instanceof CertificateNotYetValidException
                    || t instanceof CertificateRevokedException || t instanceof OpenSslCertificateException) {
                return refusal;
            }
            if (t instanceof CertPathValidatorException path && (path.getReason() == CertPathValidatorException.BasicReason.EXPIRED
                    || path.getReason() == CertPathValidatorException.BasicReason.NOT_YET_VALID
                    || path.getReason() == CertPathValidatorException.BasicReason.REVOKED)) {
                return refusal;
            }
        }
        boolean noPath = false;
        for (Throwable t = refusal; t != null; t = t.getCause()) {
            // no path built to a trust anchor, or one validated to an issuer that only shares an anchor's name
            noPath |= t instanceof java.security.cert.CertPathBuilderException || t instanceof CertPathValidatorException path
                    && path.getReason() == java.security.cert.PKIXReason.NO_TRUST_ANCHOR;
        }
        OpenSslCertificateException named = new OpenSslCertificateException(refusal.getMessage(), noPath
                ? CertificateVerifier.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY : CertificateVerifier.X509_V_ERR_CERT_REJECTED);
        named.initCause(refusal);
        return named;
    }
}
