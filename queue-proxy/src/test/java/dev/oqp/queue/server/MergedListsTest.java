package dev.oqp.queue.server;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

class MergedListsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static byte[] body(String json) {
        return json.replace('\'', '"').getBytes(UTF_8);
    }

    private static JsonNode merge(String path, String... bodies) {
        List<byte[]> list = new ArrayList<>();
        for (String b : bodies) {
            list.add(body(b));
        }
        byte[] merged = MergedLists.merge(path, list);
        assertThat(merged).as("a merged list").isNotNull();
        try {
            return JSON.readTree(merged);
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + new String(merged, UTF_8), e);
        }
    }

    private static List<String> field(JsonNode array, String name) {
        List<String> values = new ArrayList<>();
        array.forEach(item -> values.add(item.path(name).asText()));
        return values;
    }

    @Test
    void eachModelOnceAcrossHosts() {
        JsonNode merged = merge("/api/tags",
                "{'models':[{'name':'llama3:latest','size':1},{'name':'mistral:7b','size':2}]}",
                "{'models':[{'name':'phi3:mini','size':3},{'name':'mistral:7b','size':4}]}",
                "{'models':[{'name':'llama3:latest','size':5},{'name':'qwen2:7b','size':6}]}");

        assertThat(field(merged.get("models"), "name"))
                .containsExactly("llama3:latest", "mistral:7b", "phi3:mini", "qwen2:7b");
    }

    @Test
    void firstHostsEntryWins() {
        JsonNode merged = merge("/api/tags",
                "{'models':[{'name':'Llama3','size':111,'digest':'aaa'}]}",
                "{'models':[{'name':'library/llama3:latest','size':222,'digest':'bbb'}]}");

        JsonNode models = merged.get("models");
        assertThat(models).hasSize(1);
        assertThat(models.get(0).get("name").asText()).as("kept as the first host spells it").isEqualTo("Llama3");
        assertThat(models.get(0).get("size").asLong()).isEqualTo(111);
        assertThat(models.get(0).get("digest").asText()).isEqualTo("aaa");
    }

    @Test
    void aModelListedTwiceByOneHostIsListedOnce() {
        JsonNode merged = merge("/api/tags", "{'models':[{'name':'llama3'},{'name':'llama3:latest'},{'name':'llama3:8b'}]}");

        assertThat(field(merged.get("models"), "name")).containsExactly("llama3", "llama3:8b");
    }

    @Test
    void psEntriesAreKeyedByNameElseModel() {
        JsonNode merged = merge("/api/ps",
                "{'models':[{'model':'llama3:latest','expires_at':'2025-01-01T00:05:00Z','size_vram':10}]}",
                "{'models':[{'name':'llama3','size_vram':20},{'name':'','model':'phi3:mini','size_vram':30}]}",
                "{'models':[{'model':'phi3:mini','size_vram':40}]}");

        JsonNode models = merged.get("models");
        assertThat(models).hasSize(2);
        assertThat(models.get(0).get("size_vram").asLong()).isEqualTo(10);
        assertThat(models.get(0).get("expires_at").asText()).isEqualTo("2025-01-01T00:05:00Z");
        assertThat(models.get(1).get("size_vram").asLong()).isEqualTo(30);
    }

    @Test
    void ollamaListsHaveOnlyTheModelsArray() {
        JsonNode merged = merge("/api/tags", "{'models':[{'name':'llama3'}],'extra':true}");

        assertThat(merged.isObject()).isTrue();
        assertThat(merged.size()).isEqualTo(1);
        assertThat(merged.get("models").isArray()).isTrue();
        assertThat(merged.has("object")).isFalse();
    }

    @Test
    void openAiModelsHaveTheListShape() {
        JsonNode merged = merge("/v1/models",
                "{'object':'list','data':[{'id':'llama3:latest','object':'model','created':1,'owned_by':'library'}]}",
                "{'object':'list','data':[{'id':'llama3','object':'model','created':2,'owned_by':'library'},"
                        + "{'id':'phi3:mini','object':'model','created':3,'owned_by':'library'}]}");

        assertThat(merged.size()).isEqualTo(2);
        assertThat(merged.get("object").asText()).isEqualTo("list");
        JsonNode data = merged.get("data");
        assertThat(data.isArray()).isTrue();
        assertThat(field(data, "id")).containsExactly("llama3:latest", "phi3:mini");
        assertThat(data.get(0).get("created").asLong()).as("first host's entry").isEqualTo(1);
        assertThat(merged.has("models")).isFalse();
    }

    @Test
    void openAiModelsAreKeyedByIdNotName() {
        JsonNode merged = merge("/v1/models",
                "{'object':'list','data':[{'id':'a:1','name':'same'},{'id':'b:1','name':'same'}]}");

        assertThat(field(merged.get("data"), "id")).containsExactly("a:1", "b:1");
    }

    @Test
    void invalidBodiesAreSkipped() {
        JsonNode merged = merge("/api/tags",
                "not json at all",
                "",
                "{'error':'model list unavailable'}",
                "{'models':{'name':'x:1'}}",
                "{'models':'llama3'}",
                "[{'name':'y:1'}]",
                "{'models':[{'name':'llama3'}]}",
                "{'models':[{'name':'phi3",
                "{'models':[{'name':'mistral'}]}");

        assertThat(field(merged.get("models"), "name")).containsExactly("llama3", "mistral");
    }

    @Test
    void anEmptyListFromAHostIsStillAnAnswer() {
        JsonNode merged = merge("/api/tags", "garbage", "{'models':[]}");

        assertThat(merged.get("models").isArray()).isTrue();
        assertThat(merged.get("models")).isEmpty();

        JsonNode openAi = merge("/v1/models", "{'object':'list','data':[]}");
        assertThat(openAi.get("object").asText()).isEqualTo("list");
        assertThat(openAi.get("data")).isEmpty();
    }

    @Test
    void nullWhenNoBodyIsUsable() {
        assertThat(MergedLists.merge("/api/tags", List.of())).isNull();
        assertThat(MergedLists.merge("/api/tags", List.of(body("nope"), body(""), body("{'data':[]}")))).isNull();
        assertThat(MergedLists.merge("/api/ps", List.of(body("{'models':null}")))).isNull();
        assertThat(MergedLists.merge("/v1/models", List.of(body("{'models':[{'name':'llama3'}]}"))))
                .as("an Ollama list is not the OpenAI shape").isNull();
    }
}
