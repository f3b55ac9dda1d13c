package dev.oqp.queue.reload;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ReloaderTest {

    @Test
    void problemLinesAreLoggedWithoutTheirValues() {
        assertThat(Reloader.withoutValue("auth.keys[2].max_priority: key-0123456789 (expected one of: high, normal, low)"))
                .isEqualTo("auth.keys[2].max_priority: (value not shown) (expected one of: high, normal, low)");
        assertThat(Reloader.withoutValue("queue.normal: unknown key 'x' (allowed: max_depth, max_wait)"))
                .isEqualTo("queue.normal: unknown key 'x' (allowed: max_depth, max_wait)");
    }
}
