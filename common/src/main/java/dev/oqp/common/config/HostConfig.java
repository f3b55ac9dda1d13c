package dev.oqp.common.config;

import java.net.URI;
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
 */
public record HostConfig(String name, URI url, int maxConcurrent, int weight, Map<String, String> headers) {

    public static final int DEFAULT_MAX_CONCURRENT = 2;
    public static final int DEFAULT_WEIGHT = 1;

    public HostConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(url, "url");
        Checks.range("maxConcurrent", maxConcurrent, 1, Integer.MAX_VALUE);
        Checks.range("weight", weight, 1, Integer.MAX_VALUE);
        headers = Checks.headers(headers);
    }

    /** Header values are secrets: shown as {@code ***}. */
    @Override
    public String toString() {
        return "HostConfig[name=" + name + ", url=" + url + ", maxConcurrent=" + maxConcurrent + ", weight=" + weight
                + ", headers=" + headers.keySet() + "=***]";
    }
}
