package dev.oqp.queue.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.config.KeepAliveConfig;
import org.junit.jupiter.api.Test;

class InferenceBodyTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static InferenceBody parse(String path, String body) throws InferenceBody.BadBody {
        return InferenceBody.parse(path, bytes(body));
    }

    @Test
    void modelIsReadAsSentAndCanonicalisedForRouting() throws Exception {
        InferenceBody body = parse("/api/chat", "{\"messages\":[{\"role\":\"user\",\"content\":\"{\\\"model\\\":\\\"x\\\"}\"}],"
                + "\"options\":{\"model\":\"nested\"},\"model\":\"Library/LLaMA3\"}");
        assertThat(body.model()).isEqualTo("Library/LLaMA3");
        assertThat(body.canonicalModel()).isEqualTo("llama3:latest");
    }

    @Test
    void streamingFollowsTheFieldElseTheEndpointDefault() throws Exception {
        assertThat(parse("/api/generate", "{\"model\":\"m\"}").stream()).isTrue();
        assertThat(parse("/api/chat", "{\"model\":\"m\",\"stream\":false}").stream()).isFalse();
        assertThat(parse("/v1/chat/completions", "{\"model\":\"m\"}").stream()).isFalse();
        assertThat(parse("/v1/chat/completions", "{\"model\":\"m\",\"stream\":true}").stream()).isTrue();
        assertThat(parse("/api/embed", "{\"model\":\"m\"}").stream()).isFalse();
        assertThat(parse("/api/generate", "{\"model\":\"m\",\"stream\":null}").stream()).isTrue();
    }

    @Test
    void bodiesThatAreNotOneJsonObjectAreRefused() {
        assertThatThrownBy(() -> parse("/api/chat", "")).hasMessage("missing request body");
        assertThatThrownBy(() -> parse("/api/chat", "[1,2]")).hasMessage("request body must be a JSON object");
        assertThatThrownBy(() -> parse("/api/chat", "\"text\"")).hasMessage("request body must be a JSON object");
        assertThatThrownBy(() -> parse("/api/chat", "{\"model\":")).hasMessage("invalid JSON in request body");
        assertThatThrownBy(() -> parse("/api/chat", "{} {}")).hasMessage("request body must be a single JSON object");
    }

    @Test
    void missingOrNonStringModelIsNull() throws Exception {
        assertThat(parse("/api/chat", "{}").model()).isNull();
        assertThat(parse("/api/chat", "{\"model\":7}").canonicalModel()).isNull();
    }

    @Test
    void keepAliveDefaultIsAddedOnlyWhenAbsent() throws Exception {
        KeepAliveConfig tenMinutes = new KeepAliveConfig("10m", false);
        String raw = "{\"model\":\"m\",\"prompt\":\"hi\"}";
        JsonNode added = JSON.readTree(parse("/api/generate", raw).withKeepAlive("/api/generate", bytes(raw), tenMinutes));
        assertThat(added.get("keep_alive").asText()).isEqualTo("10m");
        assertThat(added.get("prompt").asText()).isEqualTo("hi");

        String own = "{\"model\":\"m\",\"keep_alive\":-1}";
        byte[] kept = parse("/api/chat", own).withKeepAlive("/api/chat", bytes(own), tenMinutes);
        assertThat(new String(kept, StandardCharsets.UTF_8)).isEqualTo(own);

        JsonNode seconds = JSON.readTree(parse("/api/embed", " { } ").withKeepAlive("/api/embed", bytes(" { } "),
                new KeepAliveConfig("300", false)));
        assertThat(seconds.get("keep_alive").isNumber()).isTrue();
        assertThat(seconds.get("keep_alive").asLong()).isEqualTo(300);
    }

    @Test
    void keepAliveOverrideIsAppendedLastSoItWinsInOllama() throws Exception {
        String own = "{\"model\":\"m\",\"keep_alive\":\"-1\"}\n";
        String out = new String(parse("/api/chat", own).withKeepAlive("/api/chat", bytes(own),
                new KeepAliveConfig("5m", true)), StandardCharsets.UTF_8);
        assertThat(out).isEqualTo("{\"model\":\"m\",\"keep_alive\":\"-1\",\"keep_alive\":\"5m\"}\n");
    }

    @Test
    void openAiEndpointsAndAnUnsetDefaultAreLeftAlone() throws Exception {
        String raw = "{\"model\":\"m\"}";
        byte[] body = bytes(raw);
        assertThat(parse("/v1/chat/completions", raw).withKeepAlive("/v1/chat/completions", body,
                new KeepAliveConfig("10m", true))).isSameAs(body);
        assertThat(parse("/api/chat", raw).withKeepAlive("/api/chat", body, KeepAliveConfig.DEFAULT)).isSameAs(body);
    }

    @Test
    void keepAliveNullGetsTheConfiguredDefaultAppendedSoItWins() throws Exception {
        String own = "{\"model\":\"m\",\"keep_alive\":null}";
        InferenceBody parsed = InferenceBody.parse("/api/chat", own.getBytes(StandardCharsets.UTF_8));

        String out = new String(parsed.withKeepAlive("/api/chat", own.getBytes(StandardCharsets.UTF_8),
                new KeepAliveConfig("10m", false)), StandardCharsets.UTF_8);

        assertThat(out).isEqualTo("{\"model\":\"m\",\"keep_alive\":null,\"keep_alive\":\"10m\"}");
    }

    @Test
    void modelKeysAreMatchedAsOllamaMatchesThemSoAnAllowListCannotBeSidestepped() throws Exception {
        for (String body : new String[] {"{\"model\":\"llama3\",\"MODEL\":\"forbidden\"}",
                "{\"model\":\"llama3\",\"Model\":\"forbidden\"}", "{\"model\":\"a\",\"model\":\"b\"}"}) {
            assertThatThrownBy(() -> InferenceBody.parse("/api/generate", body.getBytes(StandardCharsets.UTF_8)))
                    .as(body).isInstanceOf(InferenceBody.BadBody.class).hasMessageContaining("more than one model");
        }
        InferenceBody upper = InferenceBody.parse("/api/generate",
                "{\"MoDeL\":\"llama3\",\"KEEP_ALIVE\":\"5m\",\"\u017Ftream\":false}".getBytes(StandardCharsets.UTF_8));
        assertThat(upper.canonicalModel()).isEqualTo("llama3:latest");
        assertThat(upper.hasKeepAlive()).isTrue();
        InferenceBody kelvin = InferenceBody.parse("/api/chat",
                "{\"model\":\"m\",\"\u212Aeep_alive\":\"5m\"}".getBytes(StandardCharsets.UTF_8));
        assertThat(kelvin.hasKeepAlive()).isTrue();
    }

    @Test
    void overlongOrControlCharacterModelNamesAre400() {
        for (String model : new String[] {"x".repeat(257), "llama3\\nforged", "a b", ""}) {
            String body = "{\"model\":\"" + model + "\"}";
            assertThatThrownBy(() -> InferenceBody.parse("/api/generate", body.getBytes(StandardCharsets.UTF_8)))
                    .as(model).isInstanceOf(InferenceBody.BadBody.class).hasMessage("invalid model name");
        }
    }
}
