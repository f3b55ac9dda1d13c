package dev.oqp.common.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import org.junit.jupiter.api.Test;
import org.slf4j.event.KeyValuePair;

class TextLineLayoutTest {

    @Test
    void aValueCannotForgeALineOfItsOwn() {
        LoggerContext context = new LoggerContext();
        LoggingEvent event = new LoggingEvent("x", context.getLogger("dev.oqp.access"), Level.INFO, "request", null,
                null);
        event.setKeyValuePairs(List.of(new KeyValuePair("model",
                "llama3\n2026-01-01T00:00:00Z INFO  access forged\r\u0007")));

        String text = new TextLineLayout().doLayout(event);

        assertThat(text.lines()).hasSize(2);
        assertThat(text.lines().skip(1)).allMatch(line -> line.startsWith("    "));
        assertThat(text).contains("\\u000d\\u0007").endsWith("\n");
    }
}
