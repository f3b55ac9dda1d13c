package dev.oqp.queue.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

/** Each embedding endpoint's request items, the vectors in its answers, and the bodies written in its shape. */
class EmbeddingShapeTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static EmbeddingShape.Request read(EmbeddingShape shape, String body) {
        return shape.readRequest(body.getBytes(StandardCharsets.UTF_8));
    }

    private static CachePlan.Answer answer(EmbeddingShape shape, String body) throws IOException {
        return shape.readAnswer(body.getBytes(StandardCharsets.UTF_8));
    }

    private static List<String> vectors(CachePlan.Answer answer) {
        return answer.vectors().stream().map(v -> new String(v, StandardCharsets.UTF_8)).toList();
    }

    private static String written(EmbeddingShape shape, CachePlan.Answer counts, String... vectors) {
        byte[][] raw = new byte[vectors.length][];
        for (int i = 0; i < vectors.length; i++) {
            raw[i] = vectors[i].getBytes(StandardCharsets.UTF_8);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        shape.writeAnswer(out, "All-MiniLM", raw, counts);
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void eachEmbeddingPathHasItsShapeAndNoOtherPathHasOne() {
        assertThat(EmbeddingShape.of("/api/embed")).isEqualTo(EmbeddingShape.EMBED);
        assertThat(EmbeddingShape.of("/api/embeddings")).isEqualTo(EmbeddingShape.LEGACY);
        assertThat(EmbeddingShape.of("/v1/embeddings")).isEqualTo(EmbeddingShape.OPENAI);
        for (String other : new String[] {"/api/generate", "/api/embed/", "/API/EMBED", "/v1/embedding", ""}) {
            assertThat(EmbeddingShape.of(other)).as(other).isNull();
        }
    }

    @Test
    void aRequestSplitsIntoItsInputAndTheFieldsThatChangeVectors() throws Exception {
        EmbeddingShape.Request embed = read(EmbeddingShape.EMBED,
                "{\"Model\":\"m\",\"INPUT\":[\"a\",\"b\"],\"keep_alive\":\"5m\",\"Truncate\":false,\"prompt\":\"p\",\"user\":\"u\"}");
        assertThat(embed.inputField()).as("as the client spelled it").isEqualTo("INPUT");
        assertThat(embed.items()).containsExactly("a", "b");
        assertThat(embed.params()).isEqualTo(JSON.readTree("{\"truncate\":false,\"prompt\":\"p\",\"user\":\"u\"}"));

        EmbeddingShape.Request legacy = read(EmbeddingShape.LEGACY, "{\"model\":\"m\",\"prompt\":\"a\",\"input\":\"i\"}");
        assertThat(legacy.items()).containsExactly("a");
        assertThat(legacy.params()).isEqualTo(JSON.readTree("{\"input\":\"i\"}"));

        EmbeddingShape.Request openai = read(EmbeddingShape.OPENAI,
                "{\"model\":\"m\",\"input\":\"a\",\"user\":\"u\",\"encoding_format\":\"base64\"}");
        assertThat(openai.params()).as("user only names the caller")
                .isEqualTo(JSON.readTree("{\"encoding_format\":\"base64\"}"));
    }

    @Test
    void onlyOneObjectWithoutRepeatsAndWithCacheableInputIsRead() {
        for (String body : new String[] {"[1]", "\"s\"", "not json", "{\"model\":\"m\"}",
            "{\"input\":\"a\",\"Input\":\"b\"}", "{\"input\":\"a\",\"o\":{\"x\":1,\"x\":2}}", "{\"input\":\"a\",\"o\":1,\"o\":1}"}) {
            assertThat(read(EmbeddingShape.EMBED, body)).as(body).isNull();
        }
    }

    @Test
    void itemsAreNonEmptyTextsAndOnlyBatchingShapesTakeArrays() throws Exception {
        assertThat(EmbeddingShape.EMBED.items(null)).isNull();
        assertThat(EmbeddingShape.EMBED.items(JSON.readTree("\"\""))).isNull();
        assertThat(EmbeddingShape.EMBED.items(JSON.readTree("[]"))).isNull();
        assertThat(EmbeddingShape.EMBED.items(JSON.readTree("[\"a\",1]"))).isNull();
        assertThat(EmbeddingShape.EMBED.items(JSON.readTree("[\"a\",\"\"]"))).isNull();
        assertThat(EmbeddingShape.EMBED.items(JSON.readTree("[[\"a\"]]"))).isNull();
        assertThat(EmbeddingShape.EMBED.items(JSON.readTree("7"))).isNull();
        assertThat(EmbeddingShape.OPENAI.items(JSON.readTree("[\"a\",\"a\"]"))).containsExactly("a", "a");
        assertThat(EmbeddingShape.LEGACY.items(JSON.readTree("\"a\""))).containsExactly("a");
        assertThat(EmbeddingShape.LEGACY.items(JSON.readTree("[\"a\"]"))).as("one prompt only").isNull();
    }

    @Test
    void aBatchMayHoldMaxItemsAndNoMore() {
        StringBuilder batch = new StringBuilder("[");
        for (int i = 0; i < CachePlan.MAX_ITEMS; i++) {
            batch.append(i > 0 ? "," : "").append("\"t").append(i).append('"');
        }
        assertThat(read(EmbeddingShape.EMBED, "{\"input\":" + batch + "]}").items()).hasSize(CachePlan.MAX_ITEMS);
        assertThat(read(EmbeddingShape.OPENAI, "{\"input\":" + batch + ",\"one more\"]}")).isNull();
    }

    @Test
    void aRequestIsWrittenWithItsInputReplacedAndEveryOtherFieldKept() throws Exception {
        EmbeddingShape.Request request = read(EmbeddingShape.OPENAI,
                "{\"model\":\"m\",\"Input\":[\"a\",\"b\",\"c\"],\"dimensions\":8,\"options\":{\"x\":[1]}}");
        byte[] written = EmbeddingShape.OPENAI.writeRequest(request, List.of("c", "a"));
        assertThat(JSON.readTree(written)).isEqualTo(JSON.readTree(
                "{\"model\":\"m\",\"Input\":[\"c\",\"a\"],\"dimensions\":8,\"options\":{\"x\":[1]}}"));
        assertThat(request.items()).as("the read request is left as it was").containsExactly("a", "b", "c");
    }

    @Test
    void ollamasAnswersGiveTheirVectorsByteForByteAndTheirCounts() throws IOException {
        CachePlan.Answer embed = answer(EmbeddingShape.EMBED, "{\"model\":\"m\",\"embeddings\":[[1.50, -2e-3], [0]],"
                + "\"total_duration\":9,\"load_duration\":2,\"prompt_eval_count\":5,\"extra\":{\"a\":[1]}}");
        assertThat(vectors(embed)).containsExactly("[1.50, -2e-3]", "[0]");
        assertThat(List.of(embed.totalDuration(), embed.loadDuration(), embed.promptTokens())).containsExactly(9L, 2L, 5L);

        CachePlan.Answer legacy = answer(EmbeddingShape.LEGACY, "{\"embedding\":[0.25,1],\"total_duration\":9}");
        assertThat(vectors(legacy)).containsExactly("[0.25,1]");
        assertThat(legacy.totalDuration()).as("the legacy answer carries no counts").isZero();
    }

    @Test
    void openAisAnswerIsReadInIndexOrderWithBase64VectorsAsStrings() throws IOException {
        CachePlan.Answer answer = answer(EmbeddingShape.OPENAI, "{\"object\":\"list\",\"data\":["
                + "{\"object\":\"embedding\",\"index\":1,\"embedding\":\"QUFB\"},"
                + "{\"object\":\"embedding\",\"embedding\":[3,4],\"index\":0}],"
                + "\"model\":\"m\",\"usage\":{\"prompt_tokens\":6,\"total_tokens\":6}}");
        assertThat(vectors(answer)).containsExactly("[3,4]", "\"QUFB\"");
        assertThat(answer.promptTokens()).isEqualTo(6);
    }

    @Test
    void anAnswerNotOfItsShapeIsRefused() {
        for (String bad : new String[] {
            "{\"data\":[{\"embedding\":[1],\"index\":1}]}",
            "{\"data\":[{\"embedding\":[1],\"index\":0},{\"embedding\":[2],\"index\":0}]}",
            "{\"data\":[{\"index\":0}]}",
            "[{\"embedding\":[1]}]",
            "{\"data\":[",
        }) {
            assertThatThrownBy(() -> answer(EmbeddingShape.OPENAI, bad)).as(bad).isInstanceOf(IOException.class);
        }
        assertThatThrownBy(() -> answer(EmbeddingShape.EMBED, "{\"embeddings\":[[1,]]}")).isInstanceOf(IOException.class);
    }

    @Test
    void answersAreWrittenInEachShapeAroundTheRawVectors() {
        CachePlan.Answer counts = new CachePlan.Answer(List.of(), 7, 1, 4);
        assertThat(written(EmbeddingShape.EMBED, counts, "[1]", "[2.50]")).isEqualTo("{\"model\":\"All-MiniLM\","
                + "\"embeddings\":[[1],[2.50]],\"total_duration\":7,\"load_duration\":1,\"prompt_eval_count\":4}");
        assertThat(written(EmbeddingShape.LEGACY, counts, "[0.25,1]")).isEqualTo("{\"embedding\":[0.25,1]}");
        assertThat(written(EmbeddingShape.OPENAI, counts, "\"QUFB\"", "[3]")).isEqualTo("{\"object\":\"list\",\"data\":["
                + "{\"object\":\"embedding\",\"embedding\":\"QUFB\",\"index\":0},"
                + "{\"object\":\"embedding\",\"embedding\":[3],\"index\":1}],"
                + "\"model\":\"All-MiniLM\",\"usage\":{\"prompt_tokens\":4,\"total_tokens\":4}}");
    }

    @Test
    void anAnswerReadBackFromItsOwnWritingGivesTheSameVectors() throws IOException {
        CachePlan.Answer counts = new CachePlan.Answer(List.of(), 3, 2, 1);
        for (EmbeddingShape shape : EmbeddingShape.values()) {
            String[] vectors = shape == EmbeddingShape.LEGACY ? new String[] {"[1,2]"} : new String[] {"[1,2]", "[-0.5]"};
            CachePlan.Answer read = answer(shape, written(shape, counts, vectors));
            assertThat(vectors(read)).as(shape.name()).containsExactly(vectors);
        }
    }
}
