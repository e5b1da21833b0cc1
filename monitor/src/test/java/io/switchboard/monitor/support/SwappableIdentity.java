package io.switchboard.monitor.support;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * A server-side SSL context whose certificate can be replaced while it serves: the same port
 * presents the new certificate from the next full handshake on, as after a renewal.
 */
public final class SwappableIdentity extends X509ExtendedKeyManager {
    private static final String ALIAS = "server";
    private final AtomicReference<TestCertificates.Identity> current;
    private final SSLContext context;

    public SwappableIdentity(TestCertificates.Identity first) throws GeneralSecurityException {
        current = new AtomicReference<>(first);
        context = SSLContext.getInstance("TLS");
        context.init(new javax.net.ssl.KeyManager[]{this}, null, null);
    }

    public SSLContext context() {
        return context;
    }

    public void swap(TestCertificates.Identity next) {
        current.set(next);
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
        return null;
    }

    @Override
    public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
        return null;
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
        return new String[]{ALIAS};
    }

    @Override
    public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
        return keyType.startsWith("EC") ? ALIAS : null;
    }

    @Override
    public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
        return keyType.startsWith("EC") ? ALIAS : null;
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
        return current.get().chain().toArray(new X509Certificate[0]);
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
        return current.get().key();
    }
}
