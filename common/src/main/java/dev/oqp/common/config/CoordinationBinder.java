package dev.oqp.common.config;

import static dev.oqp.common.config.Values.or;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Map;

/** Binds {@code coordination:}. A Redis URL may hold a password: problems show it redacted. */
final class CoordinationBinder {

    /** The keys of {@code coordination:}. */
    enum Key { BACKEND, REPLICA_ID, LEASE, HEARTBEAT, ON_FAILURE, TIMEOUT, KEY_PREFIX }

    private CoordinationBinder() {
    }

    static CoordinationConfig bind(Node node, Binding b) {
        Node.Mapping<Key> m = node.mapping(Key.class);
        String backend = backend(m.get(Key.BACKEND));
        String named = Values.id(m.get(Key.REPLICA_ID));
        // Only looked up when it is used: resolving the local host name may wait on DNS.
        String replicaId = named != null ? named : backend == null ? "replica" : defaultReplicaId(b.ctx.env);
        Duration lease = or(m.get(Key.LEASE).duration(false), CoordinationConfig.DEFAULT_LEASE);
        if (lease.compareTo(Duration.ofSeconds(3)) < 0) {
            m.get(Key.LEASE).problem(Durations.format(lease) + " (expected: >= 3s)");
            lease = CoordinationConfig.DEFAULT_LEASE;
        }
        Duration heartbeat = or(m.get(Key.HEARTBEAT).duration(false), CoordinationConfig.DEFAULT_HEARTBEAT);
        CoordinationConfig.OnFailure onFailure = or(m.get(Key.ON_FAILURE).choice(CoordinationConfig.OnFailure.class),
                CoordinationConfig.DEFAULT_ON_FAILURE);
        Duration timeout = or(m.get(Key.TIMEOUT).duration(false), CoordinationConfig.DEFAULT_TIMEOUT);
        String keyPrefix = or(m.get(Key.KEY_PREFIX).string(), CoordinationConfig.DEFAULT_KEY_PREFIX);
        Duration l = lease;
        return b.build(node.path, () -> new CoordinationConfig(backend, replicaId, l, heartbeat, onFailure, timeout,
                keyPrefix));
    }

    /** A valid Redis URL as written (trimmed), or {@code null} when absent, empty or invalid. */
    private static String backend(Node node) {
        String text = node.string();
        if (text == null || text.isBlank()) {
            return null;
        }
        return Values.redisUrl(node, text, "a redis:// or rediss:// URL");
    }

    /** The host name ({@code HOSTNAME}, as containers set it, else the system's) and process id, cut to the id rule. */
    private static String defaultReplicaId(Map<String, String> env) {
        String host = env.get("HOSTNAME");
        if (host == null || host.isBlank()) {
            try {
                host = InetAddress.getLocalHost().getHostName();
            } catch (UnknownHostException e) {
                host = "replica";
            }
        }
        String id = (host + "-" + ProcessHandle.current().pid()).replaceAll("[^A-Za-z0-9._-]", "-");
        return id.length() > 64 ? id.substring(id.length() - 64) : id;
    }
}
