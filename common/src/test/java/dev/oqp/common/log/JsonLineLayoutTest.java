package dev.oqp.common.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.slf4j.event.KeyValuePair;

class JsonLineLayoutTest {
    @Test
    void eachEventIsOneJsonObjectWithTypedKeyValues() throws Exception {
        LoggerContext context = new LoggerContext();
        LoggingEvent event = new LoggingEvent("x", context.getLogger("dev.oqp.access"), Level.INFO,
                "request \"quoted\"\nline", null, null);
        event.setKeyValuePairs(List.of(new KeyValuePair("status", 200), new KeyValuePair("path", "/api/chat"),
                new KeyValuePair("ok", true)));

        String line = new JsonLineLayout().doLayout(event);

        assertThat(line).endsWith("}\n").doesNotContain("\n{");
        assertThat(line.indexOf('\n')).isEqualTo(line.length() - 1);
        JsonNode json = new ObjectMapper().readTree(line);
        assertThat(json.get("level").asText()).isEqualTo("INFO");
        assertThat(json.get("logger").asText()).isEqualTo("access");
        assertThat(json.get("msg").asText()).isEqualTo("request \"quoted\"\nline");
        assertThat(json.get("status").isInt()).isTrue();
        assertThat(json.get("ok").isBoolean()).isTrue();
        assertThat(json.get("path").asText()).isEqualTo("/api/chat");
    }

    @Test
    void angleBracketsAndAmpersandsAreWrittenLiterally() throws Exception {
        LoggerContext context = new LoggerContext();
        LoggingEvent event = new LoggingEvent("x", context.getLogger("dev.oqp.access"), Level.WARN,
                "model <llama3> & 'friends' not found\u0007", null, null);
        event.setKeyValuePairs(List.of(new KeyValuePair("error", "<not_found>")));

        String line = new JsonLineLayout().doLayout(event);

        assertThat(line).contains("model <llama3> & 'friends' not found\\u0007", "\"error\":\"<not_found>\"")
                .doesNotContain("\\u003c", "\\u003e", "\\u0026");
        assertThat(new ObjectMapper().readTree(line).get("msg").asText())
                .isEqualTo("model <llama3> & 'friends' not found\u0007");
    }
}
