package dev.oqp.queue.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

/** Cache keys, what is sent upstream for a partial hit, and the answers in each endpoint's shape. */
class CachePlanTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String EMBED = "/api/embed";

    private static CachePlan plan(String path, String body) {
        return plan(path, body, null);
    }

    private static CachePlan plan(String path, String body, String client) {
        return CachePlan.of(path, body.getBytes(StandardCharsets.UTF_8), "all-minilm:latest", "all-minilm", client,
                "p:", 1 << 20);
    }

    private static String key(String path, String body) {
        return plan(path, body).keys().get(0);
    }

    private static byte[] value(String vector) {
        return ("oqp1" + vector).getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void everyFieldThatChangesVectorsSplitsTheKeyAndNothingElseDoes() {
        String plain = key(EMBED, "{\"model\":\"m\",\"input\":\"t\"}");
        assertThat(plain).startsWith("p:").hasSize(2 + 64);
        assertThat(key(EMBED, "{\"model\":\"m\",\"input\":\"t\",\"keep_alive\":\"5m\"}")).isEqualTo(plain);
        assertThat(key(EMBED, "{\"input\":\"t\",\"model\":\"other-spelling\"}")).as("the model is given normalised").isEqualTo(plain);
        assertThat(key(EMBED, "{\"model\":\"m\",\"INPUT\":\"t\"}")).isEqualTo(plain);
        for (String differs : new String[] {
            "{\"model\":\"m\",\"input\":\"t\",\"dimensions\":64}",
            "{\"model\":\"m\",\"input\":\"t\",\"truncate\":false}",
            "{\"model\":\"m\",\"input\":\"t\",\"options\":{\"num_ctx\":512}}",
            "{\"model\":\"m\",\"input\":\"t\",\"some_future_field\":1}",
            "{\"model\":\"m\",\"input\":\"T\"}",
        }) {
            assertThat(key(EMBED, differs)).as(differs).isNotEqualTo(plain);
        }
        assertThat(key(EMBED, "{\"model\":\"m\",\"input\":\"t\",\"options\":{\"a\":1,\"b\":2}}"))
                .as("nested keys sorted").isEqualTo(key(EMBED, "{\"options\":{\"b\":2,\"a\":1},\"model\":\"m\",\"input\":\"t\"}"));
        assertThat(key("/api/embeddings", "{\"model\":\"m\",\"prompt\":\"t\"}")).as("legacy vectors are not normalised")
                .isNotEqualTo(plain);
        assertThat(key("/v1/embeddings", "{\"model\":\"m\",\"input\":\"t\"}")).isNotEqualTo(plain);
        assertThat(key("/v1/embeddings", "{\"model\":\"m\",\"input\":\"t\",\"user\":\"u\"}"))
                .isEqualTo(key("/v1/embeddings", "{\"model\":\"m\",\"input\":\"t\"}"));
        assertThat(key("/v1/embeddings", "{\"model\":\"m\",\"input\":\"t\",\"encoding_format\":\"base64\"}"))
                .isNotEqualTo(key("/v1/embeddings", "{\"model\":\"m\",\"input\":\"t\"}"));
    }

    @Test
    void partitionClientPutsTheClientInTheKey() {
        String body = "{\"model\":\"m\",\"input\":\"t\"}";
        assertThat(plan(EMBED, body, "a").keys()).isNotEqualTo(plan(EMBED, body, "b").keys());
        assertThat(plan(EMBED, body, "a").keys()).isNotEqualTo(plan(EMBED, body, null).keys());
        assertThat(plan(EMBED, body, "a").keys()).isEqualTo(plan(EMBED, body, "a").keys());
    }

    @Test
    void keysNeverHoldTheText() {
        assertThat(key(EMBED, "{\"model\":\"m\",\"input\":\"secret words\"}")).doesNotContain("secret");
    }

    @Test
    void onlyNonEmptyStringInputsAreCacheable() {
        for (String body : new String[] {"{\"model\":\"m\"}", "{\"model\":\"m\",\"input\":\"\"}",
            "{\"model\":\"m\",\"input\":[]}", "{\"model\":\"m\",\"input\":[\"a\",1]}", "{\"model\":\"m\",\"input\":[\"a\",\"\"]}",
            "{\"model\":\"m\",\"input\":{\"a\":1}}", "{\"model\":\"m\",\"input\":\"a\",\"Input\":\"b\"}", "[1]"}) {
            assertThat(plan(EMBED, body)).as(body).isNull();
        }
        assertThat(plan("/api/embeddings", "{\"model\":\"m\",\"prompt\":[\"a\"]}")).isNull();
        assertThat(plan("/api/generate", "{\"model\":\"m\",\"input\":\"a\"}")).isNull();
        assertThat(plan(EMBED, "{\"model\":\"m\",\"input\":[\"a\",\"b\",\"a\"]}").keys()).hasSize(3);
    }

    @Test
    void aPartialHitSendsEachMissingTextOnceAndAnswersInTheRequestsOrder() throws IOException {
        CachePlan plan = plan(EMBED, "{\"model\":\"all-minilm\",\"input\":[\"a\",\"b\",\"c\",\"b\"],\"truncate\":true}");
        String[] keys = plan.keys().toArray(String[]::new);
        assertThat(keys[1]).isEqualTo(keys[3]);

        assertThat(plan.lookupKeys()).as("each distinct key looked up once").containsExactly(keys[0], keys[1], keys[2]);
        assertThat(plan.found(new byte[][] {value("[1]"), null, value("[3]")})).isZero();

        assertThat(plan.status()).isEqualTo(CachePlan.Status.PARTIAL);
        assertThat(plan.hits()).isEqualTo(2);
        JsonNode sent = JSON.readTree(plan.upstreamBody("{}".getBytes(StandardCharsets.UTF_8)));
        assertThat(sent.get("input").toString()).isEqualTo("[\"b\"]");
        assertThat(sent.get("truncate").asBoolean()).isTrue();
        CachePlan.Answer answer = plan.parse(("{\"model\":\"all-minilm\",\"embeddings\":[[2.5,-1e-3]],"
                + "\"total_duration\":7,\"load_duration\":1,\"prompt_eval_count\":4}").getBytes(StandardCharsets.UTF_8));
        Map<String, byte[]> stored = plan.learn(answer);
        assertThat(stored).containsOnlyKeys(keys[1]);
        assertThat(new String(stored.get(keys[1]), StandardCharsets.US_ASCII)).isEqualTo("oqp1[2.5,-1e-3]");
        assertThat(new String(plan.response(answer), StandardCharsets.UTF_8)).as("vectors byte for byte, counts from upstream")
                .isEqualTo("{\"model\":\"all-minilm\",\"embeddings\":[[1],[2.5,-1e-3],[3],[2.5,-1e-3]],\"total_duration\":7,"
                        + "\"load_duration\":1,\"prompt_eval_count\":4}");
        assertThat(plan.status()).as("X-Cache stays what the lookup found").isEqualTo(CachePlan.Status.PARTIAL);
    }

    @Test
    void repeatedFieldsSurrogatesAndHugeBatchesAreNotCacheable() {
        assertThat(plan(EMBED, "{\"model\":\"m\",\"input\":\"t\",\"options\":{\"num_ctx\":16},\"options\":{\"temperature\":0}}"))
                .as("Go merges repeated objects, a tree keeps the last").isNull();
        assertThat(plan(EMBED, "{\"model\":\"m\",\"input\":\"t\",\"options\":{\"a\":1,\"a\":2}}")).isNull();
        assertThat(plan(EMBED, "{\"model\":\"m\",\"input\":\"Is it safe\\ud800\"}")).as("a lone surrogate").isNull();
        assertThat(plan(EMBED, "{\"model\":\"m\",\"input\":[\"ok\",\"\\udc00x\"]}")).isNull();
        assertThat(plan(EMBED, "{\"model\":\"m\",\"input\":\"t\",\"options\":{\"stop\":\"\\ud800\"}}")).isNull();
        assertThat(plan(EMBED, "{\"model\":\"m\",\"input\":\"emoji \\ud83d\\ude00\"}")).as("a pair is fine").isNotNull();
        StringBuilder batch = new StringBuilder("{\"model\":\"m\",\"input\":[");
        for (int i = 0; i <= CachePlan.MAX_ITEMS; i++) {
            batch.append(i > 0 ? "," : "").append("\"t").append(i).append('"');
        }
        assertThat(plan(EMBED, batch + "]}")).as(CachePlan.MAX_ITEMS + 1 + " items").isNull();
    }

    @Test
    void onlyWholeVectorsWithinTheEntryLimitAreTakenFromTheCache() {
        CachePlan plan = CachePlan.of(EMBED, "{\"model\":\"m\",\"input\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}"
                .getBytes(StandardCharsets.UTF_8), "m:latest", "m", null, "p:", 16);
        int corrupt = plan.found(new byte[][] {
            value("[0.5]],\"model\":\"evil\",\"embeddings\":[[1]"),
            value("[1,\"x\"]"),
            value("[1,2,3,4,5,6,7,8,9]"),
            value("\"AAAA\""),
            value("[1.5e-3,-2]"),
        });
        assertThat(corrupt).as("injected JSON, a non-number, over max_entry_bytes").isEqualTo(3);
        assertThat(plan.hits()).isEqualTo(2);
    }

    @Test
    void aMissSendsTheBodyUnchanged() {
        CachePlan plan = plan(EMBED, "{\"model\":\"m\",\"input\":[\"a\",\"b\"]}");
        plan.found(new byte[2][]);
        byte[] original = "{\"model\":\"m\",  \"input\":[\"a\",\"b\"]}".getBytes(StandardCharsets.UTF_8);
        assertThat(plan.upstreamBody(original)).isSameAs(original);
        assertThat(plan.status()).isEqualTo(CachePlan.Status.MISS);
    }

    @Test
    void garbageValuesAreMissesAndCounted() {
        CachePlan plan = plan(EMBED, "{\"model\":\"m\",\"input\":[\"a\",\"b\",\"c\",\"d\"]}");
        int corrupt = plan.found(new byte[][] {"[1,2]".getBytes(StandardCharsets.US_ASCII), value("[1"), value("x"),
            value("[0.5]")});
        assertThat(corrupt).isEqualTo(3);
        assertThat(plan.hits()).isEqualTo(1);
    }

    @Test
    void openAiAndLegacyShapes() throws IOException {
        CachePlan openai = plan("/v1/embeddings", "{\"model\":\"m\",\"input\":[\"a\",\"b\"]}");
        openai.found(new byte[][] {null, value("\"AAAA\"")});
        openai.upstreamBody(new byte[0]);
        CachePlan.Answer answer = openai.parse(("{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"embedding\":\"BBBB\","
                + "\"index\":0}],\"model\":\"m\",\"usage\":{\"prompt_tokens\":3,\"total_tokens\":3}}").getBytes(StandardCharsets.UTF_8));
        openai.learn(answer);
        assertThat(new String(openai.response(answer), StandardCharsets.UTF_8)).isEqualTo("{\"object\":\"list\",\"data\":["
                + "{\"object\":\"embedding\",\"embedding\":\"BBBB\",\"index\":0},{\"object\":\"embedding\",\"embedding\":\"AAAA\","
                + "\"index\":1}],\"model\":\"all-minilm\",\"usage\":{\"prompt_tokens\":3,\"total_tokens\":3}}");

        CachePlan legacy = plan("/api/embeddings", "{\"model\":\"m\",\"prompt\":\"a\"}");
        legacy.found(new byte[][] {value("[0.25,1]")});
        assertThat(legacy.status()).isEqualTo(CachePlan.Status.HIT);
        assertThat(new String(legacy.response(null), StandardCharsets.UTF_8)).isEqualTo("{\"embedding\":[0.25,1]}");
    }

    @Test
    void anAnswerWithAnotherNumberOfVectorsIsRefused() throws IOException {
        CachePlan plan = plan(EMBED, "{\"model\":\"m\",\"input\":[\"a\",\"b\"]}");
        plan.found(new byte[2][]);
        plan.upstreamBody(new byte[0]);
        CachePlan.Answer one = plan.parse("{\"embeddings\":[[1]]}".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> plan.learn(one)).hasMessageContaining("1 embeddings for 2 inputs");
        assertThatThrownBy(() -> plan.parse("not json".getBytes(StandardCharsets.UTF_8))).isInstanceOf(IOException.class);
    }
}
