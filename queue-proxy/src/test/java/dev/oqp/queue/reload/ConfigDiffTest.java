package dev.oqp.queue.reload;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.Target;
import org.junit.jupiter.api.Test;

class ConfigDiffTest {

    private static OqpConfig parse(String yaml) throws Exception {
        return ConfigLoader.parse(yaml, Target.QUEUE_PROXY, Map.of());
    }

    @Test
    void everyOptionOfTheConfigRecordsIsLiveRestartOnlyOrUnusedAndNeverTwo() {
        List<String> options = ConfigDiff.options();
        assertThat(options).contains("proxy.max_body", "queue.high.max_wait", "auth.keys", "services",
                "embedding_cache.ttl", "sidecar.metrics_port");
        List<String> unclassified = new ArrayList<>();
        for (String option : options) {
            int classes = (ConfigDiff.within(option, ConfigDiff.LIVE) ? 1 : 0)
                    + (ConfigDiff.within(option, ConfigDiff.RESTART_ONLY) ? 1 : 0)
                    + (ConfigDiff.within(option, ConfigDiff.UNUSED) ? 1 : 0);
            if (classes != 1) {
                unclassified.add(option + " (" + classes + " classes)");
            }
        }
        assertThat(unclassified).as("options a reload must say something about").isEmpty();
    }

    @Test
    void everyClassNamesAnOptionThatExists() {
        List<String> options = ConfigDiff.options();
        for (List<String> classes : List.of(ConfigDiff.LIVE, ConfigDiff.RESTART_ONLY, ConfigDiff.UNUSED)) {
            for (String c : classes) {
                assertThat(options).as(c).anyMatch(o -> o.equals(c) || o.startsWith(c + "."));
            }
        }
    }

    @Test
    void restartOnlyOptionsAreNamedOneByOneAndLiveOnesBySection() throws Exception {
        OqpConfig running = parse("proxy: {port: 11435}\nqueue: {aging: 60s}\n");
        OqpConfig next = parse("proxy: {port: 11499, max_concurrent: 3, max_body: 1MiB}\nqueue: {aging: 30s}\n"
                + "ollama: {connect_timeout: 2s}\n");

        assertThat(ConfigDiff.restartNeeded(running, next))
                .containsExactly("proxy.port", "proxy.max_body", "ollama.connect_timeout");
        assertThat(ConfigDiff.changedSections(running, next)).containsExactly("proxy", "queue");
        assertThat(ConfigDiff.restartNeeded(running, running)).isEmpty();
        assertThat(ConfigDiff.changedSections(running, running)).isEmpty();
    }

    @Test
    void yamlNamesAreSnakeCase() {
        assertThat(ConfigDiff.yamlName("maxQueuedBytes")).isEqualTo("max_queued_bytes");
        assertThat(ConfigDiff.yamlName("port")).isEqualTo("port");
    }
}
