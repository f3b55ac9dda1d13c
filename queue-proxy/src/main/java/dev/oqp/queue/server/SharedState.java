package dev.oqp.queue.server;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;

import dev.oqp.common.config.CoordinationConfig;
import dev.oqp.common.config.RedisUrls;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;

/**
 * The connection the shared rate limits and usage use when {@code coordination.backend} is set: one Lettuce
 * connection, made when the proxy is built (a backend that does not answer then fails the start), remade by
 * Lettuce after a drop (100 ms doubling to 2 s), refusing commands at once while there is none, each command
 * limited to {@code coordination.timeout}; closed when the server has stopped.
 *
 * <p>Interim wiring: the coordination package's shared connection and its live replica count (heartbeats)
 * replace this class when the parts of issue 16 are merged. Until then the replica count is 1 unless a test
 * sets it ({@link #replicas(IntSupplier)}).
 */
final class SharedState implements AutoCloseable {
    private final ClientResources resources;
    private final RedisClient client;
    private final StatefulRedisConnection<String, String> connection;
    private volatile IntSupplier replicas = () -> 1;

    SharedState(CoordinationConfig config) {
        Duration timeout = config.timeout();
        RedisURI uri = RedisURI.create(config.backend());
        uri.setTimeout(timeout);
        this.resources = ClientResources.builder()
                .ioThreadPoolSize(2)
                .computationThreadPoolSize(1)
                .reconnectDelay(Delay.exponential(Duration.ofMillis(100), Duration.ofSeconds(2), 2, TimeUnit.MILLISECONDS))
                .build();
        this.client = RedisClient.create(resources);
        client.setOptions(ClientOptions.builder()
                .autoReconnect(true)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .timeoutOptions(TimeoutOptions.enabled(timeout))
                .build());
        try {
            this.connection = client.connect(uri);
        } catch (RuntimeException e) {
            close();
            throw new IllegalStateException("coordination backend " + RedisUrls.redact(config.backend())
                    + " did not answer: " + e.getMessage(), e);
        }
    }

    RedisAsyncCommands<String, String> commands() {
        return connection.async();
    }

    /** The last known number of live replicas, at least 1 assumed. */
    IntSupplier replicas() {
        return () -> replicas.getAsInt();
    }

    /** Tests (and, until the merge, nothing else) say how many replicas there are. */
    void replicas(IntSupplier count) {
        this.replicas = count;
    }

    @Override
    public void close() {
        if (connection != null) {
            connection.closeAsync();
        }
        client.shutdownAsync(0, 2, TimeUnit.SECONDS);
        resources.shutdown(0, 2, TimeUnit.SECONDS);
    }
}
