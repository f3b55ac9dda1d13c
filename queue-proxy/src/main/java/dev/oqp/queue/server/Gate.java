package dev.oqp.queue.server;

import java.nio.ByteBuffer;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;

import dev.oqp.common.config.Durations;
import dev.oqp.common.config.RoutingConfig;
import dev.oqp.common.config.Tier;
import dev.oqp.common.proxy.BodyTooLargeException;
import dev.oqp.common.proxy.ClientCloseWatcher;
import dev.oqp.common.proxy.ErrorResponses;
import dev.oqp.common.proxy.Exchange;
import dev.oqp.common.proxy.ProxyErrors;
import dev.oqp.queue.auth.Client;
import dev.oqp.queue.auth.ClientAddress;
import dev.oqp.queue.auth.KeyRegistry;
import dev.oqp.queue.cache.CachePlan;
import dev.oqp.queue.routing.Host;
import dev.oqp.queue.routing.ModelNames;
import dev.oqp.queue.routing.SlotPool;
import dev.oqp.queue.scheduler.Admission;
import dev.oqp.queue.scheduler.Lease;
import dev.oqp.queue.scheduler.Rejection;
import dev.oqp.queue.scheduler.Ticket;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.EofException;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.URIUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pipeline steps 1 to 8 for one listen port, in order: request id, own endpoints, authentication (401, 429),
 * classification and scope (404, 405, 403), the inference body read once and bounded (413, 400), the model
 * allow-list (403), {@code keep_alive}, then the priority queue; a dispatched request is handed to the
 * {@link Forwarder}. Metadata and management requests are not queued and go straight to a host.
 *
 * <p>Nothing here blocks: the body is read asynchronously and a queued request holds no thread. While a
 * request waits, read interest on its connection tells at once if the client leaves, and its ticket is
 * cancelled; the connection's idle timeout is suspended (the tier's {@code max_wait} governs instead).
 *
 * <p>On an injection port ({@code services[]}) the service's headers replace the client's first; a request
 * whose headers then carry no known key is the service's {@code client}.
 */
final class Gate extends Handler.Abstract.NonBlocking {
    private static final Logger LOG = LoggerFactory.getLogger(Gate.class);
    private static final String X_FORWARDED_FOR = "X-Forwarded-For";
    private static final long SHUTDOWN_RETRY_AFTER_SECONDS = 5;
    /** The largest inference body read into memory, whatever {@code max_body} allows. */
    static final long MAX_BUFFERED_BODY = 1L << 30;
    /** The largest {@code /api/show} body read (it names a model and maybe {@code verbose}). */
    static final long MAX_SHOW_BODY = 64 * 1024;
    /** Bodies up to this size are read and dropped before an early error answer (see {@link #answer}). */
    private static final long DISCARD_LIMIT = 64 * 1024;

    private final Port port;
    private final Pipeline pipeline;

    Gate(Port port, Pipeline pipeline) {
        this.port = port;
        this.pipeline = pipeline;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        Call call = new Call(RequestIds.accept(request.getHeaders().get(Forwarder.X_REQUEST_ID)), port, System.nanoTime());
        call.attach(request);
        response.getHeaders().put(Forwarder.X_REQUEST_ID, call.requestId);
        String path = Request.getPathInContext(request);
        String method = request.getMethod();
        if (path == null || !path.startsWith("/")) {
            // CONNECT host:port, OPTIONS *: nothing here is addressed that way.
            ErrorResponses.write(request, response, callback, 400, "request target must be a path");
            return true;
        }
        String raw = request.getHttpURI().getPath();
        if (!path.equals(raw) && !path.equals(URIUtil.decodePath(raw))) {
            // Classified by the canonical path, forwarded as written: the two must name the same thing
            // (no "/./" or "/../" for something between here and Ollama to read otherwise; Jetty drops
            // ";parameters" from both).
            ErrorResponses.write(request, response, callback, 400, "request path must be in canonical form");
            return true;
        }
        Route route = Route.classify(method, path);
        if (route.kind() == Route.Kind.OWN && !port.main()) {
            // Injection ports answer /health (before this handler) and proxy everything else; Ollama has no
            // such paths, so they are not found, as they would be there.
            route = Route.notFound();
        }
        call.route = route;
        call.clientAddress = ClientAddress.resolve(Request.getRemoteAddr(request),
                request.getHeaders().getValuesList(X_FORWARDED_FOR), pipeline.config.proxy().trustedProxies());
        if (!pipeline.keys.enabled()) {
            call.client = port.serviceClient() != null ? port.serviceClient() : Client.ANONYMOUS;
        }
        if (route.kind() == Route.Kind.OWN && (route.scope() == null || pipeline.own.isPublic(path))) {
            pipeline.own.handleOpen(call, request, response, callback, path);
            return true;
        }
        if (!pipeline.keys.enabled() && port.loopback() && !loopbackHost(request)) {
            // Without keys, a loopback listener is protected only by being loopback: a web page must not reach it
            // through DNS rebinding (Ollama refuses foreign Host values on loopback for the same reason, and the
            // proxy rewrites Host for it).
            ErrorResponses.write(request, response, callback, 403, "host not allowed");
            return true;
        }
        if (route.kind() == Route.Kind.OWN && "POST".equals(method) && crossSite(request)) {
            // A web page must not drive the queue's controls through the operator's browser (with auth off
            // nothing else would stop it; with auth on a browser holds no bearer key, but refuse all the same).
            ErrorResponses.write(request, response, callback, 403, "cross-site request refused");
            return true;
        }
        Request effective = port.main() ? request : ServiceRequest.wrap(request, port.service());
        Client client = authenticate(call, effective, response, callback);
        if (client == null) {
            return true;
        }
        call.client = client;
        switch (route.kind()) {
            case NOT_FOUND -> answer(call, request, response, callback, 404, "404 page not found", "not_found");
            case METHOD_NOT_ALLOWED -> answer(call, request, response, callback, 405, "405 method not allowed",
                    "method_not_allowed");
            default -> {
                if (!client.scope().allows(route.scope())) {
                    answer(call, request, response, callback, 403, "client " + client.clientId() + " has scope "
                            + client.scope().yamlName() + "; " + path + " needs " + route.scope().yamlName(), "scope");
                } else if (route.kind() == Route.Kind.OWN) {
                    pipeline.own.handleAuthorized(call, request, response, callback, path);
                } else if (route.kind() == Route.Kind.INFERENCE) {
                    inference(call, effective, response, callback, path);
                } else {
                    direct(call, effective, response, callback, path);
                }
            }
        }
        return true;
    }

    // ---------------------------------------------------------------- step 3

    /**
     * The client, or null when the request was answered (401, 429). A valid key always passes: keys are long
     * enough that guessing is hopeless, and an address shared by many clients (loopback, a NAT, Docker's
     * proxy) must not be locked out by whoever sends it bad keys. What the limiter counts is keys presented
     * and wrong; an address past {@code max_failures} in the window gets 429 instead of 401 until it ends. A
     * request without a key is not a guess and is not counted.
     */
    private Client authenticate(Call call, Request request, Response response, Callback callback) {
        KeyRegistry keys = pipeline.keys;
        String authorization = request.getHeaders().get(HttpHeader.AUTHORIZATION);
        String token = KeyRegistry.bearerToken(authorization);
        boolean browser = browserReadable(call, Request.getPathInContext(request));
        if (token == null && browser) {
            // The dashboard and what it polls also take the key as a Basic password (a browser's login prompt).
            token = KeyRegistry.basicPassword(authorization);
        }
        Optional<Client> byKey = keys.authenticate(token);
        if (!keys.enabled()) {
            // Everyone is one anonymous client, unless an injection port names its client (fairness across ports).
            return port.serviceClient() != null ? port.serviceClient() : byKey.orElseThrow();
        }
        if (byKey.isPresent()) {
            return byKey.get();
        }
        long now = System.nanoTime();
        String reason = token == null ? "missing" : "invalid";
        pipeline.metrics.authFailures.labelValues(reason).inc();
        boolean blocked = false;
        if (token != null) {
            blocked = pipeline.limiter.blocked(call.clientAddress, now);
            if (!blocked) {
                pipeline.limiter.recordFailure(call.clientAddress, now);
            }
        }
        if (port.serviceClient() != null) {
            // The service's identity serves requests whose headers carry no known key.
            return port.serviceClient();
        }
        if (blocked) {
            pipeline.metrics.authFailures.labelValues("rate_limited").inc();
            long retryAfter = pipeline.limiter.retryAfterSeconds(call.clientAddress, now);
            response.getHeaders().put(HttpHeader.RETRY_AFTER, Long.toString(retryAfter));
            answer(call, request, response, callback, 429, "too many failed key checks from this address; retry in "
                    + retryAfter + "s", "rate_limited");
            return null;
        }
        if (LOG.isDebugEnabled()) {
            LOG.debug("{} auth failed ({}) from {}", call.requestId, reason, call.clientAddress);
        }
        response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer");
        if (browser) {
            response.getHeaders().add(HttpHeader.WWW_AUTHENTICATE, "Basic realm=\"oqp\", charset=\"UTF-8\"");
        }
        answer(call, request, response, callback, 401, token == null
                ? "missing API key: send Authorization: Bearer <key>" : "invalid API key", "unauthorized_" + reason);
        return null;
    }

    /** The own read endpoints a browser opens: the dashboard and the status it polls (Basic auth accepted). */
    private boolean browserReadable(Call call, String path) {
        return call.route.kind() == Route.Kind.OWN && pipeline.config.admin().dashboard()
                && ("/dashboard".equals(path) || "/queue/status".equals(path) || "/queue/summary".equals(path));
    }

    /**
     * True for a request a browser sent on behalf of another site: {@code Sec-Fetch-Site: cross-site}, or an
     * {@code Origin} whose host and port are not the ones the request was sent to.
     */
    static boolean crossSite(Request request) {
        String site = request.getHeaders().get("Sec-Fetch-Site");
        if (site != null && (site.equalsIgnoreCase("cross-site") || site.equalsIgnoreCase("same-site"))) {
            return true;
        }
        String origin = request.getHeaders().get(HttpHeader.ORIGIN);
        if (origin == null) {
            return false;
        }
        String host = request.getHeaders().get(HttpHeader.HOST);
        try {
            java.net.URI uri = java.net.URI.create(origin.strip());
            String authority = uri.getRawAuthority();
            return authority == null || host == null || !authority.equalsIgnoreCase(host.strip());
        } catch (IllegalArgumentException e) {
            return true;
        }
    }

    /** True when the request's {@code Host} names a loopback address, {@code localhost} or a {@code .localhost} name. */
    static boolean loopbackHost(Request request) {
        String host = Request.getServerName(request);
        if (host == null || host.isEmpty()) {
            return true;
        }
        String h = host.toLowerCase(Locale.ROOT);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        return h.equals("localhost") || h.endsWith(".localhost") || h.equals("::1") || h.startsWith("127.")
                && h.chars().allMatch(c -> c == '.' || (c >= '0' && c <= '9'));
    }

    // ---------------------------------------------------------------- steps 5 to 8

    private void inference(Call call, Request request, Response response, Callback callback, String path) {
        dev.oqp.queue.limits.RateLimiter.Decision limit = pipeline.rates.admit(call.client.clientId(), call.client.limits());
        limit.headers().forEach(response.getHeaders()::put);
        call.reservedTokens.set(limit.reserved());
        if (!limit.allowed()) {
            pipeline.metrics.rateLimited.labelValues(call.client.clientId(), limit.limit()).inc();
            response.getHeaders().put(HttpHeader.RETRY_AFTER, Long.toString(limit.retryAfterSeconds()));
            answer(call, request, response, callback, 429, "rate limit " + limit.limit() + " of client "
                    + call.client.clientId() + " reached; retry in " + limit.retryAfterSeconds() + "s",
                    "rate_limited_" + limit.limit());
            return;
        }
        Tier requested;
        String priority = request.getHeaders().get(Forwarder.X_QUEUE_PRIORITY);
        if (priority == null || priority.isBlank()) {
            requested = Tier.NORMAL;
        } else {
            try {
                requested = Tier.valueOf(priority.strip().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                answer(call, request, response, callback, 400, "X-Queue-Priority must be high, normal or low",
                        "bad_priority");
                return;
            }
        }
        call.tier = requested.min(call.client.maxPriority());
        // Held in one array: a body over 1 GiB is refused whatever max_body says.
        call.maxBody = Math.min(port.maxBody(), MAX_BUFFERED_BODY);
        if (request.getLength() > call.maxBody) {
            call.tier = null;
            call.bodyRead = true;
            answer(call, request, response, callback, 413, tooLarge(call.maxBody), "body_too_large");
            return;
        }
        call.bodyRead = true;
        BodyReader.read(request, call.maxBody, pipeline.bodies, (body, failure) -> {
            if (failure != null) {
                call.tier = null;
                bodyFailed(call, request, response, callback, failure);
                return;
            }
            InferenceBody parsed;
            try {
                parsed = InferenceBody.parse(path, body);
            } catch (InferenceBody.BadBody e) {
                call.tier = null;
                answer(call, request, response, callback, 400, e.getMessage(), "bad_body");
                return;
            }
            if (parsed.canonicalModel() == null) {
                call.tier = null;
                answer(call, request, response, callback, 400, "model is required", "bad_body");
                return;
            }
            call.model = parsed.canonicalModel();
            call.spelledModel = parsed.model();
            call.stream = parsed.stream();
            if (!call.client.allowsModel(parsed.canonicalModel())) {
                call.tier = null;
                answer(call, request, response, callback, 403, "model " + ErrorResponses.quote(parsed.model())
                        + " is not allowed for client " + call.client.clientId(), "model_not_allowed");
                return;
            }
            dev.oqp.queue.cache.CacheService cache = pipeline.cache;
            if (cache != null && call.route.embedding()) {
                CachePlan plan = cache.plan(path, body, call.model, parsed.model(), call.client.clientId());
                if (plan != null) {
                    call.cache = plan;
                    call.cacheService = cache;
                    CompletableFuture<Boolean> looked = cache.lookup(plan);
                    if (looked.isDone()) {
                        cached(call, request, response, callback, path, parsed, body, looked.join());
                    } else {
                        // A client that leaves during the lookup must not reach the upstream afterwards.
                        request.addFailureListener(x -> call.gone = true);
                        // Off the cache client's thread: what follows may queue and forward.
                        looked.thenAcceptAsync(answered -> cached(call, request, response, callback, path, parsed, body,
                                answered), pipeline.executor);
                    }
                    return;
                }
            }
            toQueue(call, request, response, callback, path, parsed, body);
        });
    }

    /**
     * Step 6 after the lookup: a full hit is answered here, without queueing or touching a host; otherwise the
     * request goes on with the missing items only. A backend that failed means misses, unless it is required.
     */
    private void cached(Call call, Request request, Response response, Callback callback, String path,
                        InferenceBody parsed, byte[] body, boolean answered) {
        try {
            afterLookup(call, request, response, callback, path, parsed, body, answered);
        } catch (Throwable t) {
            // Never leave the client without an answer (this may run on a pool thread, where nobody else would).
            LOG.warn("{} embedding cache step failed: {}", call.requestId, t.toString());
            if (!response.isCommitted()) {
                call.tier = null;
                answer(call, request, response, callback, 500, "internal error", "internal");
            } else {
                callback.failed(t);
            }
        }
    }

    private void afterLookup(Call call, Request request, Response response, Callback callback, String path,
                             InferenceBody parsed, byte[] body, boolean answered) throws java.io.IOException {
        CachePlan plan = call.cache;
        if (call.gone) {
            callback.failed(new EofException("client left during the cache lookup"));
            record(call, request, Exchange.CLIENT_CLOSED_REQUEST, 0, "client_closed");
            return;
        }
        if (plan.answerBytes() > CachePlan.MAX_ANSWER_BYTES) {
            // Many cached copies of large vectors (a batch repeating one text): too large to assemble here;
            // Ollama answers it, uncached.
            call.cache = null;
            toQueue(call, request, response, callback, path, parsed, body);
            return;
        }
        if (!answered && call.cacheService.required()) {
            call.tier = null;
            response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
            answer(call, request, response, callback, 503, "embedding cache unavailable (required); retry later",
                    "cache_unavailable");
            return;
        }
        if (plan.status() == CachePlan.Status.HIT) {
            call.tier = null;
            byte[] out = plan.response(null);
            response.setStatus(200);
            HttpFields.Mutable headers = response.getHeaders();
            headers.put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
            headers.put(Forwarder.X_CACHE, CachePlan.Status.HIT.name());
            response.write(true, ByteBuffer.wrap(out), callback);
            Forwarder.recordUsage(pipeline.metrics, pipeline.usage, call.clientLabel(), call.model, 0, 0, plan.hits());
            record(call, request, 200, out.length, null);
            return;
        }
        toQueue(call, request, response, callback, path, parsed, plan.upstreamBody(body));
    }

    /** Steps 7 and 8: a usable host for the model, then the queue. */
    private void toQueue(Call call, Request request, Response response, Callback callback, String path,
                         InferenceBody parsed, byte[] body) {
        if (!pipeline.fleet.anyUsable()) {
            call.tier = null;
            noHealthyHost(call, request, response, callback);
            return;
        }
        java.util.List<String> down = pipeline.fleet.onlyOnUnhealthy(call.model);
        if (!down.isEmpty()) {
            call.tier = null;
            pipeline.metrics.routingDecision("no_healthy_host");
            response.getHeaders().put(HttpHeader.RETRY_AFTER, Long.toString(pipeline.retryAfterNoHostSeconds()));
            answer(call, request, response, callback, 503, "model " + ErrorResponses.quote(parsed.model())
                    + " is only on unhealthy hosts (" + String.join(", ", down) + "); retry later", "model_hosts_down");
            return;
        }
        if (pipeline.config.routing().fallback() == RoutingConfig.Fallback.REJECT
                && pipeline.fleet.knownNowhere(call.model)) {
            call.tier = null;
            pipeline.metrics.routingDecision("not_found");
            answer(call, request, response, callback, 404, "model " + ErrorResponses.quote(parsed.model())
                    + " not found, try pulling it first", "model_not_found");
            return;
        }
        call.body = parsed.withKeepAlive(path, body, pipeline.config.keepAlive());
        enqueue(call, request, response, callback);
    }

    /** Answers a request whose body could not be read: 503 (budget), 413, 408, or nothing (the client left). */
    private void bodyFailed(Call call, Request request, Response response, Callback callback, Throwable failure) {
        if (failure instanceof BodyReader.BudgetExceeded) {
            response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
            response.getHeaders().put(HttpHeader.CONNECTION, "close");
            answer(call, request, response, callback, 503, "too many request bodies being received at once;"
                    + " retry shortly", "body_budget");
        } else if (failure instanceof BodyTooLargeException) {
            answer(call, request, response, callback, 413, tooLarge(call.maxBody), "body_too_large");
        } else if (ProxyErrors.hasCause(failure, TimeoutException.class)) {
            // The client stalled mid-body past the connection's idle timeout.
            response.getHeaders().put(HttpHeader.CONNECTION, "close");
            answer(call, request, response, callback, 408, "request body not received in time", "client_timeout");
        } else {
            callback.failed(failure);
            record(call, request, Exchange.CLIENT_CLOSED_REQUEST, 0, "client_closed");
        }
    }

    private static String tooLarge(long limit) {
        return "request body too large (limit " + limit + " bytes)";
    }

    private void enqueue(Call call, Request request, Response response, Callback callback) {
        // While queued the tier's max_wait governs, not the connection's idle timeout.
        request.addIdleTimeoutListener(timeout -> false);
        Queued queued = new Queued(call, request, response, callback);
        Ticket ticket = new Ticket(call.client.clientId(), call.tier, call.body.length, call.model, queued);
        call.ticket = ticket;
        request.addFailureListener(queued::clientGone);
        // A client that sends bytes while its request waits is not waiting for this answer: treated as gone.
        ClientCloseWatcher watcher = ClientCloseWatcher.of(request, queued::clientGone, true);
        queued.submitter = Thread.currentThread();
        Admission admission = pipeline.scheduler.submit(ticket);
        queued.submitter = null;
        if (admission == Admission.QUEUED && watcher != null) {
            queued.watch(watcher);
        }
    }

    /** The outcome of one queued request, from the scheduler. */
    private final class Queued implements Ticket.Listener {
        private final Call call;
        private final Request request;
        private final Response response;
        private final Callback callback;
        /** The thread inside submit: a dispatch it delivers may forward at once, without a hand-off. */
        volatile Thread submitter;
        // Guarded by this.
        private boolean done;
        private ClientCloseWatcher watcher;

        Queued(Call call, Request request, Response response, Callback callback) {
            this.call = call;
            this.request = request;
            this.response = response;
            this.callback = callback;
        }

        synchronized void watch(ClientCloseWatcher w) {
            if (!done) {
                watcher = w;
                w.start();
            }
        }

        /** Ends the queued phase: withdraws the read interest before anything is written or forwarded. */
        private void settle() {
            ClientCloseWatcher w;
            synchronized (this) {
                done = true;
                w = watcher;
                watcher = null;
            }
            if (w != null) {
                w.stop();
                if (w.pipelined()) {
                    call.pipelined = true;
                    response.getHeaders().put(HttpHeader.CONNECTION, "close");
                }
            }
        }

        void clientGone(Throwable failure) {
            call.gone = true;
            pipeline.scheduler.cancel(call.ticket);
        }

        @Override
        public void dispatched(Lease lease, long waitedNanos) {
            call.lease = lease;
            call.waitedNanos = waitedNanos;
            SlotPool.HostLease hostLease = (SlotPool.HostLease) lease.unwrap();
            call.host = hostLease.host();
            call.cold = call.host.level(call.model) != Host.Level.LOADED;
            call.upstream = port.upstream(call.host);
            pipeline.metrics.routingDecision(hostLease.reason());
            pipeline.metrics.tier(call.tier).waited().observe(waitedNanos / 1e9);
            settle();
            if (Thread.currentThread() == submitter) {
                forward();
            } else {
                // Off the thread that released a slot or ran the timer: the forward may take a while to set up.
                try {
                    pipeline.executor.execute(this::forward);
                } catch (java.util.concurrent.RejectedExecutionException e) {
                    // The pool refuses work only while stopping: answer rather than leave the client hanging.
                    call.lease.release();
                    response.getHeaders().put(HttpHeader.RETRY_AFTER, Long.toString(SHUTDOWN_RETRY_AFTER_SECONDS));
                    answer(call, request, response, callback, 503, "server shutting down", "shutdown");
                }
            }
        }

        private void forward() {
            if (call.gone) {
                // Left between dispatch and now: never reaches the upstream.
                call.lease.release();
                pipeline.metrics.tier(call.tier).cancelled().inc();
                callback.failed(new EofException("client left before its request was forwarded"));
                record(call, request, Exchange.CLIENT_CLOSED_REQUEST, 0, "client_closed");
                return;
            }
            pipeline.forwarder.handle(request, response, callback);
        }

        @Override
        public void rejected(Rejection rejection) {
            settle();
            String tier = rejection.tier().yamlName();
            pipeline.metrics.queueRejected.labelValues(tier, rejection.reason().label()).inc();
            response.getHeaders().put(HttpHeader.RETRY_AFTER, Long.toString(rejection.retryAfterSeconds()));
            String message = switch (rejection.reason()) {
                case TIER_FULL -> "queue full for priority " + tier + "; retry after " + rejection.retryAfterSeconds() + "s";
                case BYTES_FULL -> "queue full (max_queued_bytes reached); retry after " + rejection.retryAfterSeconds() + "s";
                case DRAINING -> "not accepting requests: the queue is draining";
            };
            answer(call, request, response, callback, rejection.statusCode(), message, "rejected_" + rejection.reason().label());
        }

        @Override
        public void expired(long waitedNanos) {
            settle();
            call.waitedNanos = waitedNanos;
            String tier = call.tier.yamlName();
            pipeline.metrics.tier(call.tier).expired().inc();
            response.getHeaders().put(HttpHeader.RETRY_AFTER, Long.toString(SHUTDOWN_RETRY_AFTER_SECONDS));
            answer(call, request, response, callback, 503, "waited in the queue longer than max_wait ("
                    + Durations.format(pipeline.config.queue().tier(call.tier).maxWait()) + " for priority " + tier + ")",
                    "expired");
        }

        @Override
        public void cancelled(long waitedNanos) {
            settle();
            call.waitedNanos = waitedNanos;
            pipeline.metrics.tier(call.tier).cancelled().inc();
            callback.failed(new EofException("client left while queued"));
            record(call, request, Exchange.CLIENT_CLOSED_REQUEST, 0, "client_closed");
        }

        @Override
        public void flushed(long waitedNanos) {
            settle();
            call.waitedNanos = waitedNanos;
            pipeline.metrics.tier(call.tier).cancelled().inc();
            boolean stopping = pipeline.stopping();
            if (!stopping && !pipeline.fleet.anyUsable()) {
                // Every host went down while it waited: answered now rather than at max_wait.
                noHealthyHost(call, request, response, callback);
                return;
            }
            response.getHeaders().put(HttpHeader.RETRY_AFTER, Long.toString(SHUTDOWN_RETRY_AFTER_SECONDS));
            answer(call, request, response, callback, 503, stopping ? "server shutting down"
                    : "queue flushed by an operator", stopping ? "shutdown" : "flushed");
        }
    }

    // ---------------------------------------------------------------- metadata and management

    /**
     * Metadata and management: not queued. A host named by {@code X-Ollama-Host} takes the request whatever it
     * is (an unknown name is 400); else the model lists are merged over the hosts, {@code /api/show} and
     * {@code /v1/models/{m}} go to a host that has the model, and the rest to the first usable host in config
     * order.
     */
    private void direct(Call call, Request request, Response response, Callback callback, String path) {
        // Model blobs are as large as models: their upload is not held to max_body (scope management only).
        call.maxBody = "POST".equals(request.getMethod()) && path.startsWith("/api/blobs/") ? Long.MAX_VALUE
                : port.maxBody();
        String named = request.getHeaders().get(Forwarder.X_OLLAMA_HOST);
        if (named != null && !named.isBlank()) {
            Host host = pipeline.fleet.host(named.strip());
            if (host == null) {
                answer(call, request, response, callback, 400, "X-Ollama-Host names no configured host", "unknown_host");
                return;
            }
            call.named = true;
            pipeline.metrics.routingDecision("named");
            forwardTo(call, request, response, callback, host);
            return;
        }
        switch (call.route.target()) {
            case MERGED -> pipeline.merged.handle(call, request, response, callback, path);
            case MODEL_HOST -> {
                if (path.startsWith("/v1/models/")) {
                    // The path is already decoded (and canonical, checked above).
                    forwardForModel(call, request, response, callback,
                            ModelNames.normalise(path.substring("/v1/models/".length())));
                } else {
                    // POST /api/show: the model is in the body, read and sent on as read. Such bodies are tiny; the
                    // small cap keeps a read-scope key from tying up the body budget inference requests share.
                    call.bodyRead = true;
                    call.maxBody = Math.min(call.maxBody, MAX_SHOW_BODY);
                    if (request.getLength() > call.maxBody) {
                        answer(call, request, response, callback, 413, tooLarge(call.maxBody), "body_too_large");
                        return;
                    }
                    BodyReader.read(request, call.maxBody, pipeline.bodies, (body, failure) -> {
                        if (failure != null) {
                            bodyFailed(call, request, response, callback, failure);
                            return;
                        }
                        call.body = body;
                        String model = null;
                        try {
                            model = InferenceBody.parse(path, body).canonicalModel();
                        } catch (InferenceBody.BadBody e) {
                            // Ollama answers a body it cannot use in its own words.
                        }
                        forwardForModel(call, request, response, callback, model);
                    });
                }
            }
            default -> {
                Host host = pipeline.fleet.firstUsable();
                if (host == null) {
                    noHealthyHost(call, request, response, callback);
                    return;
                }
                pipeline.metrics.routingDecision("first_healthy");
                forwardTo(call, request, response, callback, host);
            }
        }
    }

    /** 503 with {@code Retry-After}: no host is usable; the next health check may bring one back. */
    private void noHealthyHost(Call call, Request request, Response response, Callback callback) {
        pipeline.metrics.routingDecision("no_healthy_host");
        response.getHeaders().put(HttpHeader.RETRY_AFTER, Long.toString(pipeline.retryAfterNoHostSeconds()));
        answer(call, request, response, callback, 503, "no healthy Ollama host; retry later", "no_healthy_host");
    }

    private void forwardForModel(Call call, Request request, Response response, Callback callback, String model) {
        call.model = model;
        SlotPool.Choice choice = pipeline.pool.pick(model, java.util.Set.of());
        if (choice == null) {
            noHealthyHost(call, request, response, callback);
            return;
        }
        pipeline.metrics.routingDecision(choice.reason());
        forwardTo(call, request, response, callback, choice.host());
    }

    private void forwardTo(Call call, Request request, Response response, Callback callback, Host host) {
        call.host = host;
        call.upstream = port.upstream(host);
        pipeline.forwarder.handle(request, response, callback);
    }

    // ---------------------------------------------------------------- answers written here

    /**
     * Writes an error in the client's API shape, then records it. A small request body not read yet is read
     * and dropped first: answering and closing with the client's bytes still arriving makes the kernel reset
     * the connection, and the client may lose the answer with it.
     */
    void answer(Call call, Request request, Response response, Callback callback, int status, String message, String error) {
        if (!call.bodyRead) {
            call.bodyRead = true;
            long declared = request.getLength();
            if (declared != 0 && declared <= DISCARD_LIMIT) {
                BodyReader.read(request, DISCARD_LIMIT, pipeline.bodies,
                        (body, failure) -> answer(call, request, response, callback, status, message, error));
                return;
            }
        }
        HttpFields.Mutable headers = response.getHeaders();
        headers.put(Forwarder.X_REQUEST_ID, call.requestId);
        if (call.tier != null) {
            headers.put(Forwarder.X_QUEUE_PRIORITY, call.tier.yamlName());
        }
        if (call.cache != null) {
            headers.put(Forwarder.X_CACHE, call.cache.status().name());
        }
        ErrorResponses.write(request, response, callback, status, message);
        record(call, request, status, -1, error);
    }

    private void record(Call call, Request request, int status, long bytes, String error) {
        long reserved = call.reservedTokens.getAndSet(0);
        if (reserved > 0) {
            // Answered here (refused, from the cache, left while queued): it never cost a host anything.
            pipeline.rates.settle(call.client.clientId(), call.client.limits(), reserved, 0, false);
        }
        pipeline.ledger.record(call, request.getMethod(), request.getHttpURI().getPath(), status, bytes, error, -1);
    }
}
