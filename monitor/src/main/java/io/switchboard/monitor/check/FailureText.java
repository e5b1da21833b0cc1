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

/** Network failures in words for people: what did not happen, and where. */
final class FailureText {
    private FailureText() {
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
            Throwable cause = e;
            while (cause.getCause() != null && cause.getCause() != cause) {
                cause = cause.getCause();
            }
            String reason = cause instanceof CertificateException ? "its certificate is not trusted" : message;
            return "the secure connection (TLS) to " + where + " failed: " + reason;
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
