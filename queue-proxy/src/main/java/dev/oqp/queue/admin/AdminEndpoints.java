package dev.oqp.queue.admin;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.oqp.common.config.AdminConfig;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.Scope;
import dev.oqp.common.config.Tier;
import dev.oqp.common.server.MetricsHandler;
import dev.oqp.queue.auth.Client;
import dev.oqp.queue.cache.CacheService;
import dev.oqp.queue.limits.Usage;
import dev.oqp.queue.limits.UsageReport;
import dev.oqp.queue.metrics.QueueMetrics;
import dev.oqp.queue.routing.Fleet;
import dev.oqp.queue.routing.Preloader;
import dev.oqp.queue.routing.SlotPool;
import dev.oqp.queue.scheduler.QueueControls;
import dev.oqp.queue.scheduler.Scheduler;
import dev.oqp.queue.scheduler.Snapshot;

/**
 * The queue proxy's own endpoints on the main port (pipeline step 2). Without a key: {@code /health} (also
 * answered before the gate), {@code /ready}, and {@code /metrics} when {@code admin.metrics_public}. Scope read:
 * {@code /metrics}, {@code /queue/status}, {@code /queue/summary}, {@code /dashboard}, {@code /usage},
 * {@code /queue/requests/{X-Request-ID}} (a queued or running request of the caller's own client, any client's with
 * the management scope; another client's answers 404 as an unknown id, and so does one that ended). Scope
 * management: {@code POST /queue/pause|resume|drain|flush[?tier=high|normal|low]} (no tier: all tiers); a bad
 * tier is 400, decided after authorisation so that it tells an unauthorised caller nothing. A control answers the
 * Python ollama-queue-proxy's body ({@code {"status":"paused","tier":"low"}}, {@code "resumed"}, {@code "drained"},
 * {@code {"status":"flushed","tier":…,"dropped":n}}) with oqp's fields beside; {@code drain} answers once the
 * drained tiers hold no waiting request, as there (no thread waits meanwhile).
 *
 * <p>Each endpoint returns a {@link Reply}; the caller writes it and records the request.
 */
public final class AdminEndpoints {
    private static final JsonFactory JSON = new JsonFactory();
    /** The path prefix of {@code GET /queue/requests/{X-Request-ID}}. */
    public static final String QUEUE_REQUESTS = "/queue/requests/";
    /** How often a drain looks whether the drained tiers are empty yet. */
    static final long DRAIN_POLL_MILLIS = 100;
    private static final Map<String, String> NO_STORE = Map.of("Cache-Control", "no-store");
    /** Browsers may fetch JSON with the dashboard's credentials: never sniffed, never embedded elsewhere. */
    private static final Map<String, String> JSON_HEADERS = Map.of("Cache-Control", "no-store",
            "X-Content-Type-Options", "nosniff", "Cross-Origin-Resource-Policy", "same-origin");

    private final Scheduler<?> scheduler;
    /** The scheduler's own, or with coordination every replica's. */
    private volatile QueueControls controls;
    private final Fleet fleet;
    private final QueueMetrics metrics;
    private final Usage usage;
    private final BooleanSupplier stopping;
    private final StatusJson status;
    private final org.eclipse.jetty.util.thread.Scheduler timer;
    /** Queued requests by id, as the intake tracks them. */
    private final QueueRequests requests = new QueueRequests();

    /**
     * @param stopping true once the server is shutting down ({@code /ready} answers 503 then)
     * @param timer    runs a drain's checks for an empty queue
     */
    public AdminEndpoints(Scheduler<?> scheduler, SlotPool pool, Fleet fleet, QueueMetrics metrics, Usage usage,
                          BooleanSupplier stopping, org.eclipse.jetty.util.thread.Scheduler timer) {
        this.timer = timer;
        this.scheduler = scheduler;
        this.controls = scheduler;
        this.fleet = fleet;
        this.metrics = metrics;
        this.usage = usage;
        this.stopping = stopping;
        this.status = new StatusJson(scheduler, pool, fleet, metrics);
    }

    /** Shows each host's warm models' load state in {@code /queue/status}; call before serving. */
    public void preloader(Preloader preloader) {
        status.preloader(preloader);
    }

    /** Where the intake tracks queued requests ({@code GET /queue/requests/{id}}, the waiters of the status). */
    public QueueRequests requests() {
        return requests;
    }

    /**
     * Lists the replicas in {@code /queue/status} and sends the queue controls to every replica through
     * {@code controls} (coordination on); call before serving.
     */
    public void coordination(dev.oqp.queue.coordination.Coordination coordination, QueueControls controls) {
        status.coordination(coordination);
        this.controls = controls;
    }

    /** True for an own endpoint that needs no key under {@code admin}. */
    public static boolean isPublic(String path, AdminConfig admin) {
        return "/metrics".equals(path) && admin.metricsPublic();
    }

    /** The endpoints that need no key: {@code /ready}, a public {@code /metrics}, else {@code /health}. */
    public Reply open(String path, CacheService cache) {
        return switch (path) {
            case "/ready" -> ready(cache);
            case "/metrics" -> metrics();
            default -> json(200, g -> g.writeStringField("status", "ok"));
        };
    }

    /**
     * The endpoints whose scope the caller has checked.
     *
     * @param tier              the {@code tier} query parameter of a queue control, or null
     * @param config            the configuration of the request's settings
     * @param configuredClients the client ids {@code config} names, in config order
     * @param cache             the embedding cache of the request's settings, or null when disabled
     */
    public Reply authorized(String path, Client client, String tier, OqpConfig config, Set<String> configuredClients,
                            CacheService cache) {
        AdminConfig admin = config.admin();
        // A management key sees every client's requests; any other key only its own.
        String visible = client.scope() == Scope.MANAGEMENT ? null : client.clientId();
        if (path.startsWith(QUEUE_REQUESTS)) {
            QueueRequests.Entry entry = requests.find(path.substring(QUEUE_REQUESTS.length()), visible);
            // Another client's request answers exactly as an unknown one.
            return entry == null ? new Reply.Error(404, "no queued or running request with this id", "not_found")
                    : json(200, g -> QueueRequestsJson.request(g, entry));
        }
        return switch (path) {
            case "/metrics" -> metrics();
            case "/queue/status" -> json(200, g -> {
                status.status(g, config, configuredClients, cache, visible);
                QueueRequestsJson.waiters(g, requests, scheduler, visible);
            });
            case "/queue/summary" -> json(200, g -> status.summary(g, true));
            case "/queue/pause", "/queue/resume", "/queue/drain", "/queue/flush" ->
                    control(path.substring("/queue/".length()), tier);
            case "/dashboard" -> admin.dashboard() ? Dashboard.page()
                    : new Reply.Error(404, "the dashboard is disabled (admin.dashboard: false)", "not_found");
            case "/usage" -> {
                // A management key sees every client; any other key only its own usage.
                boolean all = client.scope() == Scope.MANAGEMENT;
                String self = client.clientId();
                // In memory at once; shared over replicas when Valkey answers (or this replica's own, partial).
                CompletableFuture<UsageReport> report = usage.report();
                yield report.isDone() ? usageReply(report.join(), all, self)
                        : new Reply.Deferred(report.thenApply(r -> usageReply(r, all, self)));
            }
            default -> new Reply.Error(404, "404 page not found", "not_found");
        };
    }

    private static Reply usageReply(UsageReport report, boolean all, String self) {
        return json(200, g -> report.write(g, id -> all || id.equals(self)));
    }

    /**
     * Ready when the proxy is not shutting down and the last health check of at least one host answered (the
     * background checks of {@code health_check_interval}; a probe flood here never reaches the hosts).
     */
    private Reply ready(CacheService cache) {
        if (stopping.getAsBoolean()) {
            return json(503, g -> g.writeStringField("status", "stopping"));
        }
        int hostsUp = fleet.healthyCount();
        // Only a required cache counts: an optional one that is down means misses, not an unready proxy.
        boolean cacheReady = cache == null || cache.ready();
        boolean ready = hostsUp > 0 && cacheReady;
        return json(ready ? 200 : 503, g -> {
            g.writeStringField("status", ready ? "ready" : hostsUp == 0 ? "no healthy host"
                    : "embedding cache unavailable");
            g.writeNumberField("hosts_up", hostsUp);
            g.writeNumberField("hosts", fleet.hosts().size());
            if (cache != null) {
                g.writeBooleanField("cache_available", cache.backend().available());
            }
        });
    }

    private Reply metrics() {
        return new Reply.Content(200, MetricsHandler.CONTENT_TYPE, MetricsHandler.scrape(metrics.registry), NO_STORE);
    }

    private Reply control(String action, String value) {
        Tier tier;
        if (value == null || value.isEmpty() || value.equalsIgnoreCase("all")) {
            tier = null;
        } else {
            try {
                tier = Tier.valueOf(value.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                return new Reply.Error(400, "tier must be high, normal or low (or absent for all)", "bad_tier");
            }
        }
        return switch (action) {
            case "pause" -> {
                controls.pause(tier);
                yield controlled(action, "paused", tier, -1);
            }
            case "resume" -> {
                controls.resume(tier);
                yield controlled(action, "resumed", tier, -1);
            }
            case "drain" -> {
                controls.drain(tier);
                CompletableFuture<Reply> drained = new CompletableFuture<>();
                whenEmpty(tier, drained, () -> controlled(action, "drained", tier, -1));
                yield new Reply.Deferred(drained);
            }
            default -> controlled(action, "flushed", tier, controls.flush(tier));
        };
    }

    /**
     * A control's answer: the Python tool's {@code status} and {@code tier} ({@code all} for every tier), and
     * {@code dropped} for a flush; oqp's {@code action}, {@code flushed} and the summary fields.
     */
    private Reply controlled(String action, String done, Tier tier, int flushed) {
        return json(200, g -> {
            g.writeStringField("status", done);
            g.writeStringField("tier", tier == null ? "all" : tier.yamlName());
            if (flushed >= 0) {
                g.writeNumberField("dropped", flushed);
            }
            g.writeStringField("action", action);
            if (flushed >= 0) {
                g.writeNumberField("flushed", flushed);
            }
            status.summary(g, false);
        });
    }

    /**
     * Completes {@code drained} with {@code answer} once {@code tier} (null: every tier) holds no waiting request,
     * looking every {@value #DRAIN_POLL_MILLIS} ms. A drained tier admits nothing new, so this ends by the tier's
     * {@code max_wait} at the latest (expiry), sooner by dispatch or a flush; at once when {@code drained} is
     * completed otherwise (its caller left: the request path completes it exceptionally).
     */
    private void whenEmpty(Tier tier, CompletableFuture<Reply> drained, Supplier<Reply> answer) {
        if (drained.isDone()) {
            return;
        }
        Snapshot s = scheduler.snapshot();
        int waiting = tier == null ? s.totalDepth() : s.depth().get(tier);
        if (waiting == 0 || stopping.getAsBoolean()) {
            drained.complete(answer.get());
            return;
        }
        try {
            timer.schedule(() -> whenEmpty(tier, drained, answer), DRAIN_POLL_MILLIS, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // The server is stopping: answer now rather than never.
            drained.complete(answer.get());
        }
    }

    @FunctionalInterface
    private interface Fields {
        void write(JsonGenerator g) throws IOException;
    }

    private static Reply json(int status, Fields fields) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(512);
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            fields.write(g);
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        out.write('\n');
        return new Reply.Content(status, "application/json; charset=utf-8", out.toByteArray(), JSON_HEADERS);
    }
}
