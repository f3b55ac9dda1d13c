package dev.oqp.queue.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import dev.oqp.common.config.Scope;
import dev.oqp.common.config.Tier;
import org.junit.jupiter.api.Test;

class ModelGlobsTest {

    @Test
    void emptyListAllowsEveryModel() {
        assertThat(ModelGlobs.allows(List.of(), "llama3:latest")).isTrue();
        assertThat(ModelGlobs.allows(List.of(), "hf.co/org/model:q4_k_m")).isTrue();
    }

    @Test
    void exactGlobMatchesOnlyThatModel() {
        assertThat(ModelGlobs.matches("qwen2.5:7b", "qwen2.5:7b")).isTrue();
        assertThat(ModelGlobs.matches("qwen2.5:7b", "qwen2.5:14b")).isFalse();
        assertThat(ModelGlobs.matches("qwen2.5:7b", "qwen2.5:7b-instruct")).isFalse();
    }

    @Test
    void taglessGlobMeansTheLatestTag() {
        assertThat(ModelGlobs.matches("llama3", "llama3:latest")).isTrue();
        assertThat(ModelGlobs.matches("llama3", "llama3:70b")).isFalse();
        assertThat(ModelGlobs.matches("llama3", "llama3.1:latest")).isFalse();
    }

    @Test
    void starMatchesAnyRunIncludingTagsAndNamespaces() {
        assertThat(ModelGlobs.matches("llama3*", "llama3:latest")).isTrue();
        assertThat(ModelGlobs.matches("llama3*", "llama3.1:8b")).isTrue();
        assertThat(ModelGlobs.matches("llama3:*", "llama3:70b")).isTrue();
        assertThat(ModelGlobs.matches("llama3:*", "llama3.1:8b")).isFalse();
        assertThat(ModelGlobs.matches("*", "hf.co/org/model:q4")).isTrue();
        assertThat(ModelGlobs.matches("*embed*", "nomic-embed-text:latest")).isTrue();
        assertThat(ModelGlobs.matches("*embed*", "llama3:latest")).isFalse();
        assertThat(ModelGlobs.matches("a*b*c", "aXbYbZc:7b")).isFalse();
        assertThat(ModelGlobs.matches("a*b*c", "aXbYbZc:latest")).isTrue();
        assertThat(ModelGlobs.matches("a*b*c:*", "aXbYbZc:latest")).isTrue();
    }

    @Test
    void questionMarkMatchesExactlyOneCharacter() {
        assertThat(ModelGlobs.matches("qwen?:7b", "qwen2:7b")).isTrue();
        assertThat(ModelGlobs.matches("qwen?:7b", "qwen:7b")).isFalse();
        assertThat(ModelGlobs.matches("qwen?:7b", "qwen25:7b")).isFalse();
        assertThat(ModelGlobs.matches("llama?", "llama3:latest")).isTrue();
    }

    @Test
    void matchingIgnoresCase() {
        assertThat(ModelGlobs.matches("Llama3", "llama3:latest")).isTrue();
        assertThat(ModelGlobs.matches("llama3:LATEST", "LLAMA3:latest")).isTrue();
        assertThat(ModelGlobs.matches("MISTRAL*", "mistral-nemo:12b")).isTrue();
    }

    @Test
    void anyGlobInTheListAllows() {
        List<String> globs = List.of("llama3*", "qwen2.5:7b");
        assertThat(ModelGlobs.allows(globs, "qwen2.5:7b")).isTrue();
        assertThat(ModelGlobs.allows(globs, "llama3.2:1b")).isTrue();
        assertThat(ModelGlobs.allows(globs, "mistral:latest")).isFalse();
    }

    @Test
    void pathologicalGlobsFinishQuickly() {
        String name = "a".repeat(200) + ":latest";
        assertThat(ModelGlobs.matches("*a*a*a*a*a*a*a*a*a*a*b", name)).isFalse();
    }

    @Test
    void clientAppliesItsOwnAllowList() {
        Client client = new Client("c", Scope.INFERENCE, Tier.NORMAL, 0, List.of("llama3"));
        assertThat(client.allowsModel("llama3:latest")).isTrue();
        assertThat(client.allowsModel("mistral:latest")).isFalse();
    }
}
