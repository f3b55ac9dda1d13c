package dev.oqp.common.config;

import java.net.URI;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One Ollama host of the fleet ({@code ollama.hosts[]}).
 *
 * @param name          unique, {@code [A-Za-z0-9._-]{1,64}}; used in metrics labels and {@code X-Upstream-Host}
 * @param url           http(s) base URL without path, query or credentials
 * @param maxConcurrent upstream slots on this host (about OLLAMA_NUM_PARALLEL x models); default 2; always >= 1
 * @param weight        tie-breaker between equally good hosts, higher preferred; default 1; always >= 1
 * @param headers       headers added to every request sent to this host, values interpolated; default empty
 * @param models        per-model settings on this host, by model name as written (matched the way Ollama matches
 *                      names, see {@link ModelNames}; no two name one model); an entry wins over a glob of
 *                      {@link OllamaConfig#models()}; default empty
 * @param preload       models loaded on this host at start and whenever it answers again after being down (an
 *                      empty generate with the configured {@code keep_alive}), as written; default empty
 */
public record HostConfig(String name, URI url, int maxConcurrent, int weight, Map<String, String> headers,
                         Map<String, ModelConfig> models, List<String> preload) {

    public static final int DEFAULT_MAX_CONCURRENT = 2;
    public static final int DEFAULT_WEIGHT = 1;

    public HostConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(url, "url");
        Checks.range("maxConcurrent", maxConcurrent, 1, Integer.MAX_VALUE);
        Checks.range("weight", weight, 1, Integer.MAX_VALUE);
        headers = Checks.headers(headers);
        models = Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(models, "models")));
        preload = List.copyOf(preload);
    }

    /** A host without per-model settings. */
    public HostConfig(String name, URI url, int maxConcurrent, int weight, Map<String, String> headers) {
        this(name, url, maxConcurrent, weight, headers, Map.of(), List.of());
    }

    /** Header values are secrets: shown as {@code ***}. */
    @Override
    public String toString() {
        return "HostConfig[name=" + name + ", url=" + url + ", maxConcurrent=" + maxConcurrent + ", weight=" + weight
                + ", headers=" + headers.keySet() + "=***, models=" + models + ", preload=" + preload + "]";
    }
}
