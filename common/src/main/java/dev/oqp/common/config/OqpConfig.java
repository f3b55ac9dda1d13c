package dev.oqp.common.config;

import java.util.List;
import java.util.Objects;

/**
 * The whole configuration file, shared by both binaries, immutable once loaded. Obtain one from
 * {@link ConfigLoader}; a reload builds a new instance.
 *
 * @param services       client injection ports; the sidecar's whole job (default: none)
 * @param proxy          the queue proxy's main listener
 * @param ollama         the upstream Ollama fleet (default: one host from {@code OLLAMA_HOST})
 * @param queue          the three priority tiers and their limits
 * @param auth           per-client keys (default: off when no keys are listed)
 * @param routing        host selection
 * @param embeddingCache the embedding cache (default: in memory)
 * @param keepAlive      Ollama {@code keep_alive} injection (default: none)
 * @param admin          metrics and dashboard exposure
 * @param logging        log level and format, used by both binaries
 * @param sidecar        sidecar-only settings (metrics port, drain)
 * @param webhooks       event notifications of the queue proxy (default: none)
 * @param coordination   replicas acting as one through Valkey (default: off)
 */
public record OqpConfig(List<ServiceConfig> services, ProxyConfig proxy, OllamaConfig ollama, QueueConfig queue,
        AuthConfig auth, RoutingConfig routing, EmbeddingCacheConfig embeddingCache, KeepAliveConfig keepAlive,
        AdminConfig admin, LoggingConfig logging, SidecarConfig sidecar, WebhooksConfig webhooks,
        CoordinationConfig coordination) {

    public OqpConfig {
        services = List.copyOf(services);
        Objects.requireNonNull(proxy, "proxy");
        Objects.requireNonNull(ollama, "ollama");
        Objects.requireNonNull(queue, "queue");
        Objects.requireNonNull(auth, "auth");
        Objects.requireNonNull(routing, "routing");
        Objects.requireNonNull(embeddingCache, "embeddingCache");
        Objects.requireNonNull(keepAlive, "keepAlive");
        Objects.requireNonNull(admin, "admin");
        Objects.requireNonNull(logging, "logging");
        Objects.requireNonNull(sidecar, "sidecar");
        Objects.requireNonNull(webhooks, "webhooks");
        Objects.requireNonNull(coordination, "coordination");
    }

    /** A configuration of one replica on its own. */
    public OqpConfig(List<ServiceConfig> services, ProxyConfig proxy, OllamaConfig ollama, QueueConfig queue,
            AuthConfig auth, RoutingConfig routing, EmbeddingCacheConfig embeddingCache, KeepAliveConfig keepAlive,
            AdminConfig admin, LoggingConfig logging, SidecarConfig sidecar, WebhooksConfig webhooks) {
        this(services, proxy, ollama, queue, auth, routing, embeddingCache, keepAlive, admin, logging, sidecar, webhooks,
                CoordinationConfig.OFF);
    }

    /** A configuration without webhooks. */
    public OqpConfig(List<ServiceConfig> services, ProxyConfig proxy, OllamaConfig ollama, QueueConfig queue,
            AuthConfig auth, RoutingConfig routing, EmbeddingCacheConfig embeddingCache, KeepAliveConfig keepAlive,
            AdminConfig admin, LoggingConfig logging, SidecarConfig sidecar) {
        this(services, proxy, ollama, queue, auth, routing, embeddingCache, keepAlive, admin, logging, sidecar,
                WebhooksConfig.NONE, CoordinationConfig.OFF);
    }
}
