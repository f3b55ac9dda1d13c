package dev.oqp.queue.server;

import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import dev.oqp.common.proxy.ClientSettings;
import dev.oqp.common.proxy.ErrorResponses;
import dev.oqp.common.proxy.Exchange;
import dev.oqp.common.proxy.ProxyBase;
import dev.oqp.common.proxy.RequestBody;
import dev.oqp.common.proxy.ResponseTap;
import dev.oqp.common.proxy.Upstream;
import dev.oqp.queue.limits.Limiter;
import dev.oqp.queue.metrics.QueueMetrics;
import dev.oqp.queue.routing.Fleet;
import dev.oqp.queue.routing.FleetMonitor;
import dev.oqp.queue.routing.Host;
import dev.oqp.queue.routing.SlotPool;
import dev.oqp.queue.scheduler.Grant;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;

/**
 * Pipeline steps 10 and 11 on the proxy base: sends a request the gate has admitted to the host it chose,
 * streaming, and settles it exactly once when it completes: the slots go back, the host, queue and token
 * metrics are counted and the access line is written. Everything it needs is on the request's {@link Call}.
 *
 * <p>Failover (step 10): when a host cannot be reached, or closes the connection before any byte of its
 * answer, and the proxy base may send the request again (nothing reached the client, the body is buffered
 * or empty), the host is marked unhealthy (connect failures only) and the request goes to the best other
 * host able to serve it that was not tried yet, each at most once; the response then carries
 * {@code X-Failover-Attempts}. A connect failure tries every host able to serve the request; a connection
 * closed before answering tries one more host only. When the failover ends (no host left, or a reset already
 * had its one more host): 502 with {@code X-Failover-Exhausted: true}, and the access line names every host
 * tried. A host named by {@code X-Ollama-Host} is never replaced. The answer of a host also teaches the inventory: 200 on an
 * inference route means the model is now loaded there, 404 that the host does not have it.
 *
 * <p>Upstream requests never carry the client's {@code Authorization} or {@code x-api-key} (the key is the proxy's
 * business, not Ollama's), nor {@code X-Queue-Priority}, {@code X-Queue-Max-Wait} or {@code X-Ollama-Host}; they carry the host's configured
 * headers, {@code X-Client-ID} and {@code X-Request-ID}.
 */
final class Forwarder extends ProxyBase implements Sender {
    private final QueueMetrics metrics;
    private final Fleet fleet;
    private final SlotPool pool;
    private final FleetMonitor monitor;
    private final Limiter rates;
    private final UsageRecorder usage;

    Forwarder(ClientSettings settings, QueueMetrics metrics, Fleet fleet, SlotPool pool, FleetMonitor monitor,
              Limiter rates, UsageRecorder usage) {
        super(settings);
        this.metrics = metrics;
        this.fleet = fleet;
        this.pool = pool;
        this.monitor = monitor;
        this.rates = rates;
        this.usage = usage;
    }

    @Override
    public void send(Call call) {
        handle(call.request, call.response, call.callback);
    }

    @Override
    protected Upstream chooseUpstream(Request clientToProxyRequest) {
        Call call = Call.of(clientToProxyRequest);
        return call.settings.upstream(call.port, call.host());
    }

    @Override
    protected RequestBody requestBody(Request clientToProxyRequest) {
        Call call = Call.of(clientToProxyRequest);
        if (call.body == null) {
            return RequestBody.streamed(call.maxBody);
        }
        // A model pinned on the chosen host stays resident there (a failover keeps the first host's body).
        boolean pinned = call.route.kind() == Route.Kind.INFERENCE && call.host() != null
                && InferenceBody.acceptsKeepAlive(call.path()) && call.host().rules().pinned(call.model);
        return RequestBody.buffered(pinned ? InferenceBody.withPinnedKeepAlive(call.body) : call.body);
    }

    @Override
    protected void injectHeaders(Request clientToProxyRequest, HttpFields.Mutable proxyToServerHeaders) {
        Call call = Call.of(clientToProxyRequest);
        proxyToServerHeaders.remove(HttpHeader.AUTHORIZATION);
        // A key whatever the route: the proxy's business, like Authorization (a host's headers may set one).
        proxyToServerHeaders.remove(Headers.X_API_KEY);
        proxyToServerHeaders.remove(Headers.X_QUEUE_PRIORITY);
        proxyToServerHeaders.remove(Headers.X_QUEUE_MAX_WAIT);
        proxyToServerHeaders.remove(Headers.X_OLLAMA_HOST);
        // What a client claims about itself or earlier hops is not passed on (the proxy base sets
        // X-Forwarded-For/Proto/Host from what it saw).
        for (String spoofable : Headers.SPOOFABLE) {
            proxyToServerHeaders.remove(spoofable);
        }
        for (Map.Entry<String, String> header : call.host().config().headers().entrySet()) {
            proxyToServerHeaders.put(header.getKey(), header.getValue());
        }
        if (call.cache != null) {
            // The answer is read to be cached (and on a partial hit, completed): it must come uncompressed.
            proxyToServerHeaders.remove(HttpHeader.ACCEPT_ENCODING);
        }
        proxyToServerHeaders.put(Headers.X_CLIENT_ID, call.clientLabel());
        proxyToServerHeaders.put(Headers.X_REQUEST_ID, call.requestId);
    }

    @Override
    protected void addResponseHeaders(Request clientToProxyRequest, HttpFields.Mutable proxyToClientHeaders) {
        Call call = Call.of(clientToProxyRequest);
        proxyToClientHeaders.put(Headers.X_REQUEST_ID, call.requestId);
        if (call.host() != null) {
            proxyToClientHeaders.put(Headers.X_UPSTREAM_HOST, call.host().name());
        }
        if (call.tier != null) {
            proxyToClientHeaders.put(Headers.X_QUEUE_PRIORITY, call.tier.yamlName());
        }
        if (call.waitedNanos >= 0) {
            proxyToClientHeaders.put(Headers.X_QUEUE_WAIT_TIME, Long.toString(call.waitedNanos / 1_000_000));
        }
        if (call.queuePosition > 0) {
            proxyToClientHeaders.put(Headers.X_QUEUE_POSITION, Integer.toString(call.queuePosition));
        }
        if (call.attempts > 1 || call.failoverExhausted) {
            proxyToClientHeaders.put(Headers.X_FAILOVER_ATTEMPTS, Integer.toString(call.attempts));
        }
        if (call.failoverExhausted) {
            proxyToClientHeaders.put(Headers.X_FAILOVER_EXHAUSTED, "true");
        }
        if (call.pipelined) {
            proxyToClientHeaders.put(HttpHeader.CONNECTION, "close");
        }
        if (call.cache != null) {
            proxyToClientHeaders.put(Headers.X_CACHE, call.cache.status().name());
        }
    }

    @Override
    protected Upstream failover(Request clientToProxyRequest, boolean unreachable) {
        Call call = Call.of(clientToProxyRequest);
        Host failed = call.host();
        if (unreachable) {
            fleet.markUnhealthy(failed, false, "a request could not connect");
        }
        if (call.named) {
            return null;
        }
        if (call.tried == null) {
            call.tried = new HashSet<>();
        }
        // Every host the request went to and failed on, the last one included: the access line names them all.
        call.tried.add(failed.name());
        // The host took the request and closed the connection before answering: most often a pooled connection
        // it had just closed, sometimes a request that crashes it. One more host, not every one.
        boolean mayRetry = unreachable || !call.resetRetried;
        if (!unreachable) {
            call.resetRetried = true;
        }
        Host next = mayRetry ? nextHost(call) : null;
        if (next == null) {
            // The failover ends here, whether no host is left or a reset already had its one more host: either
            // way the 502 is final, and says so.
            call.failoverExhausted = true;
            return null;
        }
        // The failed attempt is counted here; the last one, whatever its end, when the exchange completes.
        metrics.host(failed.name()).failures().inc();
        metrics.routingDecision("failover");
        call.attempts++;
        if (call.grant == null) {
            call.sendTo(next);
        }
        call.cold = next.level(call.model) != Host.Level.LOADED;
        return call.settings.upstream(call.port, next);
    }

    /** The best host not tried yet (a queued request's host slot moves to it), or null. */
    private Host nextHost(Call call) {
        if (call.grant != null) {
            return call.grant.lease().failover(call.tried);
        }
        SlotPool.Choice choice = pool.pick(call.model, call.tried);
        return choice == null ? null : choice.host();
    }

    /**
     * Cold-load protection: the client left before the host answered, and the host did not have the model in
     * memory, so it may be loading it (aborting would waste the load, and a client that retries would start it
     * again). A streamed request is kept until the host's first byte, which comes once the model is loaded. A
     * request that is not streamed gets its first byte only with the whole answer, so it is aborted at once and
     * the model is loaded by a request of its own that generates nothing ({@code POST /api/generate} or
     * {@code /api/embed} with the model alone), which holds the request's slots until it ends.
     */
    @Override
    protected boolean holdUntilFirstByte(Request clientToProxyRequest) {
        Call call = Call.of(clientToProxyRequest);
        if (!call.settings.config().routing().protectColdLoads() || !call.cold || call.route.kind() != Route.Kind.INFERENCE || call.grant == null) {
            return false;
        }
        if (call.stream) {
            return true;
        }
        if (call.preload == null) {
            String path = call.route.embedding() ? "/api/embed" : "/api/generate";
            byte[] body = ("{\"model\":" + ErrorResponses.quote(call.spelledModel) + "}").getBytes(StandardCharsets.UTF_8);
            call.preload = monitor.post(call.host(), path, body,
                    call.settings.upstream(call.port, call.host()).idleTimeout());
        }
        return false;
    }

    /** What the forwarder observes of a host's answer: the inventory it teaches, the embedding cache, token usage. */
    @Override
    protected ResponseTap tap(Request clientToProxyRequest) {
        return new AnswerTap(Call.of(clientToProxyRequest), fleet);
    }

    @Override
    protected void onExchangeComplete(Request clientToProxyRequest, Exchange exchange) {
        Call call = Call.of(clientToProxyRequest);
        try {
            settle(call, exchange);
        } finally {
            // Recorded whatever the accounting did.
            call.complete(exchange.status(), exchange.bytesToClient(),
                    exchange.outcome() == Exchange.Outcome.NONE ? null : exchange.outcome().name(),
                    exchange.upstreamMillis());
        }
    }

    /** Slots back first, then host metrics, tokens, rate limits and usage. */
    private void settle(Call call, Exchange exchange) {
        // First, whatever else happens: the slots go back and the next queued request may start.
        if (call.grant != null) {
            CompletableFuture<?> preload = call.preload;
            if (preload == null) {
                call.grant.release();
            } else {
                // The model is being loaded for this request's client: the slots stay taken until that ends.
                Grant<SlotPool.HostLease> grant = call.grant;
                preload.whenComplete((fetched, x) -> grant.release());
            }
        }
        QueueMetrics.HostSeries host = metrics.host(call.host().name());
        host.requests().inc();
        double upstreamSeconds = exchange.upstreamSeconds();
        if (upstreamSeconds >= 0) {
            host.upstream().observe(upstreamSeconds);
        }
        double firstByte = exchange.timeToFirstByteSeconds();
        if (firstByte >= 0) {
            host.firstByte().observe(firstByte);
        }
        switch (exchange.outcome()) {
            case UPSTREAM_CONNECT -> {
                host.failures().inc();
                fleet.markUnhealthy(call.host(), false, "a request could not connect");
            }
            case UPSTREAM_TIMEOUT, UPSTREAM_BROKEN -> host.failures().inc();
            default -> {
            }
        }
        if (call.tier != null) {
            metrics.tier(call.tier).processed().inc();
            metrics.clientProcessed(call.clientLabel());
        }
        // A stream cut before its end (or without a reported count) is charged a token per streamed line.
        long completion = call.usage == null ? 0
                : call.usage.chargedCompletionTokens(exchange.outcome() == Exchange.Outcome.NONE);
        if (call.usage != null) {
            metrics.addTokens(call.clientLabel(), call.model, call.usage.promptTokens(), completion);
        }
        if (call.route.kind() == Route.Kind.INFERENCE && call.client != null) {
            long prompt = call.usage == null ? 0 : Math.max(0, call.usage.promptTokens());
            // Token limits count what the host reported, whatever the status, in place of what was pre-paid.
            rates.settle(call.client.clientId(), call.client.limits(), call.reservedTokens.getAndSet(0),
                    prompt + completion, true);
            // Answered 200 by a host (a stream the client left included: the host did the work) or by the cache.
            if (exchange.status() == 200 || call.usage != null) {
                long hits = call.cache == null ? 0 : call.cache.hits();
                usage.record(call.clientLabel(), call.model, prompt, completion, hits);
            }
        }
    }
}
