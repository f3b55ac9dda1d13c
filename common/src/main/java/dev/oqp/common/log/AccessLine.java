package dev.oqp.common.log;

import java.util.Locale;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.spi.LoggingEventBuilder;

/**
 * One access-log line, the same builder in both binaries: fields in the order added, times in milliseconds
 * rounded to 0.01, an {@code error} outcome in lower case. What goes in is the caller's business; the callers
 * never add a header value, a key, a query string or a prompt.
 */
public final class AccessLine {
    private static final Logger ACCESS = LoggerFactory.getLogger(Logging.ACCESS_LOGGER);
    /** The most characters of client-chosen text an access line holds per field. */
    public static final int CLIENT_TEXT_LIMIT = 128;

    private LoggingEventBuilder line;

    private AccessLine() {
        this.line = ACCESS.atInfo();
    }

    /** A new line. */
    public static AccessLine start() {
        return new AccessLine();
    }

    /** Adds {@code name=value}, unless {@code value} is null. */
    public AccessLine add(String name, Object value) {
        if (value != null) {
            line = line.addKeyValue(name, value);
        }
        return this;
    }

    /**
     * Adds text the client chose (a method, a path), bounded: at most {@value #CLIENT_TEXT_LIMIT} characters, then
     * {@code …} and the length it had, so that a hostile request cannot fill the log.
     */
    public AccessLine clientText(String name, String value) {
        if (value != null && value.length() > CLIENT_TEXT_LIMIT) {
            value = value.substring(0, CLIENT_TEXT_LIMIT) + "…(" + value.length() + " characters)";
        }
        return add(name, value);
    }

    /** Adds a time in milliseconds, rounded to 0.01 ms ({@code -1} when negative: never measured). */
    public AccessLine millis(String name, double millis) {
        line = line.addKeyValue(name, millis < 0 ? -1 : Math.round(millis * 100.0) / 100.0);
        return this;
    }

    /** Adds the outcome of a request that did not end normally, in lower case; nothing when null. */
    public AccessLine error(String error) {
        return add("error", error == null ? null : error.toLowerCase(Locale.ROOT));
    }

    /** Writes the line (message {@code request}). */
    public void log() {
        line.log("request");
    }
}
