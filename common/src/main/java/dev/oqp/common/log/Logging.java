package dev.oqp.common.log;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.LayoutBase;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logging set up in code (no XML to parse at start): one console appender on stdout, JSON lines or
 * text, the root level from configuration. Jetty is kept at WARN (its debug output would print
 * injected secrets); the binaries log their own start line.
 */
public final class Logging {
    /** The logger every access-log line goes to; INFO whatever the root level. */
    public static final String ACCESS_LOGGER = "dev.oqp.access";
    private Logging() {
    }

    /**
     * Applies the level and format. Safe to call again (for instance after a reload).
     *
     * @param level  trace, debug, info, warn or error
     * @param json   true for JSON lines, false for text
     */
    public static void configure(String level, boolean json) {
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
            return;
        }
        install(context, Level.toLevel(level, Level.INFO), json);
    }

    static void install(LoggerContext context, Level level, boolean json) {
        ch.qos.logback.classic.Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        root.detachAndStopAllAppenders();

        LayoutBase<ILoggingEvent> layout = json ? new JsonLineLayout() : new TextLineLayout();
        layout.setContext(context);
        layout.start();
        LayoutWrappingEncoder<ILoggingEvent> encoder = new LayoutWrappingEncoder<>();
        encoder.setContext(context);
        encoder.setLayout(layout);
        encoder.start();
        ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
        console.setContext(context);
        console.setName("console");
        console.setEncoder(encoder);
        console.start();

        root.addAppender(console);
        root.setLevel(level);
        // The access log is switched by its own setting (logging.access_log), not by the level: an
        // operator running at warn still wants one line per request.
        context.getLogger(ACCESS_LOGGER).setLevel(Level.INFO);
        // Jetty stays at WARN whatever the level: its debug output prints request headers, which carry
        // the secrets this tool injects, and its INFO lines duplicate our own start line.
        context.getLogger("org.eclipse.jetty").setLevel(level.isGreaterOrEqual(Level.WARN) ? level : Level.WARN);
    }
}
