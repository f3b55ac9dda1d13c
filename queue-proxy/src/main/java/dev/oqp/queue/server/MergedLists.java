package dev.oqp.queue.server;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.oqp.common.proxy.ErrorResponses;
import dev.oqp.common.proxy.ProxyErrors;
import dev.oqp.queue.routing.FleetMonitor;
import dev.oqp.queue.routing.Host;
import dev.oqp.queue.routing.ModelNames;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * {@code GET /api/tags}, {@code GET /api/ps} and {@code GET /v1/models} over the fleet: the same request is sent
 * to every usable host at once, and the answer is the union of their lists, each model once (by canonical
 * name; the first host in config order that lists it gives its entry), in the endpoint's own shape. A host
 * that fails or does not answer in time is left out; a host that cannot be connected to is marked unhealthy.
 * No host answering: 502. The response names the hosts that answered in {@code X-Upstream-Host}. Requests for a
 * list that arrive while the hosts are being asked for it share that answer (nothing is cached beyond it).
 */
final class MergedLists {
    /** How long a host may take to answer a list. */
    static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(MergedLists.class);

    private final Pipeline pipeline;

    MergedLists(Pipeline pipeline) {
        this.pipeline = pipeline;
    }

    /** What the hosts answered for one path: the merged body (null when none answered) and who answered. */
    private record Gathered(boolean noHost, byte[] body, List<String> hosts, List<String> failures) {
    }

    /** The answer being gathered for each path: requests arriving meanwhile share it. */
    private final ConcurrentHashMap<String, CompletableFuture<Gathered>> inFlight = new ConcurrentHashMap<>();

    /**
     * The hosts' merged answer to {@code GET path}: a fan-out already under way for the same path is joined rather
     * than repeated, so a burst of list requests costs each host one request, not one per client request.
     */
    private CompletableFuture<Gathered> gather(String path) {
        CompletableFuture<Gathered> mine = new CompletableFuture<>();
        CompletableFuture<Gathered> running = inFlight.putIfAbsent(path, mine);
        if (running != null) {
            return running;
        }
        List<CompletableFuture<FleetMonitor.Fetched>> answers = new ArrayList<>();
        for (Host host : pipeline.fleet.hosts()) {
            if (host.usable()) {
                answers.add(pipeline.monitor.fetch(host, path, TIMEOUT));
            }
        }
        if (answers.isEmpty()) {
            inFlight.remove(path, mine);
            mine.complete(new Gathered(true, null, List.of(), List.of()));
            return mine;
        }
        CompletableFuture.allOf(answers.toArray(CompletableFuture[]::new)).whenComplete((ignored, x) -> {
            Gathered gathered = new Gathered(false, null, List.of(), List.of());
            try {
                List<byte[]> bodies = new ArrayList<>();
                List<String> names = new ArrayList<>();
                List<String> failures = new ArrayList<>();
                for (CompletableFuture<FleetMonitor.Fetched> answer : answers) {
                    FleetMonitor.Fetched fetched = answer.join();
                    if (fetched.status() == 200 && fetched.failure() == null) {
                        bodies.add(fetched.body());
                        names.add(fetched.host().name());
                        continue;
                    }
                    failures.add(fetched.host().name() + ": " + (fetched.failure() == null
                            ? "status " + fetched.status() : FleetMonitor.describe(fetched.failure())));
                    if (fetched.failure() != null
                            && ProxyErrors.hasCause(fetched.failure(), java.net.ConnectException.class)) {
                        pipeline.fleet.markUnhealthy(fetched.host(), false, "a request could not connect");
                    }
                }
                gathered = new Gathered(false, bodies.isEmpty() ? null : merge(path, bodies), List.copyOf(names),
                        List.copyOf(failures));
            } catch (RuntimeException e) {
                LOG.warn("merging " + path + " failed", e);
            } finally {
                // Whatever happened, later requests start a fan-out of their own and these get an answer.
                inFlight.remove(path, mine);
                mine.complete(gathered);
            }
        });
        return mine;
    }

    void handle(Call call, Request request, Response response, Callback callback, String path) {
        gather(path).thenAccept(gathered -> answer(call, request, response, callback, gathered))
                .exceptionally(x -> {
                    LOG.warn("answering " + path + " failed", x);
                    callback.failed(x);
                    return null;
                });
    }

    private void answer(Call call, Request request, Response response, Callback callback, Gathered gathered) {
        String rawPath = request.getHttpURI().getPath();
        if (gathered.noHost()) {
            pipeline.metrics.routingDecision("no_healthy_host");
            response.getHeaders().put(HttpHeader.RETRY_AFTER, Long.toString(pipeline.retryAfterNoHostSeconds()));
            ErrorResponses.write(request, response, callback, 503, "no healthy Ollama host; retry later");
            pipeline.ledger.record(call, request.getMethod(), rawPath, 503, -1, "no_healthy_host", -1);
            return;
        }
        if (gathered.body() == null) {
            // Host names and statuses only: what failed and how, never a URL or a body.
            ErrorResponses.write(request, response, callback, 502, "no host answered " + rawPath + " with a model list"
                    + (gathered.failures().isEmpty() ? "" : " (" + String.join("; ", gathered.failures()) + ")"));
            pipeline.ledger.record(call, request.getMethod(), rawPath, 502, -1, "no_host_answered", -1);
            return;
        }
        byte[] merged = gathered.body();
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
        response.getHeaders().put(Forwarder.X_UPSTREAM_HOST, String.join(", ", gathered.hosts()));
        boolean head = "HEAD".equals(request.getMethod());
        if (head) {
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, merged.length);
        }
        // A buffer of its own per response: the merged bytes are shared by every request that joined.
        response.write(true, head ? null : ByteBuffer.wrap(merged), callback);
        pipeline.ledger.record(call, request.getMethod(), rawPath, 200, head ? 0 : merged.length, null, -1);
    }

    /**
     * The union of the hosts' answers to {@code path}, in its shape: {@code {"models":[…]}} for the Ollama lists
     * (key {@code name}, else {@code model}), {@code {"object":"list","data":[…]}} for {@code /v1/models} (key
     * {@code id}). Bodies that are not such JSON, and entries without a name, are skipped; null when no body is
     * such JSON.
     */
    static byte[] merge(String path, List<byte[]> bodies) {
        boolean openAi = path.startsWith("/v1/");
        String arrayField = openAi ? "data" : "models";
        ObjectNode out = JSON.createObjectNode();
        if (openAi) {
            out.put("object", "list");
        }
        ArrayNode items = out.putArray(arrayField);
        Set<String> seen = new HashSet<>();
        boolean any = false;
        for (byte[] body : bodies) {
            JsonNode root;
            try {
                root = JSON.readTree(body);
            } catch (IOException e) {
                continue;
            }
            if (root == null || !root.path(arrayField).isArray()) {
                continue;
            }
            any = true;
            for (JsonNode item : root.get(arrayField)) {
                String key = ModelNames.normalise(openAi ? text(item, "id") : firstText(item, "name", "model"));
                if (key != null && seen.add(key)) {
                    items.add(item);
                }
            }
        }
        if (!any) {
            return null;
        }
        try {
            return JSON.writeValueAsBytes(out);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static String text(JsonNode item, String field) {
        JsonNode value = item.get(field);
        return value != null && value.isTextual() ? value.asText() : null;
    }

    private static String firstText(JsonNode item, String first, String second) {
        String value = text(item, first);
        return value != null && !value.isBlank() ? value : text(item, second);
    }
}
