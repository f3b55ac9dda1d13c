package dev.oqp.sidecar;

import static dev.oqp.sidecar.SidecarFixture.base;
import static dev.oqp.sidecar.SidecarFixture.service;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import dev.oqp.common.log.JsonLineLayout;
import dev.oqp.common.log.Logging;
import dev.oqp.common.log.TextLineLayout;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.Fault;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** No configured header value ever reaches a log line, at any level, on success or failure paths. */
class NoSecretsInLogsTest {
    private static final String SECRET = "sk-do-not-log-4f2a9c";
    private static final String OTHER_SECRET = "another-hidden-value-77";

    private final List<String> lines = new ArrayList<>();
    private final JsonLineLayout json = new JsonLineLayout();
    private final TextLineLayout text = new TextLineLayout();
    private final AppenderBase<ILoggingEvent> capture = new AppenderBase<>() {
        @Override
        protected void append(ILoggingEvent event) {
            synchronized (lines) {
                lines.add(json.doLayout(event));
                lines.add(text.doLayout(event));
            }
        }
    };

    @BeforeEach
    void captureEverything() {
        Logging.configure("trace", true);
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        capture.setContext(context);
        capture.start();
        context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).addAppender(capture);
    }

    @AfterEach
    void restore() {
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.detachAppender(capture);
        Logging.configure("info", true);
    }

    @Test
    void configuredHeaderValuesNeverAppearInLogOutput() throws Exception {
        try (SidecarFixture fixture = new SidecarFixture();
             FakeOllama ollama = FakeOllama.builder().installed("llama3:latest").start()) {
            Sidecar sidecar = fixture.start(service("agent", ollama.baseUri(),
                    "max_body: 1KiB", "timeout: 300ms",
                    "headers:", "  Authorization: \"Bearer ${KEY}\"", "  X-Api-Key: " + OTHER_SECRET),
                    Map.of("KEY", SECRET));
            URI base = base(sidecar, "agent");

            fixture.post(base.resolve("/api/generate"), "{\"model\":\"llama3\",\"prompt\":\"hi\"}");
            fixture.post(base.resolve("/api/generate"), "{\"model\":\"llama3\",\"prompt\":\"" + "x".repeat(4096) + "\"}");
            ollama.fault(Fault.stallAfterLines(0));
            fixture.post(base.resolve("/api/generate"), "{\"model\":\"llama3\",\"prompt\":\"hi\"}");
            ollama.fault(Fault.status(500, "boom"));
            fixture.get(base.resolve("/api/tags"));
            ollama.fault(Fault.refuseConnections());
            fixture.get(base.resolve("/api/tags"));
        }

        synchronized (lines) {
            assertThat(lines).as("something was logged").anyMatch(line -> line.contains("\"path\":\"/api/generate\""));
            assertThat(lines).noneMatch(line -> line.contains(SECRET) || line.contains(OTHER_SECRET));
        }
    }
}
