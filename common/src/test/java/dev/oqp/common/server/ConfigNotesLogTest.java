package dev.oqp.common.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.LoadedConfig;
import dev.oqp.common.config.Target;
import dev.oqp.common.testing.LogCapture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** The notes of a Python file at start: plain translations at INFO, one WARN summary, attention notes at WARN. */
class ConfigNotesLogTest {

    @Test
    void plainTranslationsAreInfoAndOneWarnSummarisesAPythonFile(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("config.yml");
        Files.writeString(file, """
                proxy: {max_request_body_mb: 20}
                ollama:
                  hosts: [{url: "http://127.0.0.1:11434", name: a}]
                routing: {stratgy: model_aware}
                """);
        LoadedConfig loaded = ConfigLoader.read(file, Target.QUEUE_PROXY, Map.of());

        List<String> json;
        try (LogCapture capture = LogCapture.start()) {
            Launcher.logNotes(loaded, LoggerFactory.getLogger(ConfigNotesLogTest.class));
            json = capture.lines().stream().filter(l -> l.startsWith("{")).toList();
        }

        List<String> warn = json.stream().filter(l -> l.contains("\"level\":\"WARN\"")).toList();
        int attention = loaded.attention().size();
        assertThat(attention).as("the typo and the loopback default").isEqualTo(2);
        assertThat(warn).hasSize(1 + attention);
        assertThat(warn.get(0)).contains("configuration read in the Python tool's schema: "
                + (loaded.notes().size() - attention) + " keys translated, 2 need attention (see --check-config or"
                + " migrate-config)");
        assertThat(warn).anySatisfy(l -> assertThat(l).contains("routing.stratgy: not a key"));
        assertThat(json).filteredOn(l -> l.contains("proxy.max_request_body_mb → proxy.max_body"))
                .singleElement().satisfies(l -> assertThat(l).contains("\"level\":\"INFO\""));
    }
}
