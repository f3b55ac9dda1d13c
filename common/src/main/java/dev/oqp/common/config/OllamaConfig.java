package dev.oqp.common.config;

import java.net.URI;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The upstream fleet ({@code ollama:}).
 *
 * @param hosts               at least one; default one host named {@code default} from {@code OLLAMA_HOST},
 *                            else {@code http://127.0.0.1:11434}
 * @param connectTimeout      upstream connect timeout; default 5s; always positive
 * @param requestTimeout      upstream idle timeout (not total); default 300s; always positive
 * @param healthCheckInterval default 10s; always positive
 * @param modelSyncInterval   period of {@code /api/tags} and {@code /api/ps} on every host; default 15s; always positive
 * @param models              fleet-wide per-model settings by model glob ({@code llama3.3:*}; the allow-list's glob
 *                            rule), in file order (the first glob that matches applies); only {@code max_concurrent};
 *                            a host's own entry for the model wins; default empty
 */
public record OllamaConfig(List<HostConfig> hosts, Duration connectTimeout, Duration requestTimeout,
        Duration healthCheckInterval, Duration modelSyncInterval, Map<String, ModelConfig> models) {

    /** The name of the one host used when {@code hosts} is omitted. */
    public static final String DEFAULT_HOST_NAME = "default";
    /** The URL of that host when {@code OLLAMA_HOST} is unset or empty: Ollama's own default. */
    public static final URI DEFAULT_HOST_URL = URI.create("http://127.0.0.1:11434");
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(300);
    public static final Duration DEFAULT_HEALTH_CHECK_INTERVAL = Duration.ofSeconds(10);
    public static final Duration DEFAULT_MODEL_SYNC_INTERVAL = Duration.ofSeconds(15);

    public OllamaConfig {
        hosts = List.copyOf(hosts);
        if (hosts.isEmpty()) {
            throw new IllegalArgumentException("hosts: empty (expected: at least one host)");
        }
        Checks.positive("connectTimeout", connectTimeout);
        Checks.positive("requestTimeout", requestTimeout);
        Checks.positive("healthCheckInterval", healthCheckInterval);
        Checks.positive("modelSyncInterval", modelSyncInterval);
        models = Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(models, "models")));
    }

    /** Without fleet-wide model settings. */
    public OllamaConfig(List<HostConfig> hosts, Duration connectTimeout, Duration requestTimeout,
                        Duration healthCheckInterval, Duration modelSyncInterval) {
        this(hosts, connectTimeout, requestTimeout, healthCheckInterval, modelSyncInterval, Map.of());
    }
}
