package dev.oqp.common.log;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import org.slf4j.Marker;

/**
 * Drops the warnings in which Jetty quotes a client's malformed {@code Host} header whole (up to the header size
 * limit, any bytes): {@code HttpParser}'s duplicate-Host line and every line of {@code HostPort} (which only
 * reports the text it failed to parse). Jetty answers such a request 400 through {@code JsonErrorHandler}, which
 * counts it and logs a bounded excerpt at debug. Jetty's other warnings pass.
 */
final class ClientTextFilter extends TurboFilter {
    private static final String PARSER = "org.eclipse.jetty.http.HttpParser";
    private static final String HOST_PORT = "org.eclipse.jetty.util.HostPort";
    private static final String DUPLICATE_HOST = "Encountered multiple `Host` headers";

    @Override
    public FilterReply decide(Marker marker, Logger logger, Level level, String format, Object[] params,
                              Throwable t) {
        if (format == null) {
            return FilterReply.NEUTRAL;
        }
        String name = logger.getName();
        if (HOST_PORT.equals(name) || PARSER.equals(name) && format.startsWith(DUPLICATE_HOST)) {
            return FilterReply.DENY;
        }
        return FilterReply.NEUTRAL;
    }
}
