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
        assertThat(Reloader.withoutValue("proxy.max_body (from proxy.max_request_body_mb): lotsMiB (expected: a size)"))
                .isEqualTo("proxy.max_body (from proxy.max_request_body_mb): (value not shown) (expected: a size)");
    }

    @Test
    void anUnknownKeyKeepsTheWordsUnknownKey() {
        String problem = "proxy.maxbody: unknown key (expected one of: host, allow_public, port)";
        assertThat(Reloader.withoutValue(problem)).isEqualTo(problem);
    }

    @Test
    void aVariableMissingFromTheEnvironmentSaysTheEnvironmentIsReadAtStart() {
        assertThat(Reloader.explained("auth.keys[0].key: environment variable NEW_KEY is not set"))
                .isEqualTo("auth.keys[0].key: environment variable NEW_KEY is not set (a reload reads the environment"
                        + " the process started with: restart it with the variable set, or use key_file, which a"
                        + " reload reads again)");
    }
}
