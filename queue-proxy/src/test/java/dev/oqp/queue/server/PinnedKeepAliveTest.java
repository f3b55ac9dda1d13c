package dev.oqp.queue.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

/** {@link InferenceBody#withPinnedKeepAlive}: {@code keep_alive: -1} as the last field, whatever came before. */
class PinnedKeepAliveTest {

    private static String pinned(String body) {
        return new String(InferenceBody.withPinnedKeepAlive(body.getBytes(StandardCharsets.UTF_8)),
                StandardCharsets.UTF_8);
    }

    @Test
    void theLastFieldIsKeepAliveMinusOneAndNothingElseChanges() {
        assertThat(pinned("{\"model\":\"m\",\"prompt\":\"}\"}")).isEqualTo("{\"model\":\"m\",\"prompt\":\"}\",\"keep_alive\":-1}");
        assertThat(pinned("{\"keep_alive\":\"5m\",\"model\":\"m\"}\n"))
                .isEqualTo("{\"keep_alive\":\"5m\",\"model\":\"m\",\"keep_alive\":-1}\n");
        assertThat(pinned("{ }")).isEqualTo("{ \"keep_alive\":-1}");
        assertThat(pinned("not json")).isEqualTo("not json");
    }
}
