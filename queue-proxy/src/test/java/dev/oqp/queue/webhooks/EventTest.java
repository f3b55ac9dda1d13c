package dev.oqp.queue.webhooks;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;

import dev.oqp.common.config.Tier;
import org.junit.jupiter.api.Test;

/** Payloads in the Python tool's shape: key order, its timestamp format, {@code tier} only when there is one. */
class EventTest {

    @Test
    void timestampIsPythonsIsoformatWithMicrosecondsAndAnOffsetNotZ() {
        assertThat(Event.timestamp(Instant.parse("2026-10-07T12:00:03.243347123Z")))
                .isEqualTo("2026-10-07T12:00:03.243347+00:00");
        assertThat(Event.timestamp(Instant.parse("2026-10-07T12:00:03.000000999Z")))
                .as("microseconds left out when they are 0, as Python does").isEqualTo("2026-10-07T12:00:03+00:00");
        assertThat(Event.timestamp(Instant.parse("2026-01-02T03:04:05.000010Z")))
                .isEqualTo("2026-01-02T03:04:05.000010+00:00");
    }

    @Test
    void keysComeInThePythonToolsOrderWithTierOnlyWhenThereIsOne() {
        assertThat(Event.queueFull(Tier.LOW, "app", "req-1").payload().keySet())
                .containsExactly("event", "timestamp", "tier", "client_id", "request_id");
        assertThat(Event.highWatermark(Tier.NORMAL, 8, 10).payload().keySet())
                .containsExactly("event", "timestamp", "tier", "queue_depth", "max_depth");
        assertThat(Event.drained().payload().keySet()).containsExactly("event", "timestamp");
        assertThat(Event.hostUnhealthy("gpu-1", "timeout").payload().keySet())
                .containsExactly("event", "timestamp", "name", "error");
        assertThat(Event.configReloaded(List.of("auth")).payload()).containsEntry("changed", List.of("auth"));
        assertThat(Event.queueFull(Tier.LOW, "app", "req-1").payload()).containsEntry("tier", "low")
                .containsEntry("event", "queue.full");
    }
}
