package dev.oqp.common.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * One request as {@link FakeOllama} received it, and what became of it.
 *
 * <p>The request side ({@link #method()}, {@link #path()}, {@link #query()}, {@link #headers()},
 * {@link #body()}, {@link #receivedNanos()}, {@link #sniHost()}) is fixed at arrival. The outcome side
 * ({@link #lineWriteNanos()}, {@link #completedNanos()}, {@link #cancelled()}, {@link #cancelledNanos()})
 * keeps updating while the exchange runs and is safe to read from any thread. All times are
 * {@link System#nanoTime()} values.
 *
 * <p>A line is recorded when Jetty reports its write flushed, which can be a moment after the client
 * already read it; before asserting on the outcome of an exchange, wait with {@link #awaitFinished}
 * or {@link #awaitCancelled}.
 */
public final class RecordedRequest {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final String method;
    private final String path;
    private final String query;
    private final Map<String, List<String>> headers;
    private final byte[] body;
    private final long receivedNanos;
    private final String sniHost;
    private final List<Long> lineWriteNanos = new CopyOnWriteArrayList<>();
    private final CompletableFuture<RecordedRequest> cancellation = new CompletableFuture<>();
    private final CompletableFuture<RecordedRequest> completion = new CompletableFuture<>();
    private volatile long completedNanos;
    private volatile long cancelledNanos;

    RecordedRequest(String method, String path, String query, Map<String, List<String>> headers,
                    byte[] body, long receivedNanos, String sniHost) {
        this.method = Objects.requireNonNull(method);
        this.path = Objects.requireNonNull(path);
        this.query = query;
        TreeMap<String, List<String>> copy = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        headers.forEach((name, values) -> copy.computeIfAbsent(name, n -> new ArrayList<>()).addAll(values));
        copy.replaceAll((name, values) -> List.copyOf(values));
        this.headers = Collections.unmodifiableMap(copy);
        this.body = body;
        this.receivedNanos = receivedNanos;
        this.sniHost = sniHost;
    }

    /** The HTTP method, e.g. {@code POST}. */
    /**
     * True for a background probe of the queue proxy (health check, model-list poll), which announces itself
     * with a {@code User-Agent} starting {@value #PROBE_AGENT}: kept apart from {@link FakeOllama#requests()}.
     */
    public boolean probe() {
        String agent = header("User-Agent");
        return agent != null && agent.startsWith(PROBE_AGENT);
    }

    /** The {@code User-Agent} prefix of the queue proxy's background probes. */
    public static final String PROBE_AGENT = "ollama-queue-proxy-monitor";

    public String method() {
        return method;
    }

    /** The decoded path, e.g. {@code /api/chat}. */
    public String path() {
        return path;
    }

    /** The raw query string without {@code ?}, or {@code null} when there was none. */
    public String query() {
        return query;
    }

    /** All request headers; the map is unmodifiable and its keys are case-insensitive. */
    public Map<String, List<String>> headers() {
        return headers;
    }

    /** The first value of the named header (case-insensitive), or {@code null}. */
    public String header(String name) {
        List<String> values = headers.get(name);
        return values == null || values.isEmpty() ? null : values.get(0);
    }

    /** All values of the named header (case-insensitive), possibly empty. */
    public List<String> headerValues(String name) {
        return headers.getOrDefault(name, List.of());
    }

    /** The request body as received (empty when there was none). The array is a copy. */
    public byte[] body() {
        return body.clone();
    }

    /** The request body decoded as UTF-8. */
    public String bodyAsString() {
        return new String(body, StandardCharsets.UTF_8);
    }

    /** The request body parsed as JSON; fails if it is not JSON. */
    public JsonNode bodyJson() {
        try {
            return MAPPER.readTree(body);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** When the request reached the fake's handler. */
    public long receivedNanos() {
        return receivedNanos;
    }

    /**
     * When each response body line (NDJSON line, SSE event, or the whole non-streamed body) was handed to
     * the connection for writing (it goes to the socket at once unless the client is slow), in order. A
     * line is therefore recorded before any client can have read it. A live, thread-safe, read-only view
     * that grows while the response streams.
     */
    public List<Long> lineWriteNanos() {
        return Collections.unmodifiableList(lineWriteNanos);
    }

    /** When the exchange ended (completed, reset by a fault, or cancelled); 0 while it runs. */
    public long completedNanos() {
        return completedNanos;
    }

    /** Whether the exchange has ended, whatever the outcome. */
    public boolean finished() {
        return completedNanos != 0;
    }

    /**
     * Whether the fake saw the client close or abort the exchange before the response was complete
     * (also while the request waited for a parallelism slot, a delay, or was stalled).
     */
    public boolean cancelled() {
        return cancelledNanos != 0;
    }

    /** When the fake noticed the client went away; 0 if it did not. */
    public long cancelledNanos() {
        return cancelledNanos;
    }

    /** The SNI server name the client sent over TLS, or {@code null} (plain HTTP or no SNI). */
    public String sniHost() {
        return sniHost;
    }

    /** Completes with this request when the fake sees the client go away; never completes otherwise. */
    public CompletableFuture<RecordedRequest> onCancelled() {
        return cancellation.copy();
    }

    /** Completes with this request when the exchange ends, whatever the outcome. */
    public CompletableFuture<RecordedRequest> onFinished() {
        return completion.copy();
    }

    /**
     * Blocks until the fake sees the client go away.
     *
     * @throws AssertionError if that does not happen within {@code timeout}
     */
    public RecordedRequest awaitCancelled(Duration timeout) {
        return await(cancellation, timeout, "cancelled");
    }

    /**
     * Blocks until the exchange ends.
     *
     * @throws AssertionError if that does not happen within {@code timeout}
     */
    public RecordedRequest awaitFinished(Duration timeout) {
        return await(completion, timeout, "finished");
    }

    private RecordedRequest await(CompletableFuture<RecordedRequest> future, Duration timeout, String what) {
        try {
            return future.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError(this + " not " + what + " within " + timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        } catch (ExecutionException e) {
            throw new AssertionError(e.getCause());
        }
    }

    void lineWritten(long nanos) {
        lineWriteNanos.add(nanos);
    }

    void markCancelled(long nanos) {
        cancelledNanos = nanos;
        markFinished(nanos);
        cancellation.complete(this);
    }

    void markFinished(long nanos) {
        if (completedNanos == 0) {
            completedNanos = nanos;
        }
        completion.complete(this);
    }

    @Override
    public String toString() {
        return method + " " + path + (query == null ? "" : "?" + query)
                + " (lines=" + lineWriteNanos.size() + ", finished=" + finished() + ", cancelled=" + cancelled() + ")";
    }
}
