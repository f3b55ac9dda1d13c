package dev.oqp.common.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.List;
import java.util.Map;

/** Test helpers: load YAML text and get either the config or the problems. */
final class Yaml {

    static final Map<String, String> NO_ENV = Map.of();

    private Yaml() {
    }

    static OqpConfig proxy(String yaml) throws ConfigException {
        return ConfigLoader.parse(yaml, Target.QUEUE_PROXY, NO_ENV);
    }

    static OqpConfig proxy(String yaml, Map<String, String> env) throws ConfigException {
        return ConfigLoader.parse(yaml, Target.QUEUE_PROXY, env);
    }

    static OqpConfig sidecar(String yaml) throws ConfigException {
        return ConfigLoader.parse(yaml, Target.SIDECAR, NO_ENV);
    }

    static List<String> problems(String yaml, Target target, Map<String, String> env) {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse(yaml, target, env));
        assertThat(e).as("expected problems for:\n" + yaml).isNotNull();
        assertThat(e.getMessage()).isEqualTo(String.join("\n", e.problems()));
        return e.problems();
    }

    static List<String> proxyProblems(String yaml) {
        return problems(yaml, Target.QUEUE_PROXY, NO_ENV);
    }

    static List<String> proxyProblems(String yaml, Map<String, String> env) {
        return problems(yaml, Target.QUEUE_PROXY, env);
    }

    static List<String> sidecarProblems(String yaml) {
        return problems(yaml, Target.SIDECAR, NO_ENV);
    }
}
