package io.switchboard.monitor.notify;

import io.switchboard.monitor.check.FailureText;
import io.switchboard.monitor.definition.DurationText;
import java.io.EOFException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;
import javax.net.ssl.SSLException;

/**
 * Why a notification could not be handed over, in words for the people who read the delivery log,
 * like checks' failures ({@link FailureText}): "connection refused: nothing listens at
 * hooks.example.org port 443", "timed out after 10 s waiting for smtp.example.org port 587 to
 * answer", "TLS: its certificate has expired".
 *
 * <p>HTTP and mail clients wrap the exception that tells what happened (Java's HTTP client
 * reports a refused connection as a {@code ConnectException} without a message around a
 * {@code ClosedChannelException}, and an unknown name around an {@code UnresolvedAddressException};
 * Angus Mail wraps the socket's exception in {@code MailConnectException} or a bare
 * {@code MessagingException}), so every cause is looked at, the most telling kind first.
 */
final class DeliveryFailureText {
    private DeliveryFailureText() {
    }

    /**
     * What went wrong talking to {@code host} on {@code port}, given the client's timeout. Only
     * channels with a {@code caFile} setting (e-mail) are told they can trust a private authority.
     */
    static String network(Throwable e, String host, int port, Duration timeout, boolean hasCaFile) {
        String text = network(e, host, port, timeout);
        return hasCaFile ? text : text.replace("; caFile can add a private one", "");
    }

    static String network(Throwable e, String host, int port, Duration timeout) {
        String where = host + " port " + port;
        String after = DurationText.spoken(timeout);
        List<Throwable> causes = causes(e);
        if (any(causes, t -> t instanceof UnknownHostException || t instanceof UnresolvedAddressException)) {
            return "the name " + host + " could not be found (DNS gave no address)";
        }
        for (Throwable t : causes) {
            if (t instanceof SSLException) {
                if (message(t).contains("terminated the handshake")) {
                    return "TLS: " + where + " closed the connection during the handshake (does it speak TLS on that port?)";
                }
                return "TLS: " + FailureText.tlsReason(t);
            }
        }
        if (any(causes, t -> t instanceof HttpConnectTimeoutException
                || t instanceof SocketTimeoutException && message(t).contains("connect")
                || t instanceof ConnectException && message(t).contains("timed out"))) {
            return "timed out after " + after + " connecting to " + where + " (no answer at all)";
        }
        if (any(causes, t -> t instanceof NoRouteToHostException)) {
            return host + " cannot be reached from here (no route to the host)";
        }
        if (any(causes, t -> t instanceof ConnectException)) {
            return "connection refused: nothing listens at " + where;
        }
        if (any(causes, t -> t instanceof HttpTimeoutException || t instanceof SocketTimeoutException
                || t instanceof InterruptedIOException)) {
            return "timed out after " + after + " waiting for " + where + " to answer";
        }
        if (any(causes, t -> message(t).contains("connection reset"))) {
            return where + " reset the connection";
        }
        if (any(causes, t -> t instanceof EOFException || message(t).contains("received no bytes")
                || message(t).contains("end of stream"))) {
            return where + " closed the connection without answering";
        }
        Throwable telling = causes.getLast();
        for (Throwable t : causes) {
            if (t.getMessage() != null) {
                telling = t;
            }
        }
        return "talking to " + where + " failed: " + telling.getClass().getSimpleName()
                + (telling.getMessage() == null ? "" : ": " + firstLine(telling.getMessage()));
    }

    static String firstLine(String text) {
        if (text == null) {
            return "no reason given";
        }
        int nl = text.indexOf('\n');
        return (nl < 0 ? text : text.substring(0, nl)).strip();
    }

    private static List<Throwable> causes(Throwable e) {
        List<Throwable> causes = new ArrayList<>();
        for (Throwable t = e; t != null && !causes.contains(t) && causes.size() < 20; t = t.getCause()) {
            causes.add(t);
        }
        return causes;
    }

    private static boolean any(List<Throwable> causes, Predicate<Throwable> test) {
        return causes.stream().anyMatch(test);
    }

    private static String message(Throwable t) {
        return t.getMessage() == null ? "" : t.getMessage().toLowerCase(Locale.ROOT);
    }
}
