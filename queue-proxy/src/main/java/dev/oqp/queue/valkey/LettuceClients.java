package dev.oqp.queue.valkey;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;

/**
 * One Lettuce client as every user of Valkey here wants it: a small thread budget (2 I/O threads, 1 for
 * computation), reconnection by itself after a drop (100 ms doubling to 2 s), commands refused at once while
 * disconnected (the caller takes its degraded path instead of queueing), each command limited to
 * {@code timeout}. Shut both down when done: {@link #shutdown}.
 *
 * @param resources the client's threads and event bus
 * @param client    the client
 */
public record LettuceClients(ClientResources resources, RedisClient client) {

    /** A client with its own resources, configured as the class comment says. */
    public static LettuceClients create(Duration timeout) {
        ClientResources resources = ClientResources.builder()
                .ioThreadPoolSize(2)
                .computationThreadPoolSize(1)
                .reconnectDelay(Delay.exponential(Duration.ofMillis(100), Duration.ofSeconds(2), 2, TimeUnit.MILLISECONDS))
                .build();
        RedisClient client = RedisClient.create(resources);
        client.setOptions(ClientOptions.builder()
                .autoReconnect(true)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .timeoutOptions(TimeoutOptions.enabled(timeout))
                .build());
        return new LettuceClients(resources, client);
    }
}
