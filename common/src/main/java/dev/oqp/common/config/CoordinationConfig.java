package dev.oqp.common.config;

import java.time.Duration;
import java.util.Objects;

/**
 * Replicas of the queue proxy acting as one through Valkey or Redis ({@code coordination:}): slots as leases,
 * shared rate limits and usage. Off unless {@code backend} is set. {@link #toString()} redacts the password.
 *
 * @param backend   {@code redis://[[user]:password@]host[:port][/db]} or {@code rediss://…}; {@code null} = off
 * @param replicaId this replica's name among the others, {@code [A-Za-z0-9._-]{1,64}}; default the host name and
 *                  process id
 * @param lease     how long a slot held by a replica that stopped renewing it stays taken; renewed every third of
 *                  it; default 15s; at least 3s
 * @param heartbeat how often a replica says it is alive; it counts as gone after three missed; default 2s
 * @param onFailure what a replica does while the backend cannot be reached
 * @param timeout   one command's timeout; past it the backend counts as unreachable; default 500ms
 * @param keyPrefix prefix of every key, within one hash tag so the scripts also run on Valkey Cluster; default
 *                  {@code oqp:coord:}
 */
public record CoordinationConfig(String backend, String replicaId, Duration lease, Duration heartbeat,
        OnFailure onFailure, Duration timeout, String keyPrefix) {

    /** The degraded mode while the backend is unreachable. */
    public enum OnFailure {
        /** Each replica runs on its share of every cap (from the last known live replica count, at least one slot per host). */
        LOCAL_SHARE,
        /** Inference requests are refused with 503 and {@code Retry-After}. */
        CLOSED
    }

    public static final Duration DEFAULT_LEASE = Duration.ofSeconds(15);
    public static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(2);
    public static final OnFailure DEFAULT_ON_FAILURE = OnFailure.LOCAL_SHARE;
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMillis(500);
    public static final String DEFAULT_KEY_PREFIX = "oqp:coord:";
    /** Off. */
    public static final CoordinationConfig OFF = new CoordinationConfig(null, "replica", DEFAULT_LEASE,
            DEFAULT_HEARTBEAT, DEFAULT_ON_FAILURE, DEFAULT_TIMEOUT, DEFAULT_KEY_PREFIX);

    public CoordinationConfig {
        Objects.requireNonNull(replicaId, "replicaId");
        Checks.positive("lease", lease);
        if (lease.compareTo(Duration.ofSeconds(3)) < 0) {
            throw new IllegalArgumentException("lease: " + lease + " (expected: >= 3s)");
        }
        Checks.positive("heartbeat", heartbeat);
        Objects.requireNonNull(onFailure, "onFailure");
        Checks.positive("timeout", timeout);
        Objects.requireNonNull(keyPrefix, "keyPrefix");
    }

    /** Whether replicas coordinate. */
    public boolean enabled() {
        return backend != null;
    }

    @Override
    public String toString() {
        return "CoordinationConfig[backend=" + (backend == null ? null : RedisUrls.redact(backend)) + ", replicaId="
                + replicaId + ", lease=" + lease + ", heartbeat=" + heartbeat + ", onFailure=" + onFailure
                + ", timeout=" + timeout + ", keyPrefix=" + keyPrefix + "]";
    }
}
