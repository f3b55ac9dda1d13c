package dev.oqp.common.log;

import java.time.Instant;
import java.util.List;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.LayoutBase;
import dev.oqp.common.proxy.ErrorResponses;
import org.slf4j.event.KeyValuePair;

/**
 * One JSON object per line: {@code ts}, {@code level}, {@code logger}, {@code msg}, then every SLF4J
 * key-value pair of the event as a field of its own (numbers and booleans unquoted), then
 * {@code error} with the stack trace when there is one.
 */
public final class JsonLineLayout extends LayoutBase<ILoggingEvent> {
    @Override
    public String doLayout(ILoggingEvent event) {
        StringBuilder sb = new StringBuilder(256);
        sb.append("{\"ts\":\"").append(Instant.ofEpochMilli(event.getTimeStamp())).append('"')
                .append(",\"level\":\"").append(event.getLevel()).append('"')
                .append(",\"logger\":").append(ErrorResponses.quote(shortName(event.getLoggerName())))
                .append(",\"msg\":").append(ErrorResponses.quote(event.getFormattedMessage()));
        List<KeyValuePair> pairs = event.getKeyValuePairs();
        if (pairs != null) {
            for (KeyValuePair pair : pairs) {
                sb.append(',').append(ErrorResponses.quote(pair.key)).append(':');
                appendValue(sb, pair.value);
            }
        }
        IThrowableProxy thrown = event.getThrowableProxy();
        if (thrown != null) {
            sb.append(",\"error\":").append(ErrorResponses.quote(ThrowableProxyUtil.asString(thrown)));
        }
        return sb.append("}\n").toString();
    }

    static void appendValue(StringBuilder sb, Object value) {
        if (value == null) {
            sb.append("null");
        } else if (value instanceof Number || value instanceof Boolean) {
            sb.append(value);
        } else {
            sb.append(ErrorResponses.quote(value.toString()));
        }
    }

    static String shortName(String logger) {
        int dot = logger.lastIndexOf('.');
        return dot < 0 ? logger : logger.substring(dot + 1);
    }
}
