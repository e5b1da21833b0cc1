package io.switchboard.monitor.check;

import io.switchboard.monitor.definition.DurationText;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.PortUnreachableException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.security.cert.CertificateException;
import java.time.Duration;
import java.util.Locale;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;

/**
 * Network failures in words for people: what did not happen, and where. Checks use all of it;
 * notifiers ({@code DeliveryFailureText}) the words for TLS trouble.
 */
public final class FailureText {
    private FailureText() {
    }

    /**
     * A refused connection still shows something works: the host is up and its network answers,
     * only the service on that port is not there. Adds that to the steps that worked.
     */
    static void noteReachable(Throwable e, String host, java.util.List<String> worked) {
        if (e instanceof ConnectException && (e.getMessage() == null
                || !e.getMessage().toLowerCase(Locale.ROOT).contains("timed out"))) {
            worked.add("the host " + host + " is reachable (it answered, refusing the connection)");
        }
    }

    /** Why a TLS handshake failed, in words: mostly certificate trouble. */
    public static String tlsReason(Throwable e) {
        boolean certificate = false;
        boolean expired = false;
        boolean name = false;
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String m = t.getMessage() == null ? "" : t.getMessage().toLowerCase(Locale.ROOT);
            if (t instanceof CertificateException || t instanceof java.security.cert.CertPathBuilderException
                    || t instanceof java.security.cert.CertPathValidatorException || m.contains("pkix")
                    || m.contains("certification path")) {
                certificate = true;
            }
            if (t instanceof java.security.cert.CertificateExpiredException || m.contains("expired")) {
                expired = true;
            }
            if (m.contains("no subject alternative") || m.contains("doesn't match") || m.contains("no name matching")) {
                name = true;
            }
        }
        if (expired) {
            return "its certificate has expired";
        }
        if (name) {
            return "its certificate is for another name";
        }
        if (certificate) {
            return "its certificate is not trusted (no authority this node trusts signed it; caFile can add a private one)";
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    static String of(Throwable e, String host, int port, Duration timeout) {
        String where = host + (port > 0 ? " port " + port : "");
        String message = e.getMessage() == null ? "" : e.getMessage();
        String lower = message.toLowerCase(Locale.ROOT);
        if (e instanceof UnknownHostException) {
            return "the name " + host + " could not be found (DNS gave no address)";
        }
        if (e instanceof ConnectException && lower.contains("timed out")
                || e instanceof SocketTimeoutException && lower.contains("connect")) {
            return "could not connect to " + where + " within " + DurationText.spoken(timeout) + " (no answer at all)";
        }
        if (e instanceof ConnectException) {
            return "nothing accepted the connection on " + where + " (connection refused: no service listens there)";
        }
        if (e instanceof NoRouteToHostException) {
            return host + " cannot be reached from here (no route to the host)";
        }
        if (e instanceof PortUnreachableException) {
            return "nothing listens on " + where + " (the host said the port is closed)";
        }
        if (e instanceof SSLHandshakeException || e instanceof SSLException) {
            return "the secure connection (TLS) to " + where + " failed: " + tlsReason(e);
        }
        if (e instanceof SocketTimeoutException || e instanceof InterruptedIOException) {
            return "no answer from " + where + " within " + DurationText.spoken(timeout);
        }
        if (lower.contains("connection reset")) {
            return where + " closed the connection abruptly (connection reset)";
        }
        if (lower.contains("unexpected end of stream") || lower.contains("end of stream")) {
            return where + " closed the connection without answering";
        }
        return "the check failed talking to " + where + ": " + (message.isEmpty() ? e.getClass().getSimpleName() : message);
    }
}
