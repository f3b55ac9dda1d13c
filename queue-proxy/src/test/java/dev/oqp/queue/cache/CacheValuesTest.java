package dev.oqp.queue.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

/** The value format: what is stored for a vector, and what is taken back from a backend. */
class CacheValuesTest {
    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void aVectorIsStoredBehindTheMagicAndReadBackUnchanged() {
        byte[] value = CacheValues.encode(bytes("[1.5,-2e-3]"), 64);
        assertThat(new String(value, StandardCharsets.US_ASCII)).isEqualTo("oqp1[1.5,-2e-3]");
        assertThat(CacheValues.decode(value, 64)).isEqualTo(bytes("[1.5,-2e-3]"));
        assertThat(CacheValues.decode(CacheValues.encode(bytes("\"QUFB\""), 64), 64)).isEqualTo(bytes("\"QUFB\""));
    }

    @Test
    void emptyAndOversizedVectorsAreNotStored() {
        assertThat(CacheValues.encode(bytes("[]"), 64)).isNull();
        assertThat(CacheValues.encode(bytes("\"\""), 64)).isNull();
        assertThat(CacheValues.encode(bytes("[1,2,3]"), 7)).isNotNull();
        assertThat(CacheValues.encode(bytes("[1,2,3]"), 6)).isNull();
    }

    @Test
    void anythingButOneWholeVectorWithinTheLimitIsGarbage() {
        assertThat(CacheValues.decode(bytes("oqp1[1,2,3]"), 7)).isNotNull();
        assertThat(CacheValues.decode(bytes("oqp1[1,2,3]"), 6)).as("over max_entry_bytes").isNull();
        for (String garbage : new String[] {"[1,2]", "oqp2[1,2]", "oqp1", "oqp1[", "oqp1[1,\"x\"]", "oqp1[[1]]", "oqp1{}",
            "oqp1[1] [2]", "oqp1[0.5]],\"model\":\"evil\",\"embeddings\":[[1]", "oqp1null", "oqp1 1"}) {
            assertThat(CacheValues.decode(bytes(garbage), 1 << 20)).as(garbage).isNull();
        }
    }
}
