package dev.oqp.queue.server;

import java.io.IOException;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;

import dev.oqp.common.config.RoutingConfig;
import dev.oqp.common.config.Tier;
import dev.oqp.common.proxy.BodyTooLargeException;
import dev.oqp.common.proxy.ErrorResponses;
import dev.oqp.common.proxy.ProxyErrors;
import dev.oqp.queue.admin.QueueRequests;
import dev.oqp.queue.cache.CachePlan;
import dev.oqp.queue.cache.CacheService;
import dev.oqp.queue.limits.Limiter;
import dev.oqp.queue.limits.RateLimiter;
import dev.oqp.queue.metrics.QueueMetrics;
import dev.oqp.queue.routing.Fleet;
import dev.oqp.queue.routing.SlotPool;
import dev.oqp.queue.scheduler.Scheduler;
import dev.oqp.queue.webhooks.Webhooks;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.EofException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pipeline steps 5 to 7 for an authorised inference request: the client's rate limits (429), the requested
 * priority and {@code X-Queue-Max-Wait} (400 for a bad one), the body read once and bounded (413, 408, 503 past the shared body budget),
 * parsed for the model (400), the model allow-list (403), the embedding cache (a full hit is answered here),
 * a host able to serve the model (503, 404 under {@code fallback: reject}), {@code keep_alive}; then the
 * request joins the queue as a {@link QueuedCall}. Nothing here blocks: a shared rate limit check, the body and
 * a cache lookup complete asynchronously.
 */
final class InferenceIntake {
    private static final Logger LOG = LoggerFactory.getLogger(InferenceIntake.class);
    /** The largest inference body read into memory, whatever {@code max_body} allows. */
    static final long MAX_BUFFERED_BODY = 1L << 30;

    private final Limiter rates;
    private final QueueMetrics metrics;
    private final UsageRecorder usage;
    private final Fleet fleet;
    private final BodyReader.Budget bodies;
    private final Executor executor;
    private final Scheduler<SlotPool.HostLease> scheduler;
    private final Sender sender;
    private final BooleanSupplier stopping;
    private final Webhooks webhooks;
    /** {@code Retry-After} while coordination is closed: the heartbeat retries the backend every couple of seconds. */
    static final long CLOSED_RETRY_AFTER_SECONDS = 2;
    /** True while coordination is degraded with {@code on_failure: closed}: inference gets 503. */
    private final BooleanSupplier closed;
    /** The queued requests by id ({@code GET /queue/requests/{id}}). */
    private final QueueRequests requests;

    /** @param stopping true once the server is shutting down */
    InferenceIntake(Limiter rates, QueueMetrics metrics, UsageRecorder usage, Fleet fleet, BodyReader.Budget bodies,
                    Executor executor, Scheduler<SlotPool.HostLease> scheduler, Sender sender, BooleanSupplier stopping,
                    Webhooks webhooks) {
        this(rates, metrics, usage, fleet, bodies, executor, scheduler, sender, stopping, webhooks, () -> false,
                new QueueRequests());
    }

    /**
     * @param closed   true while inference must be refused (coordination degraded, {@code on_failure: closed})
     * @param requests where queued requests are tracked by id while they wait and run
     */
    InferenceIntake(Limiter rates, QueueMetrics metrics, UsageRecorder usage, Fleet fleet, BodyReader.Budget bodies,
                    Executor executor, Scheduler<SlotPool.HostLease> scheduler, Sender sender, BooleanSupplier stopping,
                    Webhooks webhooks, BooleanSupplier closed, QueueRequests requests) {
        this.closed = closed;
        this.requests = requests;
        this.rates = rates;
        this.metrics = metrics;
        this.usage = usage;
        this.fleet = fleet;
        this.bodies = bodies;
        this.executor = executor;
        this.scheduler = scheduler;
        this.sender = sender;
        this.stopping = stopping;
        this.webhooks = webhooks;
    }

    void admit(Call call) {
        if (closed.getAsBoolean()) {
            call.answer(503, "replica coordination unavailable; retry shortly", "coordination_unavailable",
                    CLOSED_RETRY_AFTER_SECONDS);
            return;
        }
        CompletableFuture<RateLimiter.Decision> checked = rates.check(call.client.clientId(), call.client.limits());
        if (checked.isDone()) {
            limited(call, checked.join());
            return;
        }
        // Shared limits answer from Valkey: the request goes on when they do, on a pool thread.
        call.request.addFailureListener(x -> call.gone = true);
        checked.thenAcceptAsync(limit -> {
            try {
                if (call.gone) {
                    // What it pre-paid is refunded when the request is recorded.
                    call.reservedTokens.set(limit.reserved());
                    call.leave("during the rate limit check");
                } else {
                    limited(call, limit);
                }
            } catch (Throwable t) {
                LOG.warn("{} rate limit step failed: {}", call.requestId, t.getClass().getName());
                if (!call.response.isCommitted()) {
                    refuse(call, 500, "internal error", "internal");
                } else {
                    call.fail(t, "internal");
                }
            }
        }, executor);
    }

    /** Step 5 after the rate limits: 429, or the priority and the body. */
    private void limited(Call call, RateLimiter.Decision limit) {
        limit.headers().forEach(call.response.getHeaders()::put);
        call.reservedTokens.set(limit.reserved());
        if (!limit.allowed()) {
            metrics.rateLimited.labelValues(call.client.clientId(), limit.limit()).inc();
            webhooks.rateLimited(call.client.clientId(), limit.limit(), limit.retryAfterSeconds());
            call.answer(429, "rate limit " + limit.limit() + " of client " + call.client.clientId() + " reached; retry in "
                    + limit.retryAfterSeconds() + "s", "rate_limited_" + limit.limit(), limit.retryAfterSeconds());
            return;
        }
        webhooks.admitted(call.client.clientId());
        Tier requested;
        String priority = call.request.getHeaders().get(Headers.X_QUEUE_PRIORITY);
        if (priority == null || priority.isBlank()) {
            requested = Tier.NORMAL;
        } else {
            try {
                requested = Tier.valueOf(priority.strip().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                call.answer(400, "X-Queue-Priority must be high, normal or low", "bad_priority");
                return;
            }
        }
        try {
            call.maxWaitNanos = MaxWait.nanos(call.request.getHeaders().get(Headers.X_QUEUE_MAX_WAIT));
        } catch (IllegalArgumentException e) {
            call.answer(400, MaxWait.INVALID, "bad_max_wait");
            return;
        }
        call.tier = requested.min(call.client.maxPriority());
        // Held in one array: a body over 1 GiB is refused whatever max_body says.
        call.maxBody = Math.min(call.port.maxBody(), MAX_BUFFERED_BODY);
        if (call.request.getLength() > call.maxBody) {
            // (A small body is still read and dropped first, so that the client reads the answer.)
            refuse(call, 413, tooLarge(call.maxBody), "body_too_large");
            return;
        }
        call.bodyRead = true;
        BodyReader.read(call.request, call.maxBody, bodies, (body, failure) -> {
            if (failure != null) {
                call.tier = null;
                bodyFailed(call, failure);
            } else {
                parsed(call, body);
            }
        });
    }

    /** Step 5 after the read: the model, the allow-list, then the cache or the queue. */
    private void parsed(Call call, byte[] body) {
        String path = call.path();
        InferenceBody parsed;
        try {
            parsed = InferenceBody.parse(path, body);
        } catch (InferenceBody.BadBody e) {
            refuse(call, 400, e.getMessage(), "bad_body");
            return;
        }
        if (parsed.canonicalModel() == null) {
            refuse(call, 400, "model is required", "bad_body");
            return;
        }
        call.model = parsed.canonicalModel();
        call.spelledModel = parsed.model();
        call.stream = parsed.stream();
        if (!call.client.allowsModel(parsed.canonicalModel())) {
            refuse(call, 403, "model " + ErrorResponses.quote(parsed.model()) + " is not allowed for client "
                    + call.client.clientId(), "model_not_allowed");
            return;
        }
        CacheService cache = call.settings.cache();
        CachePlan plan = cache == null || !call.route.embedding() ? null
                : cache.plan(path, body, call.model, parsed.model(), call.client.clientId());
        if (plan == null) {
            toQueue(call, parsed, body);
            return;
        }
        call.cache = plan;
        call.cacheService = cache;
        String modelLabel = fleet.installedAnywhere(call.model) ? metrics.modelLabel(call.model) : QueueMetrics.OTHER;
        CompletableFuture<Boolean> looked = cache.lookup(plan, call.clientLabel(), modelLabel, path);
        if (looked.isDone()) {
            cached(call, parsed, body, looked.join());
        } else {
            // A client that leaves during the lookup must not reach the upstream afterwards.
            call.request.addFailureListener(x -> call.gone = true);
            // Off the cache client's thread: what follows may queue and forward.
            looked.thenAcceptAsync(answered -> cached(call, parsed, body, answered), executor);
        }
    }

    /**
     * Step 6 after the lookup: a full hit is answered here, without queueing or touching a host; otherwise the
     * request goes on with the missing items only. A backend that failed means misses, unless it is required.
     */
    private void cached(Call call, InferenceBody parsed, byte[] body, boolean answered) {
        try {
            afterLookup(call, parsed, body, answered);
        } catch (Throwable t) {
            // Never leave the client without an answer (this may run on a pool thread, where nobody else would).
            // The type only: a parser's message may quote the body, and the body is the client's text.
            LOG.warn("{} embedding cache step failed: {}", call.requestId, t.getClass().getName());
            if (!call.response.isCommitted()) {
                refuse(call, 500, "internal error", "internal");
            } else {
                call.fail(t, "internal");
            }
        }
    }

    private void afterLookup(Call call, InferenceBody parsed, byte[] body, boolean answered) throws IOException {
        CachePlan plan = call.cache;
        if (call.gone) {
            call.leave("during the cache lookup");
            return;
        }
        if (plan.answerBytes() > CachePlan.MAX_ANSWER_BYTES) {
            // Many cached copies of large vectors (a batch repeating one text): too large to assemble here;
            // Ollama answers it, uncached.
            call.cache = null;
            toQueue(call, parsed, body);
            return;
        }
        if (!answered && call.cacheService.required()) {
            call.tier = null;
            call.answer(503, "embedding cache unavailable (required); retry later", "cache_unavailable", 1);
            return;
        }
        if (plan.status() == CachePlan.Status.HIT) {
            call.tier = null;
            byte[] out = plan.response(null);
            HttpFields.Mutable headers = call.response.getHeaders();
            headers.put(Headers.X_CACHE, CachePlan.Status.HIT.name());
            usage.record(call.clientLabel(), call.model, 0, 0, plan.hits());
            metrics.clientProcessed(call.clientLabel());
            call.write(200, "application/json; charset=utf-8", out);
            return;
        }
        toQueue(call, parsed, plan.upstreamBody(body));
    }

    /** Step 7: a usable host for the model, then the queue. */
    private void toQueue(Call call, InferenceBody parsed, byte[] body) {
        Settings settings = call.settings;
        if (!fleet.anyUsable()) {
            call.tier = null;
            DirectRoute.noHealthyHost(metrics, call);
            return;
        }
        List<String> down = fleet.onlyOnUnhealthy(call.model);
        if (!down.isEmpty()) {
            call.tier = null;
            metrics.routingDecision("no_healthy_host");
            call.answer(503, "model " + ErrorResponses.quote(parsed.model()) + " is only on unhealthy hosts ("
                    + String.join(", ", down) + "); retry later", "model_hosts_down", settings.retryAfterNoHostSeconds());
            return;
        }
        if (settings.config().routing().fallback() == RoutingConfig.Fallback.REJECT && fleet.knownNowhere(call.model)) {
            call.tier = null;
            metrics.routingDecision("not_found");
            call.answer(404, "model " + ErrorResponses.quote(parsed.model()) + " not found, try pulling it first",
                    "model_not_found");
            return;
        }
        call.body = parsed.withKeepAlive(call.path(), body, settings.config().keepAlive());
        QueuedCall queued = new QueuedCall(call, scheduler, executor, sender, metrics, fleet, stopping, webhooks);
        call.tracked = requests.track(call.requestId, call.client.clientId(), call.tier, queued::standing,
                () -> call.ticket);
        queued.submit();
    }

    /** Refused before queueing: the answer carries no tier. */
    private static void refuse(Call call, int status, String message, String error) {
        call.tier = null;
        call.answer(status, message, error);
    }

    /**
     * Answers a request whose body could not be read: 503 (budget), 413, 408, 400 for a body Jetty found malformed
     * or cut short (the status Jetty itself would send, so the client and the record agree), or nothing (the
     * client left).
     */
    static void bodyFailed(Call call, Throwable failure) {
        if (failure instanceof BodyReader.BudgetExceeded) {
            call.response.getHeaders().put(HttpHeader.CONNECTION, "close");
            call.answer(503, "too many request bodies being received at once; retry shortly", "body_budget", 1);
        } else if (failure instanceof BodyTooLargeException) {
            call.answer(413, tooLarge(call.maxBody), "body_too_large");
        } else if (ProxyErrors.hasCause(failure, TimeoutException.class)) {
            // The client stalled mid-body past the connection's idle timeout.
            call.response.getHeaders().put(HttpHeader.CONNECTION, "close");
            call.answer(408, "request body not received in time", "client_timeout");
        } else if (failure instanceof HttpException bad) {
            // Bad framing (BadMessageException), or the input ended before the body did (Jetty's "Early EOF", an
            // EofException): half-closed, the client still reads its answer; reset, it does not, and the write says.
            int status = bad.getCode() >= 400 && bad.getCode() < 500 ? bad.getCode() : 400;
            if (failure instanceof EofException) {
                call.answerUnlessGone(status, "request body ended before it was complete", "body_incomplete");
            } else {
                call.answerUnlessGone(status, "malformed request body", "bad_framing");
            }
        } else {
            call.leave(failure);
        }
    }

    static String tooLarge(long limit) {
        return "request body too large (limit " + limit + " bytes)";
    }
}
