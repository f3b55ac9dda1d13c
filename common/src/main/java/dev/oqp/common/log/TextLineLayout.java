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
                sb.append(' ').append(pair.key).append('=').append(pair.value);
            }
        }
        sb.append('\n');
        IThrowableProxy thrown = event.getThrowableProxy();
        if (thrown != null) {
            sb.append(ThrowableProxyUtil.asString(thrown)).append('\n');
        }
        return sb.toString();
    }
}
