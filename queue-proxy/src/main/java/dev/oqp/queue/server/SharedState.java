package dev.oqp.queue.server;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntSupplier;

import dev.oqp.common.config.CoordinationConfig;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;

/**
 * The connection the shared rate limits and usage use when {@code coordination.backend} is set: one Lettuce
 * connection, made in the background from the start (tried again at most once a second while there is none),
 * remade by Lettuce after a drop (100 ms doubling to 2 s), refusing commands at once while there is none (the
 * callers then run on their degraded path), each command limited to {@code coordination.timeout}; closed when
 * the server has stopped.
 *
 * <p>Interim wiring: the coordination package's shared connection and its live replica count (heartbeats)
 * replace this class when the parts of issue 16 are merged. Until then the replica count is 1 unless a test
 * sets it ({@link #replicas(IntSupplier)}).
 */
final class SharedState implements AutoCloseable {
    private final ClientResources resources;
    private final RedisClient client;
    private final RedisURI uri;
    private final AtomicBoolean connecting = new AtomicBoolean();
    private volatile long lastAttemptNanos = System.nanoTime() - TimeUnit.SECONDS.toNanos(2);
    /** The first connection attempt (the start waits a little for it). */
    private volatile CompletableFuture<?> first;
    private volatile StatefulRedisConnection<String, String> connection;
    private volatile boolean closed;
    private volatile IntSupplier replicas = () -> 1;
    /** The commands of the connection of the moment; while there is none, each call fails at once. */
    @SuppressWarnings("unchecked")
    private final RedisAsyncCommands<String, String> commands = (RedisAsyncCommands<String, String>) Proxy.newProxyInstance(
            RedisAsyncCommands.class.getClassLoader(), new Class<?>[] {RedisAsyncCommands.class}, (self, method, args) -> {
                if (method.getDeclaringClass() == Object.class) {
                    return method.getName().equals("toString") ? "coordination commands" : method.getName()
                            .equals("hashCode") ? System.identityHashCode(self) : self == args[0];
                }
                StatefulRedisConnection<String, String> c = connection;
                if (c == null) {
                    connect();
                    throw new RedisConnectionException("coordination backend not connected");
                }
                try {
                    return method.invoke(c.async(), args);
                } catch (InvocationTargetException e) {
                    throw e.getCause();
                }
            });

    SharedState(CoordinationConfig config) {
        Duration timeout = config.timeout();
        this.uri = RedisURI.create(config.backend());
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
        connect();
    }

    private void connect() {
        if (closed || System.nanoTime() - lastAttemptNanos < TimeUnit.SECONDS.toNanos(1)
                || !connecting.compareAndSet(false, true)) {
            return;
        }
        lastAttemptNanos = System.nanoTime();
        // Completes once the connection is in place (or failed): what the start waits for.
        CompletableFuture<?> attempt = client.connectAsync(StringCodec.UTF8, uri).toCompletableFuture()
                .whenComplete((made, failure) -> {
                    connecting.set(false);
                    if (made != null && closed) {
                        made.closeAsync();
                    } else if (made != null) {
                        connection = made;
                    }
                });
        if (first == null) {
            first = attempt;
        }
    }

    /**
     * Waits (at start, never on a request's path) up to {@code max} for the first connection: a backend that
     * answers is in use from the first request; one that does not leaves the replica on its degraded path.
     */
    void awaitFirstConnection(Duration max) {
        try {
            first.get(max.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            // Not connected yet: the callers announce it when they need the backend.
        }
    }

    /** Async commands on the connection of the moment (failing at once while there is none). */
    RedisAsyncCommands<String, String> commands() {
        return commands;
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
        closed = true;
        StatefulRedisConnection<String, String> c = connection;
        if (c != null) {
            c.closeAsync();
        }
        client.shutdownAsync(0, 2, TimeUnit.SECONDS);
        resources.shutdown(0, 2, TimeUnit.SECONDS);
    }
}
