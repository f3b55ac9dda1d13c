package dev.oqp.common.config;

import static dev.oqp.common.config.Values.or;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Binds {@code ollama:}: the hosts (see {@link Hosts}), the upstream timeouts and intervals, and the fleet-wide
 * per-model settings (see {@link ModelsBinder}).
 */
final class OllamaBinder {

    /** The keys of {@code ollama:}. */
    enum Key { HOSTS, CONNECT_TIMEOUT, REQUEST_TIMEOUT, HEALTH_CHECK_INTERVAL, MODEL_SYNC_INTERVAL, MODELS }

    private OllamaBinder() {
    }

    static OllamaConfig bind(Node node, Binding b) {
        Node.Mapping<Key> m = node.mapping(Key.class);
        List<HostConfig> hosts = Hosts.bind(m.get(Key.HOSTS), b);
        Duration connect = or(m.get(Key.CONNECT_TIMEOUT).duration(false), OllamaConfig.DEFAULT_CONNECT_TIMEOUT);
        Duration request = or(m.get(Key.REQUEST_TIMEOUT).duration(false), OllamaConfig.DEFAULT_REQUEST_TIMEOUT);
        Duration health = or(m.get(Key.HEALTH_CHECK_INTERVAL).duration(false),
                OllamaConfig.DEFAULT_HEALTH_CHECK_INTERVAL);
        Duration sync = or(m.get(Key.MODEL_SYNC_INTERVAL).duration(false), OllamaConfig.DEFAULT_MODEL_SYNC_INTERVAL);
        Map<String, ModelConfig> models = ModelsBinder.globs(m.get(Key.MODELS));
        return b.build(node.path, () -> new OllamaConfig(hosts, connect, request, health, sync, models));
    }
}
