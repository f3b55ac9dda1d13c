package dev.oqp.queue.server;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.oqp.common.proxy.ErrorResponses;
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
 * No host answering: 502. The response names the hosts that answered in {@code X-Upstream-Host}.
 */
final class MergedLists {
    /** How long a host may take to answer a list. */
    static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Pipeline pipeline;

    MergedLists(Pipeline pipeline) {
        this.pipeline = pipeline;
    }

    void handle(Call call, Request request, Response response, Callback callback, String path) {
        List<CompletableFuture<FleetMonitor.Fetched>> answers = new ArrayList<>();
        for (Host host : pipeline.fleet.hosts()) {
            if (host.usable()) {
                answers.add(pipeline.monitor.fetch(host, path, TIMEOUT));
            }
        }
        if (answers.isEmpty()) {
            pipeline.metrics.routingDecision("no_healthy_host");
            response.getHeaders().put(HttpHeader.RETRY_AFTER, Long.toString(pipeline.retryAfterNoHostSeconds()));
            ErrorResponses.write(request, response, callback, 503, "no healthy Ollama host; retry later");
            pipeline.ledger.record(call, request.getMethod(), request.getHttpURI().getPath(), 503, -1, "no_healthy_host", -1);
            return;
        }
        CompletableFuture.allOf(answers.toArray(CompletableFuture[]::new)).whenComplete((ignored, x) -> {
            List<byte[]> bodies = new ArrayList<>();
            List<String> names = new ArrayList<>();
            for (CompletableFuture<FleetMonitor.Fetched> answer : answers) {
                FleetMonitor.Fetched fetched = answer.join();
                if (fetched.status() == 200 && fetched.failure() == null) {
                    bodies.add(fetched.body());
                    names.add(fetched.host().name());
                } else if (fetched.failure() != null
                        && dev.oqp.common.proxy.ProxyBase.hasCause(fetched.failure(), java.net.ConnectException.class)) {
                    pipeline.fleet.markUnhealthy(fetched.host(), false, "a request could not connect");
                }
            }
            byte[] merged = bodies.isEmpty() ? null : merge(path, bodies);
            if (merged == null) {
                ErrorResponses.write(request, response, callback, 502, "no host answered " + path);
                pipeline.ledger.record(call, request.getMethod(), request.getHttpURI().getPath(), 502, -1,
                        "no_host_answered", -1);
                return;
            }
            response.setStatus(200);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
            response.getHeaders().put(Forwarder.X_UPSTREAM_HOST, String.join(", ", names));
            boolean head = "HEAD".equals(request.getMethod());
            if (head) {
                response.getHeaders().put(HttpHeader.CONTENT_LENGTH, merged.length);
            }
            response.write(true, head ? null : ByteBuffer.wrap(merged), callback);
            pipeline.ledger.record(call, request.getMethod(), request.getHttpURI().getPath(), 200, head ? 0 : merged.length,
                    null, -1);
        });
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
