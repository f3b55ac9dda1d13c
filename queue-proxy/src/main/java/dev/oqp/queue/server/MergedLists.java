package dev.oqp.queue.server;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
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
import dev.oqp.common.proxy.ProxyErrors;
import dev.oqp.queue.metrics.QueueMetrics;
import dev.oqp.queue.routing.Fleet;
import dev.oqp.queue.routing.FleetMonitor;
import dev.oqp.queue.routing.Host;
import dev.oqp.queue.routing.ModelNames;
import org.eclipse.jetty.http.HttpHeader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /api/tags}, {@code GET /api/ps} and {@code GET /v1/models} over the fleet: the same request is sent
 * to every usable host at once, and the answer is the union of their lists, each model once (by canonical
 * name; the first host in config order that lists it gives its entry), in the endpoint's own shape. A host
 * that fails or does not answer in time is left out; a host that cannot be connected to is marked unhealthy.
 * No host answering: 502. The response names the hosts that answered in {@code X-Upstream-Host} and
 * {@code X-Failover-Host}. Requests for a
 * list that arrive while the hosts are being asked for it share that answer (nothing is cached beyond it).
 */
final class MergedLists {
    /** How long a host may take to answer a list. */
    static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Logger LOG = LoggerFactory.getLogger(MergedLists.class);

    private final Fleet fleet;
    private final FleetMonitor monitor;
    private final QueueMetrics metrics;

    MergedLists(Fleet fleet, FleetMonitor monitor, QueueMetrics metrics) {
        this.fleet = fleet;
        this.monitor = monitor;
        this.metrics = metrics;
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
        for (Host host : fleet.hosts()) {
            if (host.usable()) {
                answers.add(monitor.fetch(host, path, TIMEOUT));
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
                            && ProxyErrors.hasCause(fetched.failure(), ConnectException.class)) {
                        fleet.markUnhealthy(fetched.host(), false, "a request could not connect");
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

    /** Answers {@code call} with the hosts' merged list for its path. */
    void answer(Call call) {
        String path = call.path();
        gather(path).thenAccept(gathered -> answer(call, gathered))
                .exceptionally(x -> {
                    LOG.warn("answering " + path + " failed", x);
                    call.fail(x, "internal");
                    return null;
                });
    }

    private void answer(Call call, Gathered gathered) {
        String rawPath = call.request.getHttpURI().getPath();
        if (gathered.noHost()) {
            DirectRoute.noHealthyHost(metrics, call);
            return;
        }
        if (gathered.body() == null) {
            // Host names and statuses only: what failed and how, never a URL or a body.
            call.answer(502, "no host answered " + rawPath + " with a model list"
                    + (gathered.failures().isEmpty() ? "" : " (" + String.join("; ", gathered.failures()) + ")"),
                    "no_host_answered");
            return;
        }
        byte[] merged = gathered.body();
        String hosts = String.join(", ", gathered.hosts());
        call.response.getHeaders().put(Headers.X_UPSTREAM_HOST, hosts);
        call.response.getHeaders().put(Headers.X_FAILOVER_HOST, hosts);
        if ("HEAD".equals(call.request.getMethod())) {
            call.response.getHeaders().put(HttpHeader.CONTENT_LENGTH, merged.length);
        }
        // A buffer of its own per response: the merged bytes are shared by every request that joined.
        call.write(200, "application/json; charset=utf-8", merged);
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
            throw new UncheckedIOException(e);
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
