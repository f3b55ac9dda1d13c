package dev.oqp.common.config;

import static dev.oqp.common.config.Yaml.proxy;
import static dev.oqp.common.config.Yaml.proxyProblems;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

/** {@code ollama.hosts[].models}, {@code ollama.hosts[].preload} and {@code ollama.models}. */
class ModelsConfigTest {

    @Test
    void hostModelsPreloadAndFleetGlobsAreBoundAndDefaultToNone() throws ConfigException {
        OllamaConfig o = proxy("""
                ollama:
                  hosts:
                    - name: gpu-1
                      url: http://gpu-1:11434
                      models:
                        "llama3.3:70b": { max_concurrent: 1, pin: true }
                        nomic-embed-text: {}
                      preload: [nomic-embed-text, "qwen2.5:7b"]
                    - name: gpu-2
                      url: http://gpu-2:11434
                  models:
                    "llama3.3:*": { max_concurrent: 2 }
                    "*": { max_concurrent: 4 }
                """).ollama();
        HostConfig gpu1 = o.hosts().get(0);
        assertThat(gpu1.models()).containsOnlyKeys("llama3.3:70b", "nomic-embed-text");
        assertThat(gpu1.models().get("llama3.3:70b")).isEqualTo(new ModelConfig(1, true));
        assertThat(gpu1.models().get("nomic-embed-text")).isEqualTo(ModelConfig.NONE);
        assertThat(gpu1.preload()).containsExactly("nomic-embed-text", "qwen2.5:7b");
        assertThat(o.hosts().get(1).models()).isEmpty();
        assertThat(o.hosts().get(1).preload()).isEmpty();
        assertThat(o.models().keySet()).containsExactly("llama3.3:*", "*");
        assertThat(o.models().get("llama3.3:*").maxConcurrent()).isEqualTo(2);
        assertThat(proxy("{}").ollama().models()).isEmpty();
    }

    @Test
    void everyProblemIsListedAtOnce() {
        List<String> problems = proxyProblems("""
                ollama:
                  hosts:
                    - name: gpu-1
                      url: http://gpu-1:11434
                      models:
                        "llama3": { max_concurrent: -1 }
                        "LLAMA3:latest": { pin: maybe }
                        "qwen*": { max_concurrent: 1 }
                        "mistral": { cap: 1 }
                      preload: [nomic-embed-text, "library/nomic-embed-text", "phi*", ""]
                  models:
                    "llama3.3:*": { max_concurrent: 1, pin: true }
                """);
        assertThat(problems).containsExactlyInAnyOrder(
                "ollama.hosts[0].models.llama3.max_concurrent: -1 (expected: >= 0)",
                "ollama.hosts[0].models.LLAMA3:latest.pin: maybe (expected: true or false)",
                "ollama.hosts[0].models.LLAMA3:latest: LLAMA3:latest names the same model as"
                        + " ollama.hosts[0].models.llama3 (expected: one entry per model)",
                "ollama.hosts[0].models.qwen*: qwen* is a glob (expected: a model name such as llama3.3:70b, without"
                        + " spaces; globs go in ollama.models)",
                "ollama.hosts[0].models.mistral.cap: unknown key (expected one of: max_concurrent, pin)",
                "ollama.hosts[0].preload[1]: library/nomic-embed-text names the same model as"
                        + " ollama.hosts[0].preload[0] (expected: one entry per model)",
                "ollama.hosts[0].preload[2]: phi* is a glob (expected: a model name such as llama3.3:70b, without"
                        + " spaces)",
                "ollama.hosts[0].preload[3]: \"\" (expected: a model name such as llama3.3:70b, without spaces)",
                "ollama.models.llama3.3:*.pin: true on a glob (expected: pin a model by its name under"
                        + " ollama.hosts[].models)");
    }
}
