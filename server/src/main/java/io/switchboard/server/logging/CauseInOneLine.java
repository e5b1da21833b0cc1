package io.switchboard.server.logging;

import ch.qos.logback.classic.pattern.ThrowableHandlingConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;

/**
 * {@code %cause}: a logged exception as one bracketed line, its own and its root cause's class and
 * message, instead of a stack trace. For libraries that log an expected outage (a pooled
 * connection to a database that went away, a broker that closed the socket) with a stack trace
 * each: twenty lines per connection buried the one line that said what happened.
 */
public final class CauseInOneLine extends ThrowableHandlingConverter {
    @Override
    public String convert(ILoggingEvent event) {
        IThrowableProxy thrown = event.getThrowableProxy();
        if (thrown == null) {
            return "";
        }
        IThrowableProxy root = thrown;
        for (int depth = 0; root.getCause() != null && depth < 32; depth++) {
            root = root.getCause();
        }
        StringBuilder line = new StringBuilder(" [").append(describe(thrown));
        if (root != thrown) {
            line.append("; cause: ").append(describe(root));
        }
        return line.append(']').toString();
    }

    private static String describe(IThrowableProxy t) {
        String name = t.getClassName();
        String simple = name.substring(name.lastIndexOf('.') + 1);
        String message = t.getMessage() == null ? "" : t.getMessage().replace('\n', ' ').replace('\r', ' ');
        return message.isEmpty() ? simple : simple + ": " + message;
    }
}
