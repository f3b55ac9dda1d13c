package dev.oqp.common.log;

import java.time.Instant;
import java.util.List;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.LayoutBase;
import org.slf4j.event.KeyValuePair;

/** Human-readable lines: {@code ts LEVEL logger msg key=value …}, then the stack trace if any. */
public final class TextLineLayout extends LayoutBase<ILoggingEvent> {
    @Override
    public String doLayout(ILoggingEvent event) {
        StringBuilder sb = new StringBuilder(160);
        sb.append(Instant.ofEpochMilli(event.getTimeStamp())).append(' ')
                .append(String.format("%-5s", event.getLevel())).append(' ')
                .append(JsonLineLayout.shortName(event.getLoggerName())).append(' ')
                .append(event.getFormattedMessage());
        List<KeyValuePair> pairs = event.getKeyValuePairs();
        if (pairs != null) {
            for (KeyValuePair pair : pairs) {
                sb.append(' ').append(pair.key).append('=');
                appendValue(sb, String.valueOf(pair.value));
            }
        }
        sb.append('\n');
        IThrowableProxy thrown = event.getThrowableProxy();
        if (thrown != null) {
            sb.append(ThrowableProxyUtil.asString(thrown)).append('\n');
        }
        return sb.toString();
    }

    /**
     * A value as written, except that a line break inside it continues on an indented line and other control
     * characters are escaped: no value can forge a line that starts like a log line of its own.
     */
    static void appendValue(StringBuilder sb, String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '\n') {
                sb.append("\n    ");
            } else if (c < 0x20 && c != '\t' || c == 0x7f) {
                sb.append(String.format("\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
    }
}
