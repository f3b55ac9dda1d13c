package dev.oqp.queue.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

/** Key derivation: the exact bytes hashed, which entries already in a cache were written under. */
class CacheKeysTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String MODEL = "all-minilm:latest";

    private static List<String> keys(String path, String body, String client) {
        EmbeddingShape shape = EmbeddingShape.of(path);
        EmbeddingShape.Request request = shape.readRequest(body.getBytes(StandardCharsets.UTF_8));
        return CacheKeys.of("oqp:emb:", client, shape, MODEL, request.params(), request.items());
    }

    private static String canonical(String json) throws Exception {
        StringBuilder out = new StringBuilder();
        CacheKeys.canonical(JSON.readTree(json), out);
        return out.toString();
    }

    @Test
    void keysAreTheOnesWrittenBeforeTheDerivationMovedHere() {
        // Recorded from the derivation as it was inside CachePlan: a change here strands every stored entry.
        assertThat(keys("/api/embed", "{\"model\":\"all-minilm\",\"input\":\"hello\"}", null)).containsExactly(
                "oqp:emb:c0f3804e92c6e774c230103bfbff88087452c960133d7e199736127a562b3baf");
        assertThat(keys("/api/embed", "{\"model\":\"all-minilm\",\"input\":[\"a\",\"b\"],\"truncate\":false,"
                + "\"options\":{\"num_ctx\":512,\"a\":[1,2.5,\"x\",null,true]},\"Dimensions\":64}", null)).containsExactly(
                "oqp:emb:7788ac7437bd7c1f550bdad21ad96c2fd0c7daa505952d042a3ae0e46cb4cecd",
                "oqp:emb:63128fa21db32670840e327ad1821b9a282d4f98bb17beb0e740d32e02511f22");
        assertThat(keys("/api/embed", "{\"model\":\"all-minilm\",\"input\":\"hello\"}", "client-a")).containsExactly(
                "oqp:emb:37122666cff0d446723480c7c371eb38c7db37900dd1c61f9e6716995c8105ae");
        assertThat(keys("/api/embeddings", "{\"model\":\"all-minilm\",\"prompt\":\"hello\"}", null)).containsExactly(
                "oqp:emb:d065020f2e78d2df7ae9c99815fec17a3bd64ffe67e3ddc7f43cd5d58bded7b1");
        assertThat(keys("/v1/embeddings", "{\"model\":\"all-minilm\",\"input\":[\"hello\",\"emoji \\ud83d\\ude00 \u00e9\"],"
                + "\"encoding_format\":\"base64\",\"user\":\"u\"}", null)).containsExactly(
                "oqp:emb:7fa585052cd2b408da81d9b5fc7c1964dc8010b0e002ffcee0cd215ead8336c4",
                "oqp:emb:57588597aaf7f2f0abbb9f07a2fb171ab29984c033af57fc0111d675cbe1cc57");
        assertThat(keys("/v1/embeddings", "{\"model\":\"all-minilm\",\"input\":\"hello\",\"x\":1e400,"
                + "\"y\":12345678901234567890123,\"z\":1.0,\"w\":\"\\u00e9\\\"\"}", null)).containsExactly(
                "oqp:emb:4077291580282b5077999018c6156c030f5bb88bb8c0c8a62276712441da0db5");
    }

    @Test
    void theDigestIsOverLengthPrefixedPartsInTheDocumentedOrder() throws Exception {
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        for (String part : new String[] {"oqp-embed-1", "client-a", "LEGACY", MODEL, "{\"truncate\":true}", "t\u00e9"}) {
            byte[] bytes = part.getBytes(StandardCharsets.UTF_8);
            digest.update(new byte[] {0, 0, 0, (byte) bytes.length});
            digest.update(bytes);
        }
        assertThat(CacheKeys.of("p:", "client-a", EmbeddingShape.LEGACY, MODEL, JSON.readTree("{\"truncate\":true}"),
                List.of("t\u00e9"))).containsExactly("p:" + HexFormat.of().formatHex(digest.digest()));
    }

    @Test
    void equalTextsShareAKeyAndTheClientSplitsThem() throws Exception {
        List<String> keys = CacheKeys.of("p:", null, EmbeddingShape.EMBED, MODEL, JSON.readTree("{}"), List.of("a", "b", "a"));
        assertThat(keys).hasSize(3);
        assertThat(keys.get(0)).isEqualTo(keys.get(2)).isNotEqualTo(keys.get(1));
        assertThat(CacheKeys.of("p:", "", EmbeddingShape.EMBED, MODEL, JSON.readTree("{}"), List.of("a")))
                .as("an empty client id is the shared partition").containsExactly(keys.get(0));
        assertThat(CacheKeys.of("p:", "c", EmbeddingShape.EMBED, MODEL, JSON.readTree("{}"), List.of("a")))
                .doesNotContain(keys.get(0));
    }

    @Test
    void theShapesKeyTagsAreTheirNamesAsStoredKeysHaveThem() {
        for (EmbeddingShape shape : EmbeddingShape.values()) {
            assertThat(shape.keyTag()).isEqualTo(shape.name());
        }
    }

    @Test
    void canonicalJsonSortsObjectNamesAtEveryLevelAndKeepsArraysInOrder() throws Exception {
        assertThat(canonical("{\"b\":{\"y\":1,\"x\":[3,{\"d\":1,\"c\":2}]},\"a\":\"s\\\"\"}"))
                .isEqualTo("{\"a\":\"s\\\"\",\"b\":{\"x\":[3,{\"c\":2,\"d\":1}],\"y\":1}}");
        assertThat(canonical("{\"n\":1.0,\"m\":null,\"t\":true,\"e\":1e2}")).isEqualTo("{\"e\":100.0,\"m\":null,\"n\":1.0,\"t\":true}");
    }

    @Test
    void loneSurrogatesGetNoKeysWhereverTheyAre() throws Exception {
        assertThat(CacheKeys.wellFormed("emoji \ud83d\ude00")).isTrue();
        assertThat(CacheKeys.wellFormed("end \ud83d")).isFalse();
        assertThat(CacheKeys.wellFormed("\ud83dx")).isFalse();
        assertThat(CacheKeys.wellFormed("\ude00")).isFalse();
        assertThat(CacheKeys.of("p:", null, EmbeddingShape.EMBED, MODEL, JSON.readTree("{}"), List.of("ok", "\udc00x")))
                .isNull();
        assertThat(CacheKeys.of("p:", null, EmbeddingShape.EMBED, MODEL, JSON.readTree("{\"stop\":\"\\ud800\"}"),
                List.of("ok"))).isNull();
        assertThat(CacheKeys.of("p:", null, EmbeddingShape.EMBED, MODEL, JSON.createObjectNode().put("\ud800", 1),
                List.of("ok"))).as("in a field name too").isNull();
    }
}
