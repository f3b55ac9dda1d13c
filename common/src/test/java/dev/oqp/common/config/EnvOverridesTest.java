package dev.oqp.common.config;

import static dev.oqp.common.config.Yaml.proxy;
import static dev.oqp.common.config.Yaml.proxyProblems;
import static dev.oqp.common.config.Yaml.sidecar;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** {@code OQP_SECTION__KEY} environment overrides: what they set, in which schema, and what a bad one says. */
class EnvOverridesTest {
    private static final String HOSTS = "ollama:\n  hosts:\n    - {name: gpu-1, url: \"http://127.0.0.1:11434\"}\n";

    @Test
    void anOverrideWinsOverTheFileAndNestsWithDoubleUnderscores() throws ConfigException {
        OqpConfig c = proxy("proxy:\n  port: 11500\n" + HOSTS, Map.of("OQP_PROXY__PORT", "11600",
                "OQP_EMBEDDING_CACHE__KEY_PREFIX", "mine:", "OQP_Queue__High__Max_Wait", "45"));

        assertThat(c.proxy().port()).isEqualTo(11600);
        assertThat(c.embeddingCache().keyPrefix()).isEqualTo("mine:");
        assertThat(c.queue().high().maxWait()).isEqualTo(Duration.ofSeconds(45));
    }

    @Test
    void overridesApplyToTheEmbeddedDefaultsToo() throws ConfigException {
        OqpConfig c = ConfigLoader.defaults(Target.QUEUE_PROXY, Map.of("OQP_AUTH__KEYS__0__CLIENT_ID", "ops",
                "OQP_AUTH__KEYS__0__KEY_ENV", "OPS_KEY", "OPS_KEY", "ops-secret-0123456789ab"));

        assertThat(c.auth().enabled()).isTrue();
        assertThat(c.auth().keys()).singleElement().satisfies(k -> assertThat(k.clientId()).isEqualTo("ops"));
    }

    @Test
    void listIndicesReplaceAnEntryOrAppendOneAndBeyondIsAProblemNamingTheVariable() throws ConfigException {
        OqpConfig c = proxy(HOSTS, Map.of("OQP_OLLAMA__HOSTS__0__URL", "http://10.0.0.7:11434",
                "OQP_OLLAMA__HOSTS__1__NAME", "gpu-2", "OQP_OLLAMA__HOSTS__1__URL", "http://10.0.0.8:11434"));
        assertThat(c.ollama().hosts()).extracting(h -> h.url().toString())
                .containsExactly("http://10.0.0.7:11434", "http://10.0.0.8:11434");

        assertThat(proxyProblems(HOSTS, Map.of("OQP_OLLAMA__HOSTS__3__URL", "http://10.0.0.9:11434")))
                .containsExactly("OQP_OLLAMA__HOSTS__3__URL: index 3 is beyond the end of ollama.hosts (it has 1"
                        + " entry; index 1 adds one)");
        assertThat(proxyProblems("", Map.of("OQP_OLLAMA__HOSTS__2__URL", "http://10.0.0.9:11434")))
                .as("nothing is left behind by a variable that cannot apply").containsExactly(
                        "OQP_OLLAMA__HOSTS__2__URL: index 2 is beyond the end of ollama.hosts (it has 0 entries; index 0"
                                + " adds one)");
    }

    @Test
    void aBadValueNamesTheVariableAndASecretIsNeverEchoed() {
        List<String> problems = proxyProblems(HOSTS + "auth:\n  keys:\n    - {client_id: a}\n",
                Map.of("OQP_PROXY__PORT", "abc", "OQP_AUTH__KEYS__0__KEY", "short-secret"));

        assertThat(problems).contains("proxy.port (from OQP_PROXY__PORT): abc (expected: an integer 1024-65535)");
        assertThat(String.join("\n", problems)).contains("auth.keys[0].key (from OQP_AUTH__KEYS__0__KEY): too short").doesNotContain("short-secret");
    }

    @Test
    void variablesThatNameNoSectionAreLeftAloneAndValuesAreNotInterpolated() throws ConfigException {
        OqpConfig c = proxy(HOSTS, Map.of("OQP_CONFIG", "/etc/oqp.yml", "OQP_REQUIRE_REDIS", "1",
                "OQP_WEBHOOK_SECRET", "s", "OQP_EMBEDDING_CACHE__KEY_PREFIX", "p${HOME}:"));

        assertThat(c.embeddingCache().keyPrefix()).isEqualTo("p${HOME}:");
    }

    @Test
    void theSidecarTakesOverridesOfItsServices() throws ConfigException {
        OqpConfig c = sidecar("services:\n  - {name: a, listen: 11437, upstream: \"http://127.0.0.1:11434\"}\n");
        assertThat(c.services().get(0).listen()).isEqualTo(11437);

        OqpConfig overridden = ConfigLoader.parse("services:\n  - {name: a, listen: 11437, upstream:"
                + " \"http://127.0.0.1:11434\"}\n", Target.SIDECAR, Map.of("OQP_SERVICES__0__LISTEN", "11438",
                "OQP_SERVICES__0__HEADERS__X_TEAM", "blue"));
        assertThat(overridden.services().get(0).listen()).isEqualTo(11438);
        assertThat(overridden.services().get(0).headers()).containsEntry("x_team", "blue");
    }

    @Test
    void anOverrideThroughASingleValueIsAProblemNamingTheVariable() {
        assertThat(proxyProblems("proxy:\n  port: 11435\n", Map.of("OQP_PROXY__PORT__X", "1")))
                .containsExactly("OQP_PROXY__PORT__X: proxy.port holds a single value in the file, not a map");
    }
}
