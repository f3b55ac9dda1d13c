package dev.oqp.queue.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;

import org.junit.jupiter.api.Test;

class RequestIdsTest {
    @Test
    void saneClientIdIsKept() {
        assertThat(RequestIds.accept("req-42_a.B")).isEqualTo("req-42_a.B");
        String longest = "a".repeat(128);
        assertThat(RequestIds.accept(longest)).isEqualTo(longest);
    }

    @Test
    void unsafeOrOversizedIdIsReplaced() {
        for (String bad : new String[] {null, "", "a".repeat(129), "has space", "new\nline", "quote\"", "ünicode", "a/b"}) {
            String id = RequestIds.accept(bad);
            assertThat(id).as(String.valueOf(bad)).isNotEqualTo(bad).matches("[0-9a-f]{16}");
        }
    }

    @Test
    void generatedIdsAreSaneAndDistinct() {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 10_000; i++) {
            String id = RequestIds.generate();
            assertThat(RequestIds.isSane(id)).isTrue();
            seen.add(id);
        }
        assertThat(seen).hasSize(10_000);
    }
}
