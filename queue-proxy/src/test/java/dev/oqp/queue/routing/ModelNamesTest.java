package dev.oqp.queue.routing;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ModelNamesTest {
    @Test
    void allSpellingsOfTheDefaultNamespaceAreOneModel() {
        for (String name : new String[] {"llama3", "llama3:latest", "library/llama3", "library/llama3:latest",
                "registry.ollama.ai/library/llama3:latest", " LLaMA3 ", "llama3@sha256:abc"}) {
            assertThat(ModelNames.normalise(name)).as(name).isEqualTo("llama3:latest");
        }
    }

    @Test
    void tagsNamespacesAndRegistriesAreKept() {
        assertThat(ModelNames.normalise("llama3:8b")).isEqualTo("llama3:8b");
        assertThat(ModelNames.normalise("mattw/pygmalion")).isEqualTo("mattw/pygmalion:latest");
        assertThat(ModelNames.normalise("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M"))
                .isEqualTo("hf.co/bartowski/llama-3.2-1b-instruct-gguf:q4_k_m");
        assertThat(ModelNames.normalise("myregistry:5000/team/model")).isEqualTo("myregistry:5000/team/model:latest");
    }

    @Test
    void blankNamesHaveNoCanonicalForm() {
        assertThat(ModelNames.normalise(null)).isNull();
        assertThat(ModelNames.normalise("  ")).isNull();
        assertThat(ModelNames.same(null, null)).isFalse();
        assertThat(ModelNames.same("llama3", "library/llama3:latest")).isTrue();
        assertThat(ModelNames.same("llama3:8b", "llama3")).isFalse();
    }
}
