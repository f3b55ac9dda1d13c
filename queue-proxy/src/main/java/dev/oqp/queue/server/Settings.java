package dev.oqp.queue.server;

import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToIntFunction;

import dev.oqp.common.config.KeyConfig;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.Scope;
import dev.oqp.common.config.ServiceConfig;
import dev.oqp.common.config.Tier;
import dev.oqp.common.proxy.Upstream;
import dev.oqp.queue.auth.Client;
import dev.oqp.queue.auth.FailureLimiter;
import dev.oqp.queue.auth.HeaderClients;
import dev.oqp.queue.auth.KeyRegistry;
import dev.oqp.queue.cache.CacheService;
import dev.oqp.queue.routing.FleetMonitor;
import dev.oqp.queue.routing.Host;

/**
 * Everything a request reads from the configuration, as one immutable snapshot: the config in force, the keys
 * built from it, the failed-key limiter, the embedding cache, and each port's client and upstream idle
 * timeout. A request captures the snapshot in force when it arrives ({@link Call#settings}) and reads only
 * that one to its end; a reload builds a new snapshot and swaps it whole, so no request ever sees half-old,
 * half-new settings. Objects with live state (the fleet, the slot pool, the queue, the body budget) are not
 * here: they take a {@code reconfigure} of their own.
 */
final class Settings {
    private final OqpConfig config;
    private final KeyRegistry keys;
    private final FailureLimiter limiter;
    private final CacheService cache;
    private final Map<Port, PortSettings> ports;
    /** The client ids the file names ({@code auth.keys[]}, {@code services[].client}), to their clients. */
    private final Map<String, Client> named;
    /** The client ids whose key has {@code early_headers: true}. */
    private final Set<String> earlyHeaderClients;

    /** One port's part: its client for requests without a known key, and its upstreams (with its idle timeout). */
    private record PortSettings(Client serviceClient, Duration idleTimeout, Map<Host, Upstream> upstreams) {
    }

    private Settings(OqpConfig config, KeyRegistry keys, FailureLimiter limiter, CacheService cache,
                     Map<Port, PortSettings> ports) {
        this.config = config;
        this.keys = keys;
        this.limiter = limiter;
        this.cache = cache;
        this.ports = ports;
        Map<String, Client> byId = new HashMap<>();
        config.services().forEach(svc -> {
            if (svc.client() != null) {
                byId.put(svc.client(), openClient(svc.client(), 0));
            }
        });
        config.auth().keys().forEach(k -> byId.put(k.clientId(), openClient(k.clientId(), k.maxConcurrent())));
        this.named = Map.copyOf(byId);
        Set<String> early = new HashSet<>();
        config.auth().keys().stream().filter(KeyConfig::earlyHeaders).forEach(k -> early.add(k.clientId()));
        this.earlyHeaderClients = Set.copyOf(early);
    }

    /**
     * True when a streamed native request of {@code client} on {@code port} may get its headers early (see
     * {@link EarlyHeaders}): the key ({@code auth.keys[].early_headers}) or the port
     * ({@code services[].early_headers}) opted in.
     */
    boolean earlyHeaders(Port port, Client client) {
        return !port.main() && port.service().earlyHeaders()
                || client != null && earlyHeaderClients.contains(client.clientId());
    }

    /** A client with authentication off: everything allowed; {@code maxConcurrent} its key's, if it has one. */
    private static Client openClient(String clientId, int maxConcurrent) {
        return new Client(clientId, Scope.MANAGEMENT, Tier.HIGH, maxConcurrent, List.of());
    }

    /**
     * The snapshot of {@code config} for {@code ports}.
     *
     * @param limiter the failed-key limiter (a reload keeps the running one unless its settings changed)
     * @param cache   the embedding cache, or null when it is disabled
     */
    static Settings of(OqpConfig config, FailureLimiter limiter, CacheService cache, List<Port> ports) {
        Map<Port, PortSettings> byPort = new HashMap<>();
        for (Port port : ports) {
            Duration idle = port.main() ? config.ollama().requestTimeout() : port.service().timeout();
            byPort.put(port, new PortSettings(port.main() ? null : serviceClient(config, port.service()), idle,
                    new ConcurrentHashMap<>()));
        }
        return new Settings(config, KeyRegistry.from(config.auth()), limiter, cache, Map.copyOf(byPort));
    }

    /** Who a request on the service's port is when its headers carry no known key; null when nobody. */
    private static Client serviceClient(OqpConfig config, ServiceConfig service) {
        if (service.client() == null) {
            return null;
        }
        for (KeyConfig key : config.auth().keys()) {
            if (key.clientId().equals(service.client())) {
                // Auth on or off, the port is that key's client: its ceiling, scope, cap, models and limits apply
                // (the Python tool's injection ports did the same with auth off).
                return Client.of(key);
            }
        }
        if (!config.auth().enabled()) {
            // No key names it: the service's client id still separates its requests for fairness.
            return openClient(service.client(), 0);
        }
        // The loader refuses such a file; after a reload removed the client's key (services change on restart
        // only), the port's requests without a known key get 401 until then.
        return null;
    }

    OqpConfig config() {
        return config;
    }

    KeyRegistry keys() {
        return keys;
    }

    FailureLimiter limiter() {
        return limiter;
    }

    /** The embedding cache, or null when {@code embedding_cache.enabled} is false. */
    CacheService cache() {
        return cache;
    }

    /**
     * With authentication off, the client {@code X-Client-ID} names (see {@link HeaderClients}), or null for
     * none: a configured key's client keeps its {@code max_concurrent}, nothing else of the key applies.
     */
    Client headerClient(HeaderClients clients, String header) {
        String id = clients.resolve(header, named.keySet(), config.auth().maxHeaderClients());
        if (id == null) {
            return null;
        }
        Client client = named.get(id);
        return client != null ? client : openClient(id, 0);
    }

    /** The client a request on {@code port} is when its headers carry no known key, or null. */
    Client serviceClient(Port port) {
        return ports.get(port).serviceClient();
    }

    /** Where {@code port}'s requests to {@code host} go, with that port's idle timeout. */
    Upstream upstream(Port port, Host host) {
        PortSettings p = ports.get(port);
        return p.upstreams().computeIfAbsent(host, h -> new Upstream(h.name(), h.config().url(), p.idleTimeout()));
    }

    /**
     * The client ids the configuration names, and with authentication off those {@code X-Client-ID} was given
     * (the gauge of each client's requests in flight).
     */
    Set<String> configuredClients(HeaderClients headerClients) {
        Set<String> clients = new LinkedHashSet<>();
        config.auth().keys().forEach(k -> clients.add(k.clientId()));
        config.services().forEach(s -> {
            if (s.client() != null) {
                clients.add(s.client());
            }
        });
        if (!config.auth().enabled()) {
            clients.add(Client.ANONYMOUS.clientId());
            clients.addAll(headerClients.identities(config.auth().maxHeaderClients()));
        }
        return clients;
    }

    /** Each client's {@code max_concurrent} under {@code config} (0 = no cap), for the slot pool. */
    static ToIntFunction<String> clientCaps(OqpConfig config) {
        Map<String, Integer> caps = new HashMap<>();
        for (KeyConfig key : config.auth().keys()) {
            caps.put(key.clientId(), key.maxConcurrent());
        }
        return id -> caps.getOrDefault(id, 0);
    }

    /** Each client id of {@code auth.keys} with slots kept for it, to its {@code min_slots}. */
    static Map<String, Integer> minSlots(OqpConfig config) {
        Map<String, Integer> out = new HashMap<>();
        for (KeyConfig key : config.auth().keys()) {
            if (key.minSlots() > 0) {
                out.put(key.clientId(), key.minSlots());
            }
        }
        return out;
    }

    /** {@code Retry-After} when no host is usable: unhealthy hosts are probed about every second. */
    long retryAfterNoHostSeconds() {
        long probeMillis = Math.min(config.ollama().healthCheckInterval().toMillis(),
                FleetMonitor.UNHEALTHY_PROBE_PERIOD.toMillis());
        return Math.max(1, (probeMillis + 999) / 1000);
    }
}
