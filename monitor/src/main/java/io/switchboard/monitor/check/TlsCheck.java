package io.switchboard.monitor.check;

import io.switchboard.monitor.definition.CheckOptions;
import io.switchboard.monitor.definition.DurationText;
import io.switchboard.monitor.definition.MonitorDefinition;
import io.switchboard.monitor.definition.Targets;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * TLS check: a handshake with the target that accepts whatever certificate it is shown, so the
 * check can then say exactly what is wrong with it instead of only "handshake failed": the chain
 * validated against the trusted authorities (and {@code caFile}), the host name matched (RFC 6125),
 * and the days left until the leaf expires compared with the warning and critical thresholds.
 * Nothing but the handshake is sent.
 */
public final class TlsCheck implements Check {
    private final CertificateTrust trust;
    private final Clock clock;
    private final SSLContext inspecting;

    public TlsCheck(CertificateTrust trust, Clock clock) {
        this.trust = trust;
        this.clock = clock;
        try {
            inspecting = SSLContext.getInstance("TLS");
            inspecting.init(null, new javax.net.ssl.TrustManager[]{new AcceptAndInspect()}, null);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("TLS is not available in this JVM", e);
        }
    }

    @Override
    public CheckResult run(MonitorDefinition monitor) {
        CheckOptions.Tls options = (CheckOptions.Tls) monitor.options();
        Targets.HostAndPort target = Targets.hostAndPort(monitor.target(), 443);
        int port = target.port() < 0 ? 443 : target.port();
        String expectedName = options.serverName() != null ? options.serverName() : target.host();
        Instant startedAt = clock.instant();
        long begin = System.nanoTime();
        long deadline = begin + monitor.timeout().toNanos();
        List<String> worked = new ArrayList<>();
        Map<String, Object> details = new LinkedHashMap<>();
        List<X509Certificate> chain = new ArrayList<>();
        try {
            InetAddress address = InetAddress.getByName(target.host());
            if (!address.getHostAddress().equals(target.host())) {
                worked.add("the name " + target.host() + " resolved to " + address.getHostAddress());
            }
            try (Socket plain = new Socket()) {
                plain.connect(new InetSocketAddress(address, port), remainingMillis(deadline));
                worked.add("port " + port + " accepted the connection");
                plain.setSoTimeout(remainingMillis(deadline));
                try (SSLSocket tls = (SSLSocket) inspecting.getSocketFactory().createSocket(plain, target.host(), port, false)) {
                    SSLParameters parameters = tls.getSSLParameters();
                    if (!Targets.isIpLiteral(expectedName)) { // RFC 6066 §3: no IP literals in SNI
                        parameters.setServerNames(List.of(new SNIHostName(expectedName)));
                    }
                    tls.setSSLParameters(parameters);
                    tls.startHandshake();
                    SSLSession session = tls.getSession();
                    for (Certificate c : session.getPeerCertificates()) {
                        chain.add((X509Certificate) c);
                    }
                    details.put("protocol", session.getProtocol());
                    details.put("cipher", session.getCipherSuite());
                    // Never resume this session: a resumed handshake (RFC 8446 §2.2, RFC 5246 §7.3) shows no
                    // certificate, and the JDK then reports the chain the session was made with. After a
                    // renewal the next check would still see the old certificate until the session expired.
                    session.invalidate();
                    worked.add("the TLS handshake completed (" + session.getProtocol() + ")");
                }
            }
        } catch (IOException e) {
            FailureText.noteReachable(e, target.host(), worked);
            String error = e instanceof java.net.SocketTimeoutException && !worked.isEmpty()
                    ? "the TLS handshake with " + target + " did not finish within " + DurationText.spoken(monitor.timeout())
                    : FailureText.of(e, target.host(), port, monitor.timeout());
            return CheckResult.down(startedAt, elapsed(begin), error, worked, details);
        }
        long latency = elapsed(begin);
        if (chain.isEmpty()) {
            return CheckResult.down(startedAt, latency, "the server sent no certificate", worked, details);
        }
        X509Certificate leaf = chain.getFirst();
        Instant now = clock.instant();
        Instant notAfter = leaf.getNotAfter().toInstant();
        // whole days, toward zero: 10.9 days left is 10, expired 2.1 days ago is -2 ("2 days ago")
        long daysLeft = Duration.between(now, notAfter).toSeconds() / 86_400L;
        details.put("subject", leaf.getSubjectX500Principal().getName());
        details.put("issuer", leaf.getIssuerX500Principal().getName());
        details.put("names", CertificateTrust.names(leaf));
        details.put("notBefore", leaf.getNotBefore().toInstant().toString());
        details.put("notAfter", notAfter.toString());
        details.put("daysLeft", daysLeft);
        details.put("chainLength", chain.size());

        List<String> problems = new ArrayList<>();
        if (now.isAfter(notAfter)) {
            long daysAgo = -daysLeft;
            String ago = daysAgo == 0 ? "less than a day ago" : daysAgo == 1 ? "1 day ago" : daysAgo + " days ago";
            problems.add("the certificate expired on " + notAfter + " (" + ago + ")");
        } else if (now.isBefore(leaf.getNotBefore().toInstant())) {
            problems.add("the certificate is not valid before " + leaf.getNotBefore().toInstant());
        }
        Optional<String> chainProblem;
        try {
            chainProblem = trust.chainProblem(chain, options.caFile());
        } catch (IOException | GeneralSecurityException e) {
            chainProblem = Optional.of("the chain could not be checked: " + e.getMessage());
        }
        details.put("chainValid", chainProblem.isEmpty());
        chainProblem.ifPresent(problems::add);
        boolean nameMatches = CertificateTrust.matchesHost(leaf, expectedName);
        details.put("hostnameMatches", nameMatches);
        if (!nameMatches) {
            problems.add("the certificate is for " + String.join(", ", CertificateTrust.names(leaf)) + ", not for " + expectedName);
        }
        if (chainProblem.isEmpty()) {
            worked.add("the certificate chain is trusted");
        }
        if (nameMatches) {
            worked.add("the certificate names " + expectedName);
        }
        String left = timeLeft(Duration.between(now, notAfter));
        if (problems.isEmpty() && daysLeft <= options.criticalDays()) {
            problems.add("the certificate expires in " + left + " (on " + notAfter
                    + "), within the critical " + options.criticalDays() + " days");
        }
        if (!problems.isEmpty()) {
            return CheckResult.down(startedAt, latency, String.join("; ", problems), worked, details);
        }
        worked.add("the certificate is valid for " + left + " more");
        if (daysLeft <= options.warnDays()) {
            details.put(CheckResult.WARNING, "certificate-expiry");
            return new CheckResult(CheckStatus.DEGRADED, startedAt, latency, "the certificate expires in " + left
                    + " (on " + notAfter + "); renew it before " + options.criticalDays() + " days are left", worked, details);
        }
        if (monitor.degradedAbove() != null && latency > monitor.degradedAbove().toMillis()) {
            return new CheckResult(CheckStatus.DEGRADED, startedAt, latency, "the handshake took " + latency
                    + " ms, slower than the " + DurationText.spoken(monitor.degradedAbove()) + " threshold", worked, details);
        }
        return new CheckResult(CheckStatus.UP, startedAt, latency, null, worked, details);
    }

    private static int remainingMillis(long deadline) throws java.net.SocketTimeoutException {
        long ms = (deadline - System.nanoTime()) / 1_000_000;
        if (ms <= 0) {
            throw new java.net.SocketTimeoutException("timed out");
        }
        return (int) Math.min(Integer.MAX_VALUE, ms);
    }

    private static long elapsed(long begin) {
        return (System.nanoTime() - begin) / 1_000_000;
    }

    /** Trusts every chain during the handshake; {@link TlsCheck#run} judges it afterwards. Never used to send data. */
    private static final class AcceptAndInspect extends X509ExtendedTrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }

    /**
     * How long a certificate has left, in words a person reads right: whole days (toward zero, as
     * {@code daysLeft}) from two days on, hours below that, where "0 days" would read as expired.
     */
    static String timeLeft(Duration left) {
        long days = left.toDays();
        if (days >= 2) {
            return days + " days";
        }
        long hours = left.toHours();
        return hours >= 2 ? hours + " hours" : hours == 1 ? "1 hour" : "less than an hour";
    }
}
