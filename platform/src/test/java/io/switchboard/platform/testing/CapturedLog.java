package io.switchboard.platform.testing;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import org.slf4j.LoggerFactory;

/**
 * What one class logs during a test, at INFO and above (the tests' root logger is at WARN, and
 * many lines an operator reads are INFO). Close it to detach and give the logger its level back.
 */
public final class CapturedLog implements AutoCloseable {
    private final Logger logger;
    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();
    /** Restored on close: the root logger must keep a level, and others may have had one set. */
    private final Level levelBefore;

    private CapturedLog(Logger logger) {
        this.logger = logger;
        this.levelBefore = logger.getLevel();
        appender.start();
        logger.addAppender(appender);
        logger.setLevel(Level.INFO);
    }

    /** Starts capturing what {@code source}'s logger writes. */
    public static CapturedLog of(Class<?> source) {
        return new CapturedLog((Logger) LoggerFactory.getLogger(source));
    }

    /** Starts capturing what the logger named {@code name} writes. */
    public static CapturedLog of(String name) {
        return new CapturedLog((Logger) LoggerFactory.getLogger(name));
    }

    /** The logger captured, for code that is given one. */
    public org.slf4j.Logger logger() {
        return logger;
    }

    /** Each line as {@code LEVEL message}, e.g. {@code WARN the store is not usable ...}. */
    public List<String> lines() {
        return events().stream().map(e -> e.getLevel() + " " + e.getFormattedMessage()).toList();
    }

    /** Each line's message alone. */
    public List<String> messages() {
        return events().stream().map(ILoggingEvent::getFormattedMessage).toList();
    }

    /** The lines at {@code level}, messages alone. */
    public List<String> messagesAt(Level level) {
        return events().stream().filter(e -> e.getLevel() == level).map(ILoggingEvent::getFormattedMessage).toList();
    }

    /** Forgets what was captured so far. */
    public void clear() {
        synchronized (appender) {
            appender.list.clear();
        }
    }

    /** AppenderBase.doAppend holds the appender's lock while it adds: read under the same lock. */
    private List<ILoggingEvent> events() {
        synchronized (appender) {
            return List.copyOf(appender.list);
        }
    }

    @Override
    public void close() {
        logger.detachAppender(appender);
        logger.setLevel(levelBefore);
    }
}
