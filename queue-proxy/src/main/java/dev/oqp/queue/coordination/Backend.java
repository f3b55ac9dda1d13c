package dev.oqp.queue.coordination;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

import dev.oqp.common.config.CoordinationConfig;
import dev.oqp.queue.valkey.LettuceClients;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.ClientResources;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Valkey or Redis that replicas coordinate through: one Lettuce client, one command connection and one
 * pub/sub connection, both made in the background and remade by Lettuce after a drop (100 ms doubling to 2 s).
 * Commands are async only, refused at once while disconnected and given up after {@code coordination.timeout}.
 * Scripts run by {@code EVALSHA} of their SHA-1, sent whole by {@code EVAL} (which caches them) on
 * {@code NOSCRIPT}. Every key is under the hash tag {@code {<key_prefix>}}.
 */
final class Backend implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Backend.class);


    /** A Lua script from this package's resources, with its SHA-1. */
    record Script(String name, String source, String sha) {
        static Script load(String name) {
            try (InputStream in = Backend.class.getResourceAsStream(name + ".lua")) {
                if (in == null) {
                    throw new IllegalStateException("missing script " + name);
                }
                String source = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                return new Script(name, source, sha1(source));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private static String sha1(String source) {
            try {
                byte[] d = MessageDigest.getInstance("SHA-1").digest(source.getBytes(StandardCharsets.UTF_8));
                return HexFormat.of().formatHex(d);
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    static final Script ACQUIRE = Script.load("acquire");
    static final Script RENEW = Script.load("renew");
    static final Script RELEASE = Script.load("release");
    static final Script MOVE = Script.load("move");
    static final Script TOUCH = Script.load("touch");
    static final Script CONTROL = Script.load("control");
    static final Script FORGET = Script.load("forget");
    static final Script HEARTBEAT = Script.load("heartbeat");
    static final Script HOSTS = Script.load("hosts");
    static final Script LEAVE = Script.load("leave");

    private final RedisURI uri;
    private final Duration timeout;
    private final ClientResources resources;
    private final RedisClient client;
    /** {@code {<key_prefix>}}: every key starts with it. */
    final String prefix;
    private volatile StatefulRedisConnection<String, String> connection;
    private volatile StatefulRedisPubSubConnection<String, String> pubSub;
    private volatile boolean closed;
    private volatile Consumer<String> onHealth = m -> { };
    private volatile Consumer<String> onControl = m -> { };
    private final AtomicBoolean connecting = new AtomicBoolean();
    private final AtomicBoolean subscribing = new AtomicBoolean();

    Backend(CoordinationConfig config) {
        this.prefix = "{" + config.keyPrefix() + "}";
        this.timeout = config.timeout();
        this.uri = RedisURI.create(config.backend());
        uri.setTimeout(timeout);
        LettuceClients made = LettuceClients.create(timeout);
        this.resources = made.resources();
        this.client = made.client();
    }

    /**
     * Runs {@code then} (on a Lettuce thread) each time a connection to the backend drops, before any command
     * fails: a restart or failover between two commands is then always seen as an outage.
     */
    void onDisconnected(Runnable then) {
        resources.eventBus().get().subscribe(event -> {
            if (event instanceof io.lettuce.core.event.connection.DisconnectedEvent && !closed) {
                then.run();
            }
        });
    }

    /** The channel a release publishes on. */
    String freedChannel() {
        return prefix + "freed";
    }

    /** The channel a replica publishes a host it marked down on ({@code <host>\n<mark>}). */
    String healthChannel() {
        return prefix + "health";
    }

    /**
     * The channel a replica publishes an operator's queue control on
     * ({@code <incarnation>\n<config digest>\n<action>\n<tier>}).
     */
    String controlChannel() {
        return prefix + "control";
    }

    /** Runs {@code listener} on each message of the control channel (set before connecting). */
    void onControl(Consumer<String> listener) {
        this.onControl = listener;
    }

    /** Runs {@code listener} on each message of the health channel (set before connecting). */
    void onHealth(Consumer<String> listener) {
        this.onHealth = listener;
    }

    /**
     * Connects in the background what is not connected yet (commands fail until then; call again after a failed
     * attempt); {@code onFreed} runs on each "freed" message.
     */
    void connect(Consumer<String> onFreed) {
        if (closed) {
            return;
        }
        if (connection == null && connecting.compareAndSet(false, true)) {
            client.connectAsync(StringCodec.UTF8, uri).whenComplete((c, failure) -> {
                connecting.set(false);
                if (c != null && closed) {
                    c.closeAsync();
                } else if (c != null) {
                    connection = c;
                }
            });
        }
        if (pubSub == null && subscribing.compareAndSet(false, true)) {
            client.connectPubSubAsync(StringCodec.UTF8, uri).whenComplete((c, failure) -> {
                subscribing.set(false);
                if (c == null) {
                    return;
                }
                if (closed) {
                    c.closeAsync();
                    return;
                }
                c.addListener(new RedisPubSubAdapter<>() {
                    @Override
                    public void message(String channel, String message) {
                        if (healthChannel().equals(channel)) {
                            onHealth.accept(message);
                        } else if (controlChannel().equals(channel)) {
                            onControl.accept(message);
                        } else {
                            onFreed.accept(message);
                        }
                    }
                });
                // Lettuce subscribes again by itself after a reconnect.
                c.async().subscribe(freedChannel(), healthChannel(), controlChannel()).whenComplete((r, refused) -> {
                    if (refused != null) {
                        // An ACL that denies the channels: no freed, health or control messages reach this replica.
                        LOG.warn("coordination: could not subscribe to its channels ({}); freed slots are found by"
                                + " the 250 ms poll, hosts down by this replica's own checks, queue controls at the next heartbeat",
                                refused.toString());
                    }
                });
                pubSub = c;
            });
        }
    }

    /**
     * Async commands on the command connection of the moment, for the shared rate limits and usage: while there is
     * none, each call fails at once (the callers then run on their degraded path).
     */
    @SuppressWarnings("unchecked")
    RedisAsyncCommands<String, String> commands() {
        return (RedisAsyncCommands<String, String>) Proxy.newProxyInstance(RedisAsyncCommands.class.getClassLoader(),
                new Class<?>[] {RedisAsyncCommands.class}, (self, method, args) -> {
                    if (method.getDeclaringClass() == Object.class) {
                        return switch (method.getName()) {
                            case "toString" -> "coordination commands";
                            case "hashCode" -> System.identityHashCode(self);
                            default -> self == args[0];
                        };
                    }
                    StatefulRedisConnection<String, String> c = connection;
                    if (c == null || closed) {
                        throw new RedisConnectionException("coordination backend not connected");
                    }
                    try {
                        return method.invoke(c.async(), args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    /** Whether the command connection exists (it may still be reconnecting). */
    boolean connected() {
        StatefulRedisConnection<String, String> c = connection;
        return c != null && c.isOpen();
    }

    /**
     * Runs {@code script}; the future fails on any error, a refusal while disconnected, or the timeout. Never
     * blocks the caller.
     */
    CompletableFuture<Object> run(Script script, String[] keys, String... args) {
        StatefulRedisConnection<String, String> c = connection;
        if (c == null || closed) {
            return CompletableFuture.failedFuture(new IllegalStateException("not connected"));
        }
        CompletableFuture<Object> reply;
        try {
            reply = c.async().<Object>evalsha(script.sha(), ScriptOutputType.MULTI, keys, args).toCompletableFuture()
                    .exceptionallyCompose(e -> noScript(e)
                            ? c.async().<Object>eval(script.source(), ScriptOutputType.MULTI, keys, args).toCompletableFuture()
                            : CompletableFuture.failedFuture(e));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        return reply.orTimeout(2 * timeout.toMillis() + 50, TimeUnit.MILLISECONDS);
    }

    private static boolean noScript(Throwable e) {
        Throwable t = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        return t instanceof RedisNoScriptException || String.valueOf(t.getMessage()).startsWith("NOSCRIPT");
    }

    @Override
    public void close() {
        closed = true;
        StatefulRedisConnection<String, String> c = connection;
        StatefulRedisPubSubConnection<String, String> p = pubSub;
        if (c != null) {
            c.close();
        }
        if (p != null) {
            p.close();
        }
        client.shutdown(Duration.ZERO, Duration.ofSeconds(1));
        resources.shutdown(0, 1, TimeUnit.SECONDS);
    }
}
