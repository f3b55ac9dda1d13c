package dev.oqp.queue.metrics;

import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

import dev.oqp.common.config.Tier;
import dev.oqp.common.server.BadRequests;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;

/**
 * Every metric of the queue proxy that is counted as requests pass, declared once. Gauges that read live
 * state (queue depth, slots in use, uptime) are registered by whoever owns that state, through
 * {@link #gauge}. Labels come only from configuration (tier, host name, client id), from the statuses the
 * proxy answers, and from model names bounded by {@link #modelLabel}: anything else is {@code other}.
 */
public final class QueueMetrics {
    /** Distinct model names kept as labels of {@code oqp_tokens_total}; later ones count as {@code other}. */
    public static final int MAX_MODEL_LABELS = 100;
    public static final String OTHER = "other";

    private static final double[] LATENCY_BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
            120, 300, 600};

    /**
     * The labels of the host metrics the Python ollama-queue-proxy also has ({@code oqp_host_healthy},
     * {@code oqp_host_requests_total}, {@code oqp_host_failures_total}): its {@code name}, and oqp's {@code host}
     * (the label of every other host metric), both the host's configured name.
     */
    public static final String[] HOST_LABELS = {"name", "host"};
    /**
     * The labels of {@code oqp_client_inflight} and {@code oqp_client_cap_waiting}: the Python tool's
     * {@code client_id}, and oqp's {@code client}.
     */
    public static final String[] CLIENT_LABELS = {"client_id", "client"};

    public final PrometheusRegistry registry = new PrometheusRegistry();
    /** When this process's proxy started ({@code oqp_uptime_seconds}, {@code uptime_seconds} of the status API). */
    private final long startNanos = System.nanoTime();

    public final Counter queueProcessed = Counter.builder()
            .name("oqp_queue_processed_total")
            .help("Queued requests that were dispatched upstream and completed, by the tier they were admitted into")
            .labelNames("tier")
            .register(registry);
    public final Counter queueRejected = Counter.builder()
            .name("oqp_queue_rejected_total")
            .help("Requests refused at admission: tier_full, bytes_full (max_queued_bytes), draining or paused; deadline"
                    + " (X-Queue-Max-Wait shorter than the predicted wait at admission, or passed while waiting)")
            .labelNames("tier", "reason")
            .register(registry);
    public final Counter queueExpired = Counter.builder()
            .name("oqp_queue_expired_total")
            .help("Queued requests answered 503 after waiting their tier's max_wait")
            .labelNames("tier")
            .register(registry);
    public final Counter queueCancelled = Counter.builder()
            .name("oqp_queue_cancelled_total")
            .help("Queued requests removed because their client disconnected, or flushed by an operator or a shutdown")
            .labelNames("tier")
            .register(registry);
    public final Histogram queueWait = Histogram.builder()
            .name("oqp_queue_wait_seconds")
            .help("Time from enqueue to dispatch (never includes generation)")
            .labelNames("tier")
            .classicUpperBounds(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
            .register(registry);
    public final Histogram queuePosition = Histogram.builder()
            .name("oqp_queue_position")
            .help("The 1-based place in the dispatch order of each request that waited, when it was queued"
                    + " (X-Queue-Position), by the tier it was admitted into")
            .labelNames("tier")
            .classicUpperBounds(1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000)
            .register(registry);
    public final Counter hostRequests = Counter.builder()
            .name("oqp_host_requests_total")
            .help("Requests sent to each Ollama host (labels name and host: both the host's name)")
            .labelNames(HOST_LABELS)
            .register(registry);
    public final Counter hostFailures = Counter.builder()
            .name("oqp_host_failures_total")
            .help("Requests to each host that failed upstream: connect failure, timeout or broken connection"
                    + " (labels name and host: both the host's name)")
            .labelNames(HOST_LABELS)
            .register(registry);
    public final Counter clientRequests = Counter.builder()
            .name("oqp_client_requests_total")
            .help("Requests answered, by client and status (499: the client went away first)")
            .labelNames("client", "status")
            .register(registry);
    public final Counter tokens = Counter.builder()
            .name("oqp_tokens_total")
            .help("Tokens reported by Ollama (prompt_eval_count, eval_count) or an OpenAI usage object")
            .labelNames("client", "model", "kind")
            .register(registry);
    public final Histogram upstreamSeconds = Histogram.builder()
            .name("oqp_upstream_seconds")
            .help("Time from sending a request to a host to the end of its response")
            .labelNames("host")
            .classicUpperBounds(LATENCY_BUCKETS)
            .register(registry);
    public final Histogram timeToFirstByte = Histogram.builder()
            .name("oqp_time_to_first_byte_seconds")
            .help("Time from sending a request to a host to its response headers")
            .labelNames("host")
            .classicUpperBounds(LATENCY_BUCKETS)
            .register(registry);
    public final Counter authFailures = Counter.builder()
            .name("oqp_auth_failures_total")
            .help("Refused key checks: missing, invalid, or rate_limited (the address had too many failures)")
            .labelNames("reason")
            .register(registry);

    public final Counter badRequests = Counter.builder()
            .name("oqp_bad_requests_total")
            .help("Requests Jetty refused as malformed before the proxy saw them, by reason: " + BadRequests.REASONS)
            .labelNames("reason")
            .register(registry);

    public final Counter routingDecisions = Counter.builder()
            .name("oqp_routing_decisions_total")
            .help("Host choices by reason: loaded, installed, unsynced (model_aware), least_busy, round_robin,"
                    + " fallback (no host has the model), named (X-Ollama-Host), failover, first_healthy;"
                    + " refusals: no_healthy_host, not_found (fallback reject)")
            .labelNames("reason")
            .register(registry);
    public final Counter hostHealthChanges = Counter.builder()
            .name("oqp_host_health_changes_total")
            .help("Host health changes, by the state entered (healthy, unhealthy)")
            .labelNames("host", "state")
            .register(registry);

    public final Counter cacheHits = Counter.builder()
            .name("oqp_embedding_cache_hits_total")
            .help("Embedding input items answered from the cache, by client, model (a model installed on a host,"
                    + " else other) and endpoint")
            .labelNames("client", "model", "endpoint")
            .register(registry);
    public final Counter cacheMisses = Counter.builder()
            .name("oqp_embedding_cache_misses_total")
            .help("Embedding input items looked up and not found (or not looked up: the backend failed), by client,"
                    + " model and endpoint")
            .labelNames("client", "model", "endpoint")
            .register(registry);
    public final Counter cacheErrors = Counter.builder()
            .name("oqp_embedding_cache_errors_total")
            .help("Embedding cache backend failures, by kind: timeout, connection, corrupt (a value not written by"
                    + " oqp), store (a store failed), other")
            .labelNames("kind")
            .register(registry);

    public final Counter configReloads = Counter.builder()
            .name("oqp_config_reloads_total")
            .help("Configuration reloads (SIGHUP or the file changing): success, or error (the file had a problem;"
                    + " nothing changed)")
            .labelNames("result")
            .register(registry);
    public final Counter rateLimited = Counter.builder()
            .name("oqp_rate_limited_total")
            .help("Inference requests refused 429 by a client's rate limit: requests_per_minute, tokens_per_minute,"
                    + " tokens_per_day")
            .labelNames("client", "limit")
            .register(registry);
    public final Counter usageRequests = Counter.builder()
            .name("oqp_usage_requests_total")
            .help("Inference requests answered 200 by a host or from the embedding cache, by client and model (GET /usage)")
            .labelNames("client", "model")
            .register(registry);
    public final Counter coordinationDegradedDecisions = Counter.builder()
            .name("oqp_coordination_degraded_decisions_total")
            .help("Decisions a replica took without the coordination backend, by what: rate_limit (decided in memory"
                    + " on this replica's share of the limit), usage_write (counted in memory only), usage_read"
                    + " (GET /usage answered partial)")
            .labelNames("what")
            .register(registry);
    public final Counter webhookDeliveries = Counter.builder()
            .name("oqp_webhook_deliveries_total")
            .help("Webhook deliveries by event and result: delivered, retried (an attempt to be repeated), failed"
                    + " (4xx, or 5xx, timeout or connect failure after the retries), dropped_queue_full,"
                    + " dropped_blocked_address (the host now resolves to a refused address)")
            .labelNames("event", "result")
            .register(registry);
    public final Counter clientCacheHits = Counter.builder()
            .name("oqp_client_cache_hits_total")
            .help("Embedding input items answered from the cache, by client")
            .labelNames("client")
            .register(registry);

    /** Cache items looked up since start, hits and misses (the status API's totals). */
    private final LongAdder cacheHitTotal = new LongAdder();
    private final LongAdder cacheMissTotal = new LongAdder();
    /**
     * Per client: queued requests that completed and cache hits answered ({@code processed}), and requests the
     * queue refused at admission ({@code rejected}), as the status API's {@code clients} reports them.
     */
    private final Map<String, LongAdder[]> queueOutcomes = new ConcurrentHashMap<>();
    /** Per client (labels from configuration): prompt and completion tokens, each array guarded by itself. */
    private final Map<String, long[]> tokensByClient = new ConcurrentHashMap<>();
    private final Map<String, CounterDataPoint> decisionSeries = new ConcurrentHashMap<>();
    private final Map<String, CounterDataPoint> badRequestSeries = new ConcurrentHashMap<>();
    private final Set<String> models = ConcurrentHashMap.newKeySet();
    private final Map<String, HostSeries> hostSeries = new ConcurrentHashMap<>();
    private final Map<Tier, TierSeries> tierSeries = new EnumMap<>(Tier.class);
    private final Map<String, Map<Integer, CounterDataPoint>> clientSeries = new ConcurrentHashMap<>();

    /** The series of one host, looked up once rather than per request. */
    public record HostSeries(CounterDataPoint requests, CounterDataPoint failures, DistributionDataPoint upstream,
                             DistributionDataPoint firstByte) {
    }

    /** The series of one tier. */
    public record TierSeries(CounterDataPoint processed, CounterDataPoint expired, CounterDataPoint cancelled,
                             DistributionDataPoint waited, DistributionDataPoint position) {
    }

    public QueueMetrics() {
        for (Tier t : Tier.values()) {
            String name = t.yamlName();
            tierSeries.put(t, new TierSeries(queueProcessed.labelValues(name), queueExpired.labelValues(name),
                    queueCancelled.labelValues(name), queueWait.labelValues(name), queuePosition.labelValues(name)));
        }
    }

    /** The series of the host named {@code name} (a name from configuration). */
    public HostSeries host(String name) {
        return hostSeries.computeIfAbsent(name, h -> new HostSeries(hostRequests.labelValues(h, h),
                hostFailures.labelValues(h, h), upstreamSeconds.labelValues(h), timeToFirstByte.labelValues(h)));
    }

    /** Whole seconds since the proxy started. */
    public long uptimeSeconds() {
        return (System.nanoTime() - startNanos) / 1_000_000_000L;
    }

    /** Seconds since the proxy started, with a fraction ({@code oqp_uptime_seconds}). */
    public double uptime() {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    /**
     * Counts one embedding cache lookup of {@code client} on {@code endpoint}: {@code hits} items found and
     * {@code misses} not. Both series are created, so a label set seen only missing shows 0 hits (as the Python
     * tool's did).
     *
     * @param model a bounded label: a model installed on some host, else {@value #OTHER}
     */
    public void cacheLookup(String client, String model, String endpoint, int hits, int misses) {
        CounterDataPoint hit = cacheHits.labelValues(client, model, endpoint);
        CounterDataPoint miss = cacheMisses.labelValues(client, model, endpoint);
        if (hits > 0) {
            hit.inc(hits);
            cacheHitTotal.add(hits);
        }
        if (misses > 0) {
            miss.inc(misses);
            cacheMissTotal.add(misses);
        }
    }

    /** Embedding items answered from the cache since start, all labels. */
    public long cacheHitTotal() {
        return cacheHitTotal.sum();
    }

    /** Embedding items looked up and missed since start, all labels. */
    public long cacheMissTotal() {
        return cacheMissTotal.sum();
    }

    /** A queued request of {@code client} completed, or a cache hit answered it. */
    public void clientProcessed(String client) {
        outcomes(client)[0].increment();
    }

    /** The queue refused a request of {@code client} at admission (tier full, bytes full, draining). */
    public void clientRejected(String client) {
        outcomes(client)[1].increment();
    }

    /** {@code [processed, rejected]} of {@code client} since start. */
    public long[] queueOutcomes(String client) {
        LongAdder[] counts = queueOutcomes.get(client);
        return counts == null ? new long[2] : new long[] {counts[0].sum(), counts[1].sum()};
    }

    /** The clients that had a request processed or rejected. */
    public Set<String> clientsWithOutcomes() {
        return Set.copyOf(queueOutcomes.keySet());
    }

    private LongAdder[] outcomes(String client) {
        return queueOutcomes.computeIfAbsent(client, c -> new LongAdder[] {new LongAdder(), new LongAdder()});
    }

    /** Requests of {@code tier} the queue refused, every reason. */
    public long rejected(Tier tier) {
        long n = 0;
        for (CounterSnapshot.CounterDataPointSnapshot point : queueRejected.collect().getDataPoints()) {
            if (tier.yamlName().equals(point.getLabels().get("tier"))) {
                n += (long) point.getValue();
            }
        }
        return n;
    }

    /** Counts one request Jetty refused as malformed (a reason from a fixed set, see the help text). */
    public void badRequest(String reason) {
        badRequestSeries.computeIfAbsent(reason, badRequests::labelValues).inc();
    }

    /** Counts one host choice or refusal (a fixed set of reasons, see the help text). */
    public void routingDecision(String reason) {
        decisionSeries.computeIfAbsent(reason, routingDecisions::labelValues).inc();
    }

    /** Counts the place a request took when it was queued (a request dispatched at once has none). */
    public void queuePosition(Tier tier, int position) {
        if (position > 0) {
            tier(tier).position().observe(position);
        }
    }

    /** The series of a tier. */
    public TierSeries tier(Tier tier) {
        return tierSeries.get(tier);
    }

    /** Counts one answered request of {@code client} (a label from configuration) with {@code status}. */
    public void clientRequest(String client, int status) {
        clientSeries.computeIfAbsent(client, c -> new ConcurrentHashMap<>())
                .computeIfAbsent(status, code -> clientRequests.labelValues(client, Integer.toString(code))).inc();
    }

    /** Registers a gauge whose values are read from live state at each scrape. */
    public void gauge(String name, String help, String[] labelNames, Consumer<GaugeWithCallback.Callback> callback) {
        GaugeWithCallback.builder().name(name).help(help).labelNames(labelNames).callback(callback).register(registry);
    }

    /**
     * The label for a model name: the name itself for the first {@value #MAX_MODEL_LABELS} distinct names,
     * {@value #OTHER} afterwards. Only names an upstream reported tokens for reach here, so they are models
     * that exist on a host, not whatever a client typed.
     */
    public String modelLabel(String canonicalModel) {
        if (canonicalModel == null) {
            return OTHER;
        }
        if (models.contains(canonicalModel)) {
            return canonicalModel;
        }
        synchronized (models) {
            if (models.size() < MAX_MODEL_LABELS) {
                models.add(canonicalModel);
                return canonicalModel;
            }
        }
        return OTHER;
    }

    /** Adds the tokens of one response. Negative counts (none reported) are skipped. */
    public void addTokens(String client, String canonicalModel, long prompt, long completion) {
        if (prompt <= 0 && completion <= 0) {
            return;
        }
        String model = modelLabel(canonicalModel);
        long[] totals = tokensByClient.computeIfAbsent(client, c -> new long[2]);
        synchronized (totals) {
            totals[0] += Math.max(0, prompt);
            totals[1] += Math.max(0, completion);
        }
        if (prompt > 0) {
            tokens.labelValues(client, model, "prompt").inc(prompt);
        }
        if (completion > 0) {
            tokens.labelValues(client, model, "completion").inc(completion);
        }
    }

    /** Prompt and completion tokens of {@code client} since start (the status API and the dashboard). */
    public long[] tokens(String client) {
        long[] totals = tokensByClient.get(client);
        if (totals == null) {
            return new long[2];
        }
        synchronized (totals) {
            return totals.clone();
        }
    }

    /** Clients that had tokens counted. */
    public Set<String> clientsWithTokens() {
        return Set.copyOf(tokensByClient.keySet());
    }
}
