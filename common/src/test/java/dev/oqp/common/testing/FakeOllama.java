package dev.oqp.common.testing;

import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLSession;

import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.ssl.SslConnection;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * An in-process fake of the Ollama HTTP API for integration tests, on Jetty core.
 *
 * <p>It follows {@code shared/reference/ollama-api.md}: the native routes ({@code /}, {@code /api/version},
 * {@code tags}, {@code ps}, {@code show}, {@code generate}, {@code chat}, {@code embed}, {@code embeddings},
 * {@code pull}, {@code push}, {@code create}, {@code copy}, {@code delete}) and the OpenAI-compatible ones
 * ({@code /v1/chat/completions}, {@code /v1/completions}, {@code /v1/embeddings}, {@code /v1/models},
 * {@code /v1/models/{model}}), with Ollama's status codes and error messages, 404/405 in plain text, and
 * any request Content-Type accepted.
 *
 * <h2>Deterministic generation</h2>
 * <ul>
 *   <li>{@code generate}, {@code chat} and the {@code /v1} completions emit the configured {@link Builder#tokens
 *       tokens} in order, one per NDJSON line or SSE event, then the done line (or finish chunk, optional usage
 *       chunk and {@code data: [DONE]}). {@code options.num_predict} (native) or {@code max_tokens} ({@code /v1})
 *       smaller than the token count truncates the tokens and gives {@code done_reason/finish_reason "length"}.</li>
 *   <li>{@code eval_count} / {@code completion_tokens} = number of tokens emitted.</li>
 *   <li>{@code prompt_eval_count} / {@code prompt_tokens} = number of whitespace-separated words in
 *       {@code system} + {@code prompt} (generate, completions) or in all message contents (chat); left out
 *       when 0, like Ollama. Embeddings count words per input, at least 1 each.</li>
 *   <li>Embeddings: {@value OllamaApi#EMBEDDING_LENGTH} dimensions (or {@code dimensions} if smaller), pseudo-random
 *       components seeded by the SHA-256 of the input text, L2-normalised ({@code /api/embeddings} is not
 *       normalised, like Ollama), so identical input gives identical vectors on every model.</li>
 * </ul>
 *
 * <h2>Timing</h2>
 * Streamed lines are written and flushed one at a time, the first right after the headers, with
 * {@link Builder#tokenDelay} before each following line. The {@link Builder#firstByteDelay} is spent before
 * the headers of inference routes only (after the parallelism slot is taken), without heartbeats. A
 * non-streamed inference waits {@code firstByteDelay + tokens × tokenDelay} before answering. Delays use
 * Jetty's scheduler, so waiting streams hold no thread.
 *
 * <h2>Models</h2>
 * Installed and loaded sets follow Ollama's name matching ({@code llama3} = {@code llama3:latest} =
 * {@code library/llama3}, case-insensitive). A successful inference (or a load request) marks its model loaded
 * for its {@code keep_alive} (default 5 min), an unload request ({@code keep_alive: 0} with an empty prompt)
 * removes it. Responses echo the model string as sent. {@code pull} succeeds for installed or
 * {@link Builder#pullable pullable} names (and installs them) and otherwise ends with Ollama's
 * {@code pull model manifest: file does not exist} error line.
 *
 * <h2>Client disconnects</h2>
 * The fake notices a client closing the connection at any point of the exchange, also while it waits for a
 * slot, sleeps between tokens or is stalled, within milliseconds; see {@link RecordedRequest#cancelled()}.
 * A cancelled request frees its slot at once and leaves the model loaded.
 *
 * <p>Thread-safe. Start with {@link #builder()}; {@link #close()} stops it.
 */
public final class FakeOllama implements AutoCloseable {

    /** Configures and starts a {@link FakeOllama}. Every setting has a default; see each method. */
    public static final class Builder {
        private final List<String> installed = new ArrayList<>();
        private final List<String> loaded = new ArrayList<>();
        private final List<String> pullable = new ArrayList<>();
        private List<String> tokens = List.of("The", " quick", " brown", " fox", ".");
        private Duration tokenDelay = Duration.ofMillis(5);
        private Duration firstByteDelay = Duration.ZERO;
        private int numParallel;
        private boolean checkHost;
        private Map<String, String> responseHeaders = Map.of();
        private Path keyStore;
        private String keyStorePassword;
        private String bindAddress = "127.0.0.1";
        private int bindPort;

        private Builder() {
        }

        /**
         * Listens on {@code address} (a loopback address such as {@code 127.0.0.2}) and {@code port}
         * (0 = ephemeral) instead of {@code 127.0.0.1} and an ephemeral port: lets a test move "the same"
         * upstream to a new address, as a restarted container does.
         */
        public Builder listen(String address, int port) {
            this.bindAddress = Objects.requireNonNull(address);
            this.bindPort = port;
            return this;
        }

        /** Models listed by {@code /api/tags} (default: {@code llama3:latest} and {@code all-minilm:latest} if none given). */
        public Builder installed(String... names) {
            installed.addAll(List.of(names));
            return this;
        }

        /** Models listed by {@code /api/ps} at start (they are installed too). Default: none. */
        public Builder loaded(String... names) {
            loaded.addAll(List.of(names));
            return this;
        }

        /** Names that {@code /api/pull} can fetch besides the installed ones. Default: none. */
        public Builder pullable(String... names) {
            pullable.addAll(List.of(names));
            return this;
        }

        /** The tokens generate/chat/completions emit (default {@code "The", " quick", " brown", " fox", "."}). */
        public Builder tokens(List<String> tokens) {
            this.tokens = List.copyOf(tokens);
            return this;
        }

        /** Delay between streamed lines (default 5 ms; 0 = as fast as possible). */
        public Builder tokenDelay(Duration delay) {
            this.tokenDelay = nonNegative(delay, "tokenDelay");
            return this;
        }

        /**
         * Delay before the headers of inference responses, simulating a model load (default 0); also before the
         * answer of a load request (empty prompt) for a model that is not loaded.
         */
        public Builder firstByteDelay(Duration delay) {
            this.firstByteDelay = nonNegative(delay, "firstByteDelay");
            return this;
        }

        /**
         * Per-model parallelism, like {@code OLLAMA_NUM_PARALLEL} (default 0 = unlimited). Extra inference
         * requests wait, without a thread and without a bound, in arrival order; a waiting request whose
         * client leaves is dropped.
         */
        public Builder numParallel(int numParallel) {
            if (numParallel < 0) {
                throw new IllegalArgumentException("numParallel: " + numParallel + " (expected: >= 0)");
            }
            this.numParallel = numParallel;
            return this;
        }

        /**
         * Mimic a loopback-bound Ollama's Host guard (default false): a request whose Host is not empty,
         * {@code localhost}, {@code *.localhost}, {@code *.local}, {@code *.internal}, this machine's name or a
         * loopback/private/unspecified IP gets {@code 403} with an empty body.
         */
        public Builder checkHost(boolean checkHost) {
            this.checkHost = checkHost;
            return this;
        }

        /**
         * Headers added to every response (default none), as an upstream or a proxy in front of it may send them:
         * lets a test check what a proxy passes on, such as hop-by-hop headers it must drop.
         */
        public Builder responseHeaders(Map<String, String> headers) {
            this.responseHeaders = Map.copyOf(headers);
            return this;
        }

        /** Serve HTTPS with this key store (PKCS12 or JKS) instead of HTTP; see {@link TestTls}. */
        public Builder tls(Path keyStore, String password) {
            this.keyStore = Objects.requireNonNull(keyStore);
            this.keyStorePassword = Objects.requireNonNull(password);
            return this;
        }

        /** Starts the fake on {@code 127.0.0.1} and an ephemeral port, unless {@link #listen} says otherwise. */
        public FakeOllama start() {
            FakeOllama fake = new FakeOllama(this);
            try {
                fake.startServer();
            } catch (Exception e) {
                fake.close();
                throw new IllegalStateException("cannot start FakeOllama", e);
            }
            return fake;
        }

        private static Duration nonNegative(Duration delay, String name) {
            if (delay.isNegative()) {
                throw new IllegalArgumentException(name + ": " + delay + " (expected: >= 0)");
            }
            return delay;
        }
    }

    private static final class SlotPool {
        int running;
        final Deque<Exchange> waiting = new ArrayDeque<>();
    }

    private final Models models = new Models();
    private final OllamaApi api = new OllamaApi(this, models);
    private final Set<String> pullable = ConcurrentHashMap.newKeySet();
    private final int numParallel;
    private final boolean checkHost;
    private final boolean tls;
    private final Server server;
    private final ServerConnector connector;
    private final String bindAddress;
    private final Map<String, SlotPool> slots = new HashMap<>();
    private final List<RecordedRequest> requests = new ArrayList<>();
    private final List<RecordedRequest> probes = new ArrayList<>();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger maxConcurrency = new AtomicInteger();
    /** Per canonical model: inference requests in progress now, and the most at once; guarded by itself. */
    private final Map<String, int[]> perModel = new HashMap<>();
    private volatile List<String> tokens;
    private volatile Duration tokenDelay;
    private volatile Duration firstByteDelay;
    private volatile Fault fault = Fault.none();
    private volatile DisconnectWatcher watcher;
    private int port;

    /** Starts configuring a fake. */
    public static Builder builder() {
        return new Builder();
    }

    private FakeOllama(Builder builder) {
        List<String> installed = builder.installed.isEmpty() && builder.loaded.isEmpty()
                ? List.of("llama3:latest", "all-minilm:latest") : builder.installed;
        installed.forEach(models::install);
        builder.loaded.forEach(name -> {
            models.install(name);
            models.load(name, Models.DEFAULT_KEEP_ALIVE);
        });
        builder.pullable.forEach(name -> pullable.add(Models.canonical(name)));
        this.tokens = builder.tokens;
        this.tokenDelay = builder.tokenDelay;
        this.firstByteDelay = builder.firstByteDelay;
        this.numParallel = builder.numParallel;
        this.checkHost = builder.checkHost;
        Map<String, String> responseHeaders = builder.responseHeaders;
        this.tls = builder.keyStore != null;
        QueuedThreadPool threads = new QueuedThreadPool(200, 4);
        threads.setName("fake-ollama");
        threads.setDaemon(true);
        this.server = new Server(threads);
        HttpConfiguration config = new HttpConfiguration();
        config.setSendServerVersion(false);
        HttpConnectionFactory http = new HttpConnectionFactory(config);
        if (tls) {
            SslContextFactory.Server ssl = new SslContextFactory.Server();
            ssl.setKeyStorePath(builder.keyStore.toString());
            ssl.setKeyStorePassword(builder.keyStorePassword);
            this.connector = new ServerConnector(server, new SslConnectionFactory(ssl, http.getProtocol()), http);
        } else {
            this.connector = new ServerConnector(server, http);
        }
        this.bindAddress = builder.bindAddress;
        connector.setHost(bindAddress);
        connector.setPort(builder.bindPort);
        connector.setReuseAddress(true);
        connector.setIdleTimeout(Duration.ofHours(1).toMillis()); // Ollama has no server timeouts
        server.addConnector(connector);
        server.setHandler(new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                responseHeaders.forEach(response.getHeaders()::put);
                return FakeOllama.this.handle(request, response, callback);
            }
        });
    }

    private void startServer() throws Exception {
        server.start();
        watcher = new DisconnectWatcher(server.getThreadPool());
        port = connector.getLocalPort();
    }

    // ---- public API ----

    /** The port the fake listens on (kept across {@link Fault#refuseConnections()}). */
    public int port() {
        return port;
    }

    /** {@code http://127.0.0.1:PORT} (or {@code https://} with TLS), without a trailing slash. */
    public URI baseUri() {
        return URI.create((tls ? "https" : "http") + "://" + bindAddress + ":" + port);
    }

    /** Installs a fault for the requests that arrive from now on; {@link Fault#none()} clears it. */
    public synchronized void fault(Fault newFault) {
        Objects.requireNonNull(newFault, "fault");
        Fault old = this.fault;
        this.fault = newFault;
        try {
            if (newFault instanceof Fault.RefuseConnections && !(old instanceof Fault.RefuseConnections)) {
                connector.stop();
            } else if (old instanceof Fault.RefuseConnections && !(newFault instanceof Fault.RefuseConnections)) {
                connector.setPort(port);
                connector.start();
            }
        } catch (Exception e) {
            throw new IllegalStateException("cannot switch listening for " + newFault, e);
        }
    }

    /** The fault currently installed. */
    public Fault fault() {
        return fault;
    }

    /** A snapshot of the recorded requests in arrival order ({@link RecordedRequest#receivedNanos()}). */
    public List<RecordedRequest> requests() {
        synchronized (requests) {
            List<RecordedRequest> snapshot = new ArrayList<>(requests);
            snapshot.sort(Comparator.comparingLong(RecordedRequest::receivedNanos));
            return snapshot;
        }
    }

    /**
     * Blocks until at least {@code count} requests were received and returns the snapshot.
     *
     * @throws AssertionError if they do not arrive within {@code timeout}
     */
    public List<RecordedRequest> awaitRequests(int count, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (requests) {
            while (requests.size() < count) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("expected " + count + " requests within " + timeout + ", got " + requests.size()
                            + ": " + requests);
                }
                try {
                    requests.wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError("interrupted", e);
                }
            }
        }
        return requests();
    }

    /**
     * Blocks until the request at {@code index} (arrival order) exists and the fake saw its client go away.
     *
     * @throws AssertionError on timeout
     */
    public RecordedRequest awaitCancelled(int index, Duration timeout) {
        long start = System.nanoTime();
        RecordedRequest request = awaitRequests(index + 1, timeout).get(index);
        return request.awaitCancelled(timeout.minusNanos(System.nanoTime() - start));
    }

    /**
     * The background probes received ({@link RecordedRequest#probe()}), in arrival order; they are not in
     * {@link #requests()} and do not count in {@link #maxConcurrency()} or {@link #inFlight()}.
     */
    public List<RecordedRequest> probes() {
        synchronized (probes) {
            return List.copyOf(probes);
        }
    }

    /** The highest number of requests in progress at once (from arrival to the end of the response). */
    public int maxConcurrency() {
        return maxConcurrency.get();
    }

    /**
     * The highest number of inference requests for {@code model} (Ollama's name matching) in progress at once, from
     * arrival until the last line of the response is handed to the connection (before the client can see the end,
     * so a client that sends the next request once it read one never makes two overlap), including those waiting
     * for a parallelism slot; load and unload requests (empty prompt) do not count.
     */
    public int maxConcurrency(String model) {
        synchronized (perModel) {
            int[] counts = perModel.get(Models.canonical(model));
            return counts == null ? 0 : counts[1];
        }
    }

    /** Unloads {@code model} as an eviction would (another model needed the memory): {@code /api/ps} drops it. */
    public void evict(String model) {
        models.unload(model);
    }

    /** The number of requests in progress now, including those waiting for a slot. */
    public int inFlight() {
        return inFlight.get();
    }

    /** Whether the model is in the {@code /api/ps} set. */
    public boolean isLoaded(String model) {
        return models.isLoaded(model);
    }

    /** Whether the model is in the {@code /api/tags} set. */
    public boolean isInstalled(String model) {
        return models.find(model) != null;
    }

    /** Changes the tokens emitted by later requests. */
    public void setTokens(List<String> newTokens) {
        this.tokens = List.copyOf(newTokens);
    }

    /** Changes the delay between streamed lines for later lines. */
    public void setTokenDelay(Duration delay) {
        this.tokenDelay = Builder.nonNegative(delay, "tokenDelay");
    }

    /** Changes the first-byte delay for later requests. */
    public void setFirstByteDelay(Duration delay) {
        this.firstByteDelay = Builder.nonNegative(delay, "firstByteDelay");
    }

    /**
     * Clears the recorded requests and the concurrency high-water marks (restarted from the current
     * {@link #inFlight()}, and per model from its requests in progress), and the fault. Models and settings are kept.
     */
    public void reset() {
        fault(Fault.none());
        synchronized (requests) {
            requests.clear();
        }
        maxConcurrency.set(inFlight.get());
        synchronized (perModel) {
            perModel.values().forEach(counts -> counts[1] = counts[0]);
        }
    }

    /** Stops the server, closing every connection. Idempotent. */
    public void stop() {
        try {
            server.stop();
        } catch (Exception e) {
            throw new IllegalStateException("cannot stop FakeOllama", e);
        } finally {
            DisconnectWatcher w = watcher;
            if (w != null) {
                w.close();
            }
        }
    }

    /** Same as {@link #stop()}. */
    @Override
    public void close() {
        stop();
    }

    @Override
    public String toString() {
        return "FakeOllama[" + baseUri() + "]";
    }

    // ---- package-private, for Exchange and OllamaApi ----

    List<String> tokens() {
        return tokens;
    }

    Duration tokenDelay() {
        return tokenDelay;
    }

    Duration firstByteDelay() {
        return firstByteDelay;
    }

    boolean isPullable(String name) {
        return pullable.contains(Models.canonical(name));
    }

    DisconnectWatcher watcher() {
        return watcher;
    }

    Scheduler scheduler() {
        return server.getScheduler();
    }

    void execute(Runnable task) {
        server.getThreadPool().execute(task);
    }

    void markLoaded(String model) {
        if (!models.isLoaded(model)) {
            models.load(model, Models.DEFAULT_KEEP_ALIVE);
        }
    }

    void acquireSlot(String model, Exchange exchange) {
        boolean granted;
        synchronized (slots) {
            SlotPool pool = slots.computeIfAbsent(model, m -> new SlotPool());
            granted = numParallel == 0 || pool.running < numParallel;
            if (granted) {
                pool.running++;
            } else {
                pool.waiting.add(exchange);
            }
        }
        if (granted && !exchange.slotGranted()) {
            releaseSlot(model);
        }
    }

    void releaseSlot(String model) {
        Exchange next;
        synchronized (slots) {
            SlotPool pool = slots.get(model);
            pool.running--;
            next = pool.waiting.poll();
            if (next != null) {
                pool.running++;
            }
        }
        if (next != null && !next.slotGranted()) {
            releaseSlot(model);
        }
    }

    void abandonSlot(String model, Exchange exchange) {
        synchronized (slots) {
            slots.get(model).waiting.remove(exchange);
        }
    }

    void modelStarted(String model) {
        synchronized (perModel) {
            int[] counts = perModel.computeIfAbsent(model, m -> new int[2]);
            counts[0]++;
            counts[1] = Math.max(counts[1], counts[0]);
        }
    }

    void modelEnded(String model) {
        synchronized (perModel) {
            perModel.get(model)[0]--;
        }
    }

    void exchangeEnded(RecordedRequest record) {
        if (!record.probe()) {
            inFlight.decrementAndGet();
        }
    }

    // ---- request entry ----

    private boolean handle(Request request, Response response, Callback callback) {
        long received = System.nanoTime();
        Fault current = fault;
        String sni = sniHost(request);
        Map<String, List<String>> headers = new LinkedHashMap<>();
        for (HttpField field : request.getHeaders()) {
            headers.computeIfAbsent(field.getName(), n -> new ArrayList<>()).add(field.getValue());
        }
        String method = request.getMethod();
        String path = request.getHttpURI().getDecodedPath();
        String query = request.getHttpURI().getQuery();
        String host = request.getHeaders().get(HttpHeader.HOST);
        Content.Source.asByteArrayAsync(request, 64 * 1024 * 1024).whenComplete((body, failure) -> {
            if (failure != null) {
                callback.failed(failure);
                return;
            }
            RecordedRequest record = new RecordedRequest(method, path == null ? "/" : path, query, headers, body, received, sni);
            if (record.probe()) {
                // The queue proxy's health checks and model polls: counted apart from the requests under test.
                synchronized (probes) {
                    probes.add(record);
                }
            } else {
                int now = inFlight.incrementAndGet();
                maxConcurrency.accumulateAndGet(now, Math::max);
                synchronized (requests) {
                    requests.add(record);
                    requests.notifyAll();
                }
            }
            Exchange exchange = new Exchange(this, request, response, callback, record, current);
            Reply reply;
            try {
                reply = checkHost && !hostAllowed(host) ? Reply.empty(403) : api.route(record);
            } catch (RuntimeException e) {
                reply = Reply.error(500, String.valueOf(e));
            }
            exchange.start(reply);
        });
        return true;
    }

    private static String sniHost(Request request) {
        EndPoint endPoint = request.getConnectionMetaData().getConnection().getEndPoint();
        if (!(endPoint instanceof SslConnection.SslEndPoint ssl)) {
            return null;
        }
        SSLSession session = ssl.getSslConnection().getSSLEngine().getSession();
        if (session instanceof ExtendedSSLSession extended) {
            for (SNIServerName name : extended.getRequestedServerNames()) {
                if (name instanceof SNIHostName hostName) {
                    return hostName.getAsciiName();
                }
            }
        }
        return null;
    }

    /** Ollama's Host guard for a loopback listener (see {@link Builder#checkHost}). */
    static boolean hostAllowed(String hostHeader) {
        if (hostHeader == null || hostHeader.isEmpty()) {
            return true;
        }
        String host = hostHeader;
        if (host.startsWith("[")) {
            int end = host.indexOf(']');
            host = end < 0 ? host : host.substring(1, end);
        } else if (host.indexOf(':') == host.lastIndexOf(':') && host.indexOf(':') >= 0) {
            host = host.substring(0, host.indexOf(':'));
        }
        host = host.toLowerCase(Locale.ROOT);
        if (host.isEmpty() || host.equals("localhost") || host.endsWith(".localhost") || host.endsWith(".local")
                || host.endsWith(".internal")) {
            return true;
        }
        try {
            if (host.equalsIgnoreCase(InetAddress.getLocalHost().getHostName())) {
                return true;
            }
        } catch (UnknownHostException ignored) {
            // no machine name to compare with
        }
        if (host.matches("[0-9.]+") || host.contains(":")) {
            try {
                InetAddress address = InetAddress.getByName(host);
                return address.isLoopbackAddress() || address.isSiteLocalAddress() || address.isAnyLocalAddress()
                        || address.isLinkLocalAddress() || (address.getAddress().length == 16 && (address.getAddress()[0] & 0xfe) == 0xfc);
            } catch (UnknownHostException e) {
                return false;
            }
        }
        return false;
    }
}
