package dev.oqp.queue.server;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.oqp.common.config.Tier;
import dev.oqp.queue.routing.Host;
import dev.oqp.queue.scheduler.Snapshot;
import dev.oqp.common.server.MetricsHandler;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * The queue proxy's own endpoints on the main port (pipeline step 2). Without a key: {@code /health} (also
 * answered before the gate), {@code /ready}, and {@code /metrics} when {@code admin.metrics_public}. Scope
 * read: {@code /metrics}, {@code /queue/status}, {@code /queue/summary}. Scope management:
 * {@code POST /queue/pause|resume|drain|flush[?tier=high|normal|low]} (no tier: all tiers); a bad tier is
 * 400, decided after authorisation so that it tells an unauthorised caller nothing.
 */
final class OwnEndpoints {
    private static final JsonFactory JSON = new JsonFactory();
    private static final java.security.SecureRandom NONCES = new java.security.SecureRandom();
    /** The dashboard page, with {@code {{NONCE}}} where each response's nonce goes. */
    private static final String DASHBOARD = resource("dashboard.html");

    private final Pipeline pipeline;

    OwnEndpoints(Pipeline pipeline) {
        this.pipeline = pipeline;
    }

    private static String resource(String name) {
        try (var in = OwnEndpoints.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException(name + " is missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** True for an own endpoint that needs no key under this configuration. */
    boolean isPublic(String path) {
        return "/metrics".equals(path) && pipeline.config.admin().metricsPublic();
    }

    /** Endpoints that need no key. */
    void handleOpen(Call call, Request request, Response response, Callback callback, String path) {
        switch (path) {
            case "/ready" -> ready(call, request, response, callback);
            case "/metrics" -> metrics(call, request, response, callback);
            default -> health(call, request, response, callback);
        }
    }

    /** Endpoints whose scope the gate has checked. */
    void handleAuthorized(Call call, Request request, Response response, Callback callback, String path) {
        switch (path) {
            case "/metrics" -> metrics(call, request, response, callback);
            case "/queue/status" -> json(call, request, response, callback, 200, this::status);
            case "/queue/summary" -> json(call, request, response, callback, 200, this::summary);
            case "/queue/pause", "/queue/resume", "/queue/drain", "/queue/flush" ->
                    control(call, request, response, callback, path.substring("/queue/".length()));
            case "/dashboard" -> dashboard(call, request, response, callback);
            case "/usage" -> {
                // A management key sees every client; any other key only its own usage.
                boolean all = call.client.scope() == dev.oqp.common.config.Scope.MANAGEMENT;
                String self = call.client.clientId();
                json(call, request, response, callback, 200, g -> pipeline.usage.write(g, id -> all || id.equals(self)));
            }
            default -> error(call, request, response, callback, 404, "404 page not found", "not_found");
        }
    }

    private void health(Call call, Request request, Response response, Callback callback) {
        write(call, request, response, callback, 200, "text/plain; charset=utf-8", "ok".getBytes(StandardCharsets.US_ASCII));
    }

    // ---------------------------------------------------------------- /ready

    /**
     * Ready when the proxy is not shutting down and the last health check of at least one host answered (the
     * background checks of {@code health_check_interval}; a probe flood here never reaches the hosts).
     */
    private void ready(Call call, Request request, Response response, Callback callback) {
        if (pipeline.stopping()) {
            json(call, request, response, callback, 503, g -> {
                g.writeStringField("status", "stopping");
            });
            return;
        }
        int hostsUp = pipeline.fleet.healthyCount();
        // Only a required cache counts: an optional one that is down means misses, not an unready proxy.
        boolean cacheReady = pipeline.cache == null || pipeline.cache.ready();
        boolean ready = hostsUp > 0 && cacheReady;
        json(call, request, response, callback, ready ? 200 : 503, g -> {
            g.writeStringField("status", ready ? "ready" : hostsUp == 0 ? "no healthy host"
                    : "embedding cache unavailable");
            g.writeNumberField("hosts_up", hostsUp);
            g.writeNumberField("hosts", pipeline.fleet.hosts().size());
            if (pipeline.cache != null) {
                g.writeBooleanField("cache_available", pipeline.cache.backend().available());
            }
        });
    }

    // ---------------------------------------------------------------- /dashboard

    /**
     * One self-contained page (no external resource) that polls {@code /queue/summary} and
     * {@code /queue/status}. Its inline script and style run under a nonce new for every response; the
     * policy allows nothing else (no other script, no eval, no frames, connections to this origin only).
     */
    private void dashboard(Call call, Request request, Response response, Callback callback) {
        if (!pipeline.config.admin().dashboard()) {
            error(call, request, response, callback, 404, "the dashboard is disabled (admin.dashboard: false)", "not_found");
            return;
        }
        byte[] nonceBytes = new byte[18];
        NONCES.nextBytes(nonceBytes);
        String nonce = java.util.Base64.getEncoder().encodeToString(nonceBytes);
        var headers = response.getHeaders();
        headers.put("Content-Security-Policy", "default-src 'none'; script-src 'nonce-" + nonce + "'; style-src 'nonce-"
                + nonce + "'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none';"
                + " frame-ancestors 'none'");
        headers.put("X-Content-Type-Options", "nosniff");
        headers.put("X-Frame-Options", "DENY");
        headers.put("Referrer-Policy", "no-referrer");
        headers.put(HttpHeader.CACHE_CONTROL, "no-store");
        write(call, request, response, callback, 200, "text/html; charset=utf-8",
                DASHBOARD.replace("{{NONCE}}", nonce).getBytes(StandardCharsets.UTF_8));
    }

    // ---------------------------------------------------------------- /metrics

    private void metrics(Call call, Request request, Response response, Callback callback) {
        write(call, request, response, callback, 200, MetricsHandler.CONTENT_TYPE,
                MetricsHandler.scrape(pipeline.metrics.registry));
    }

    // ---------------------------------------------------------------- /queue/*

    private void status(JsonGenerator g) throws IOException {
        Snapshot s = pipeline.scheduler.snapshot();
        g.writeArrayFieldStart("paused");
        for (Tier t : s.paused()) {
            g.writeString(t.yamlName());
        }
        g.writeEndArray();
        g.writeArrayFieldStart("draining");
        for (Tier t : s.draining()) {
            g.writeString(t.yamlName());
        }
        g.writeEndArray();
        g.writeObjectFieldStart("queued");
        for (Tier t : Tier.values()) {
            g.writeNumberField(t.yamlName(), s.depth().get(t));
        }
        g.writeEndObject();
        g.writeNumberField("queued_total", s.totalDepth());
        g.writeNumberField("queued_bytes", s.queuedBytes());
        g.writeNumberField("in_flight", pipeline.pool.inFlight());
        g.writeNumberField("max_concurrent", pipeline.pool.globalCap());
        g.writeArrayFieldStart("hosts");
        for (Host host : pipeline.fleet.hosts()) {
            g.writeStartObject();
            g.writeStringField("name", host.name());
            g.writeStringField("health", host.health().label());
            g.writeNumberField("in_flight", pipeline.pool.inFlight(host.name()));
            g.writeNumberField("max_concurrent", host.config().maxConcurrent());
            g.writeNumberField("weight", host.config().weight());
            Host.Inventory inventory = host.inventory();
            g.writeArrayFieldStart("installed");
            for (String model : new java.util.TreeSet<>(inventory.installed())) {
                g.writeString(model);
            }
            g.writeEndArray();
            g.writeArrayFieldStart("loaded");
            for (Map.Entry<String, Host.Loaded> model : new TreeMap<>(inventory.loaded()).entrySet()) {
                g.writeStartObject();
                g.writeStringField("name", model.getKey());
                if (model.getValue().expiresAt() != null) {
                    g.writeStringField("expires_at", model.getValue().expiresAt());
                }
                g.writeNumberField("size_vram", model.getValue().sizeVram());
                g.writeEndObject();
            }
            g.writeEndArray();
            writeTime(g, "last_model_sync", inventory.syncedAt());
            writeTime(g, "last_health_check", host.lastHealthCheck());
            g.writeEndObject();
        }
        g.writeEndArray();
        if (pipeline.cache != null) {
            g.writeObjectFieldStart("embedding_cache");
            g.writeStringField("backend", pipeline.cache.backend().describe());
            g.writeBooleanField("available", pipeline.cache.backend().available());
            g.writeBooleanField("required", pipeline.cache.required());
            g.writeStringField("partition", pipeline.cache.config().partition().name().toLowerCase(Locale.ROOT));
            g.writeNumberField("hits", (long) pipeline.metrics.cacheHits.get());
            g.writeNumberField("misses", (long) pipeline.metrics.cacheMisses.get());
            if (pipeline.cache.backend().entries() >= 0) {
                g.writeNumberField("entries", pipeline.cache.backend().entries());
                g.writeNumberField("bytes", pipeline.cache.backend().bytes());
                g.writeNumberField("max_bytes", pipeline.cache.config().maxMemory());
            }
            g.writeEndObject();
        }
        Map<String, int[]> clients = new TreeMap<>();
        s.queuedPerClient().forEach((id, n) -> clients.computeIfAbsent(id, k -> new int[2])[0] = n);
        for (String id : pipeline.pool.clientsInFlight()) {
            clients.computeIfAbsent(id, k -> new int[2])[1] = pipeline.pool.clientInFlight(id);
        }
        for (String id : pipeline.metrics.clientsWithTokens()) {
            clients.computeIfAbsent(id, k -> new int[2]);
        }
        g.writeArrayFieldStart("clients");
        for (Map.Entry<String, int[]> c : clients.entrySet()) {
            long[] tokens = pipeline.metrics.tokens(c.getKey());
            g.writeStartObject();
            g.writeStringField("client_id", c.getKey());
            g.writeNumberField("queued", c.getValue()[0]);
            g.writeNumberField("in_flight", c.getValue()[1]);
            g.writeNumberField("prompt_tokens", tokens[0]);
            g.writeNumberField("completion_tokens", tokens[1]);
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    private static void writeTime(JsonGenerator g, String field, java.time.Instant at) throws IOException {
        if (at == null) {
            g.writeNullField(field);
        } else {
            g.writeStringField(field, at.toString());
        }
    }

    private void summary(JsonGenerator g) throws IOException {
        Snapshot s = pipeline.scheduler.snapshot();
        g.writeNumberField("queued", s.totalDepth());
        g.writeNumberField("in_flight", pipeline.pool.inFlight());
        g.writeNumberField("max_concurrent", pipeline.pool.globalCap());
        g.writeBooleanField("paused", !s.paused().isEmpty());
        g.writeBooleanField("draining", !s.draining().isEmpty());
    }

    private void control(Call call, Request request, Response response, Callback callback, String action) {
        Tier tier;
        String value = Request.extractQueryParameters(request).getValue("tier");
        if (value == null || value.isEmpty() || value.equalsIgnoreCase("all")) {
            tier = null;
        } else {
            try {
                tier = Tier.valueOf(value.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                error(call, request, response, callback, 400, "tier must be high, normal or low (or absent for all)",
                        "bad_tier");
                return;
            }
        }
        int flushed = -1;
        switch (action) {
            case "pause" -> pipeline.scheduler.pause(tier);
            case "resume" -> pipeline.scheduler.resume(tier);
            case "drain" -> pipeline.scheduler.drain(tier);
            default -> flushed = pipeline.scheduler.flush(tier);
        }
        int count = flushed;
        json(call, request, response, callback, 200, g -> {
            g.writeStringField("action", action);
            g.writeStringField("tier", tier == null ? "all" : tier.yamlName());
            if (count >= 0) {
                g.writeNumberField("flushed", count);
            }
            summary(g);
        });
    }

    // ---------------------------------------------------------------- writing

    @FunctionalInterface
    private interface Fields {
        void write(JsonGenerator g) throws IOException;
    }

    private void json(Call call, Request request, Response response, Callback callback, int status, Fields fields) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(512);
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            fields.write(g);
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        out.write('\n');
        // Browsers may fetch these with the dashboard's credentials: never sniffed, never embedded elsewhere.
        response.getHeaders().put("X-Content-Type-Options", "nosniff");
        response.getHeaders().put("Cross-Origin-Resource-Policy", "same-origin");
        write(call, request, response, callback, status, "application/json; charset=utf-8", out.toByteArray());
    }

    private void write(Call call, Request request, Response response, Callback callback, int status, String contentType,
                       byte[] body) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
        boolean head = "HEAD".equals(request.getMethod());
        response.write(true, head ? null : ByteBuffer.wrap(body), callback);
        pipeline.ledger.record(call, request.getMethod(), request.getHttpURI().getPath(), status, head ? 0 : body.length,
                null, -1);
    }

    private void error(Call call, Request request, Response response, Callback callback, int status, String message,
                       String error) {
        dev.oqp.common.proxy.ErrorResponses.write(request, response, callback, status, message);
        pipeline.ledger.record(call, request.getMethod(), request.getHttpURI().getPath(), status, -1, error, -1);
    }
}
