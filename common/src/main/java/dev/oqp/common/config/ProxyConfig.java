package dev.oqp.common.config;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * The queue proxy's main listener ({@code proxy:}).
 *
 * @param host           IP literal or {@code localhost}; default {@code 127.0.0.1} (the container image sets {@code 0.0.0.0})
 * @param port           1024-65535, unique across the file; default 11435
 * @param allowPublic    must be true for a non-loopback {@code host}; default false
 * @param maxConcurrent  cap on upstream requests in flight across the fleet; default 0 = the sum of the hosts' slots
 * @param maxBody        largest request body in bytes (larger gets 413); default 50 MiB; always positive
 * @param drainTimeout   on SIGTERM, how long in-flight work may finish; default 30s; always positive
 * @param trustedProxies networks whose {@code X-Forwarded-For} names the real client; default empty = trust none
 * @param allowModelManagement false: the model management routes ({@code /api/pull}, {@code /api/push},
 *                       {@code /api/create}, {@code /api/copy}, {@code /api/delete}, blob uploads) get 403 for every
 *                       caller, a management key included, auth on or off; default true (decided by scope)
 */
public record ProxyConfig(String host, int port, boolean allowPublic, int maxConcurrent, long maxBody,
        Duration drainTimeout, List<Cidr> trustedProxies, boolean allowModelManagement) {

    public static final String DEFAULT_HOST = "127.0.0.1";
    public static final int DEFAULT_PORT = 11435;
    public static final boolean DEFAULT_ALLOW_PUBLIC = false;
    /** No cap of its own: the sum of the hosts' slots. */
    public static final int DEFAULT_MAX_CONCURRENT = 0;
    public static final long DEFAULT_MAX_BODY = 50L << 20;
    public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(30);
    public static final boolean DEFAULT_ALLOW_MODEL_MANAGEMENT = true;

    public ProxyConfig {
        Objects.requireNonNull(host, "host");
        Checks.range("port", port, 1024, 65535);
        Checks.range("maxConcurrent", maxConcurrent, 0, Integer.MAX_VALUE);
        Checks.positive("maxBody", maxBody);
        Checks.positive("drainTimeout", drainTimeout);
        trustedProxies = List.copyOf(trustedProxies);
    }

    /** A listener that leaves model management to the keys' scopes. */
    public ProxyConfig(String host, int port, boolean allowPublic, int maxConcurrent, long maxBody,
            Duration drainTimeout, List<Cidr> trustedProxies) {
        this(host, port, allowPublic, maxConcurrent, maxBody, drainTimeout, trustedProxies,
                DEFAULT_ALLOW_MODEL_MANAGEMENT);
    }
}
