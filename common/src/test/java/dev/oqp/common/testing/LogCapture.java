package dev.oqp.common.testing;

import java.util.ArrayList;
import java.util.List;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import dev.oqp.common.log.JsonLineLayout;
import dev.oqp.common.log.Logging;
import dev.oqp.common.log.TextLineLayout;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Captures every log line, at every level, in both layouts the binaries write (JSON and text), for tests
 * that check what never reaches a log. {@link #start()} sets the level to trace; {@link #close()} restores info.
 */
public final class LogCapture implements AutoCloseable {
    private final List<String> lines = new ArrayList<>();
    private final JsonLineLayout json = new JsonLineLayout();
    private final TextLineLayout text = new TextLineLayout();
    private final AppenderBase<ILoggingEvent> appender = new AppenderBase<>() {
        @Override
        protected void append(ILoggingEvent event) {
            synchronized (lines) {
                lines.add(json.doLayout(event));
                lines.add(text.doLayout(event));
            }
        }
    };

    /** Starts capturing everything logged from now on. */
    public static LogCapture start() {
        Logging.configure("trace", true);
        LogCapture capture = new LogCapture();
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        capture.appender.setContext(context);
        capture.appender.start();
        context.getLogger(Logger.ROOT_LOGGER_NAME).addAppender(capture.appender);
        return capture;
    }

    /** Every line captured so far, each event once as JSON and once as text. */
    public List<String> lines() {
        synchronized (lines) {
            return List.copyOf(lines);
        }
    }

    @Override
    public void close() {
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        context.getLogger(Logger.ROOT_LOGGER_NAME).detachAppender(appender);
        Logging.configure("info", true);
    }
}
