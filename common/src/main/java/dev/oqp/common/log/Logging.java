package dev.oqp.common.log;

import ch.qos.logback.classic.AsyncAppender;
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
    /** Log lines waiting for stdout before new ones are dropped. */
    public static final int QUEUE_SIZE = 8192;

    /**
     * Writes out the lines still queued and stops logging. Call once, when the process is about to
     * exit (the queue's writer thread would not outlive the JVM).
     */
    public static void drainAndStop() {
        if (LoggerFactory.getILoggerFactory() instanceof LoggerContext context) {
            context.stop();
        }
    }

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
        // Lines are handed to one writer thread through a bounded queue. Log calls happen on the threads
        // that move bytes (the access log at the end of every exchange): a stdout nobody reads must never
        // stall proxying, so when the queue is full lines are dropped instead of waiting.
        AsyncAppender async = new AsyncAppender();
        async.setContext(context);
        async.setName("async-console");
        async.setQueueSize(QUEUE_SIZE);
        async.setDiscardingThreshold(0);
        async.setNeverBlock(true);
        async.setMaxFlushTime(2000);
        async.addAppender(console);
        async.start();

        root.addAppender(async);
        root.setLevel(level);
        // The access log is switched by its own setting (logging.access_log), not by the level: an
        // operator running at warn still wants one line per request.
        context.getLogger(ACCESS_LOGGER).setLevel(Level.INFO);
        // Jetty stays at WARN whatever the level: its debug output prints request headers, which carry
        // the secrets this tool injects, and its INFO lines duplicate our own start line.
        // Likewise the Valkey/Redis client and its network layer: their debug output prints commands with their
        // arguments (AUTH carries the password, keys and values could be matched to texts).
        for (String quiet : new String[] {"org.eclipse.jetty", "io.lettuce", "io.netty", "reactor"}) {
            context.getLogger(quiet).setLevel(level.isGreaterOrEqual(Level.WARN) ? level : Level.WARN);
        }
        if (context.getTurboFilterList().stream().noneMatch(ClientTextFilter.class::isInstance)) {
            // Jetty quotes a malformed Host header whole at warn; the error handler counts the request instead.
            ClientTextFilter filter = new ClientTextFilter();
            filter.setContext(context);
            filter.start();
            context.addTurboFilter(filter);
        }
        // Its "cannot reconnect" warning repeats every few seconds of an outage; the cache logs the outage once.
        context.getLogger("io.lettuce.core.protocol.ConnectionWatchdog").setLevel(Level.ERROR);
    }
}
