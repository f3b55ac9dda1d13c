package dev.oqp.queue.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;

import org.junit.jupiter.api.Test;

class MaxWaitTest {
    @Test
    void theConfigsDurationSyntaxIsRead() {
        assertThat(MaxWait.nanos("30s")).isEqualTo(Duration.ofSeconds(30).toNanos());
        assertThat(MaxWait.nanos("1500ms")).isEqualTo(Duration.ofMillis(1500).toNanos());
        assertThat(MaxWait.nanos("2m")).isEqualTo(Duration.ofMinutes(2).toNanos());
        assertThat(MaxWait.nanos(" 45 ")).isEqualTo(Duration.ofSeconds(45).toNanos());
        assertThat(MaxWait.nanos("0s")).isZero();
        assertThat(MaxWait.nanos("100000d")).as("bounded").isEqualTo(Duration.ofDays(365).toNanos());
    }

    @Test
    void absentOrBlankMeansNoLimitOfItsOwn() {
        assertThat(MaxWait.nanos(null)).isEqualTo(-1);
        assertThat(MaxWait.nanos("  ")).isEqualTo(-1);
    }

    @Test
    void anythingElseIsRefused() {
        for (String bad : new String[] {"soon", "-5s", "1.5s", "30 s", "5x", "s", "99999999999999999999"}) {
            assertThatThrownBy(() -> MaxWait.nanos(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(MaxWait.INVALID);
        }
    }
}
