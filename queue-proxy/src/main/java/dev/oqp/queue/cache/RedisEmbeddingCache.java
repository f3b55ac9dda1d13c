package dev.oqp.queue.cache;

import java.io.IOException;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

import dev.oqp.common.config.EmbeddingCacheConfig;
import dev.oqp.common.config.RedisUrls;
import dev.oqp.queue.valkey.LettuceClients;
import io.lettuce.core.KeyValue;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.resource.ClientResources;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Valkey or Redis through Lettuce's async API: {@code MGET} for a batch's keys, {@code SET … PX ttl} per
 * stored vector. One connection, made in the background at start and remade by Lettuce after a drop
 * (reconnect delay 100 ms doubling to 2 s); while there is none, commands are refused at once rather than
 * buffered, and a failed first connection is tried again on a lookup at most once a second. Every command
 * gives up after {@code embedding_cache.timeout}. The URL is only ever shown without its password.
 */
final class RedisEmbeddingCache implements EmbeddingCache {
    private static final Logger LOG = LoggerFactory.getLogger(RedisEmbeddingCache.class);
    private static final long RECONNECT_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final RedisCodec<String, byte[]> CODEC = RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);

    private final String described;
    private final RedisURI uri;
    private final Duration timeout;
    private final long ttlMillis;
    private final ClientResources resources;
    private final RedisClient client;
    private final AtomicBoolean connecting = new AtomicBoolean();
    /** The connection being made, while it is: lookups meanwhile wait for it (within their timeout). */
    private volatile CompletableFuture<StatefulRedisConnection<String, byte[]>> pending;
    private volatile StatefulRedisConnection<String, byte[]> connection;
    private volatile long lastAttemptNanos;
    /** An outage is logged once, when it starts; its end once, when a connection is made again. */
    private final AtomicBoolean outageLogged = new AtomicBoolean();
    private volatile boolean closed;
    /** What an outage means for requests, for its log line. */
    private final String outageEffect;

    RedisEmbeddingCache(EmbeddingCacheConfig config) {
        this.described = RedisUrls.redact(config.backend());
        this.timeout = config.timeout();
        this.ttlMillis = config.ttl().toMillis();
        this.outageEffect = config.required() ? "embedding requests get 503 until it answers (required: true)"
                : "lookups are misses until it answers";
        this.uri = RedisURI.create(config.backend());
        uri.setTimeout(timeout);
        LettuceClients made = LettuceClients.create(timeout);
        this.resources = made.resources();
        this.client = made.client();
        // One line when a connection is lost and one when it is back (Lettuce's own reconnect warnings are
        // kept quiet: one every few seconds for as long as the outage lasts).
        client.addListener(new RedisConnectionStateListener() {
            @Override
            public void onRedisDisconnected(RedisChannelHandler<?, ?> handler) {
                if (!closed && outageLogged.compareAndSet(false, true)) {
                    LOG.atWarn().addKeyValue("backend", described).log("embedding cache connection lost: " + outageEffect);
                }
            }

            @Override
            public void onRedisConnected(RedisChannelHandler<?, ?> handler, SocketAddress address) {
                if (outageLogged.compareAndSet(true, false)) {
                    LOG.atInfo().addKeyValue("backend", described).log("embedding cache reachable again");
                }
            }
        });
    }

    @Override
    public void start() {
        connect();
    }

    private void connect() {
        if (closed || !connecting.compareAndSet(false, true)) {
            return;
        }
        lastAttemptNanos = System.nanoTime();
        CompletableFuture<StatefulRedisConnection<String, byte[]>> attempt = client.connectAsync(CODEC, uri).toCompletableFuture();
        pending = attempt;
        attempt.whenComplete((made, failure) -> {
            connecting.set(false);
            pending = null;
            if (failure != null) {
                if (outageLogged.compareAndSet(false, true)) {
                    LOG.atWarn().addKeyValue("backend", described).addKeyValue("reason", describe(failure))
                            .log("embedding cache unreachable: " + outageEffect);
                }
                return;
            }
            if (closed) {
                made.closeAsync();
                return;
            }
            connection = made;
            if (outageLogged.compareAndSet(true, false)) {
                LOG.atInfo().addKeyValue("backend", described).log("embedding cache reachable again");
            } else {
                LOG.atInfo().addKeyValue("backend", described).log("embedding cache connected");
            }
        });
    }

    /**
     * The async commands: at once when connected; once connected when a connection is being made; else a
     * failure (and a new connection attempt, at most once a second).
     */
    private CompletableFuture<RedisAsyncCommands<String, byte[]>> commands() {
        StatefulRedisConnection<String, byte[]> c = connection;
        if (c != null) {
            return CompletableFuture.completedFuture(c.async());
        }
        CompletableFuture<StatefulRedisConnection<String, byte[]>> p = pending;
        if (p == null && System.nanoTime() - lastAttemptNanos > RECONNECT_NANOS) {
            connect();
            p = pending;
        }
        if (p != null) {
            return p.thenApply(StatefulRedisConnection::async);
        }
        return CompletableFuture.failedFuture(new CacheFailure("connection", "not connected", null));
    }

    @Override
    public CompletableFuture<byte[][]> getAll(List<String> keys) {
        CompletableFuture<List<KeyValue<String, byte[]>>> reply = commands()
                .thenCompose(commands -> commands.mget(keys.toArray(String[]::new)));
        return reply.orTimeout(timeout.toMillis() + 50, TimeUnit.MILLISECONDS).handle((values, failure) -> {
            if (failure != null) {
                throw classify(failure);
            }
            if (values.size() != keys.size()) {
                throw new CacheFailure("other", "MGET answered " + values.size() + " values for " + keys.size() + " keys", null);
            }
            byte[][] out = new byte[keys.size()][];
            for (int i = 0; i < out.length; i++) {
                KeyValue<String, byte[]> value = values.get(i);
                out[i] = value.hasValue() ? value.getValue() : null;
            }
            return out;
        });
    }

    @Override
    public CompletableFuture<Void> putAll(Map<String, byte[]> entries) {
        SetArgs args = SetArgs.Builder.px(ttlMillis);
        CompletableFuture<Void> stored = commands().thenCompose(commands -> {
            CompletableFuture<?>[] sets = new CompletableFuture<?>[entries.size()];
            int i = 0;
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                sets[i++] = commands.set(e.getKey(), e.getValue(), args).toCompletableFuture();
            }
            return CompletableFuture.allOf(sets);
        });
        return stored.orTimeout(timeout.toMillis() + 50, TimeUnit.MILLISECONDS)
                .handle((ignored, failure) -> {
                    if (failure != null) {
                        throw classify(failure);
                    }
                    return null;
                });
    }

    private static CacheFailure classify(Throwable failure) {
        Throwable t = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        if (t instanceof CacheFailure cf) {
            return cf;
        }
        if (t instanceof RedisCommandTimeoutException || t instanceof TimeoutException) {
            return new CacheFailure("timeout", "no answer in time", t);
        }
        if (t instanceof RedisConnectionException || String.valueOf(t.getMessage()).contains("not connected")
                || t instanceof IOException) {
            return new CacheFailure("connection", describe(t), t);
        }
        return new CacheFailure("other", describe(t), t);
    }

    /** A failure in a few words: its type and message, never the URL (Lettuce names host and port only). */
    private static String describe(Throwable failure) {
        Throwable root = failure;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage();
        return root.getClass().getSimpleName() + (message == null ? "" : ": " + message);
    }

    @Override
    public boolean available() {
        StatefulRedisConnection<String, byte[]> c = connection;
        return c != null && c.isOpen();
    }

    @Override
    public String describe() {
        return described;
    }

    @Override
    public void close() {
        closed = true;
        StatefulRedisConnection<String, byte[]> c = connection;
        if (c != null) {
            c.closeAsync();
        }
        client.shutdownAsync(0, 2, TimeUnit.SECONDS);
        resources.shutdown(0, 2, TimeUnit.SECONDS);
    }
}
