package dev.oqp.queue.server;

import java.util.Set;

import dev.oqp.queue.metrics.QueueMetrics;
import dev.oqp.queue.routing.Fleet;
import dev.oqp.queue.routing.Host;
import dev.oqp.queue.routing.ModelNames;
import dev.oqp.queue.routing.SlotPool;

/**
 * Metadata and management requests: not queued, sent straight to a host. A host named by {@code X-Ollama-Host}
 * takes the request whatever it is (an unknown name is 400); else the model lists are merged over the hosts,
 * {@code /api/show} and {@code /v1/models/{m}} go to a host that has the model, and the rest to the first usable
 * host in config order.
 */
final class DirectRoute {
    /** The largest {@code /api/show} body read (it names a model and maybe {@code verbose}). */
    static final long MAX_SHOW_BODY = 64 * 1024;

    private final Fleet fleet;
    private final SlotPool pool;
    private final QueueMetrics metrics;
    private final MergedLists merged;
    private final BodyReader.Budget bodies;
    private final Sender sender;

    DirectRoute(Fleet fleet, SlotPool pool, QueueMetrics metrics, MergedLists merged, BodyReader.Budget bodies,
                Sender sender) {
        this.fleet = fleet;
        this.pool = pool;
        this.metrics = metrics;
        this.merged = merged;
        this.bodies = bodies;
        this.sender = sender;
    }

    void forward(Call call) {
        String path = call.path();
        // Model blobs are as large as models: their upload is not held to max_body (scope management only).
        call.maxBody = "POST".equals(call.request.getMethod()) && path.startsWith("/api/blobs/") ? Long.MAX_VALUE
                : call.port.maxBody();
        String named = call.request.getHeaders().get(Headers.X_OLLAMA_HOST);
        if (named != null && !named.isBlank()) {
            Host host = fleet.host(named.strip());
            if (host == null) {
                call.answer(400, "X-Ollama-Host names no configured host", "unknown_host");
                return;
            }
            call.named = true;
            metrics.routingDecision("named");
            sendTo(call, host);
            return;
        }
        switch (call.route.target()) {
            case MERGED -> merged.answer(call);
            case MODEL_HOST -> {
                if (path.startsWith("/v1/models/")) {
                    // The path is already decoded (and canonical, checked by the gate).
                    forModel(call, ModelNames.normalise(path.substring("/v1/models/".length())));
                } else {
                    showBody(call, path);
                }
            }
            default -> {
                Host host = fleet.firstUsable();
                if (host == null) {
                    noHealthyHost(call);
                    return;
                }
                metrics.routingDecision("first_healthy");
                sendTo(call, host);
            }
        }
    }

    /**
     * {@code POST /api/show}: the model is in the body, read and sent on as read. Such bodies are tiny; the small
     * cap keeps a read-scope key from tying up the body budget inference requests share.
     */
    private void showBody(Call call, String path) {
        call.maxBody = Math.min(call.maxBody, MAX_SHOW_BODY);
        if (call.request.getLength() > call.maxBody) {
            call.answer(413, InferenceIntake.tooLarge(call.maxBody), "body_too_large");
            return;
        }
        call.bodyRead = true;
        BodyReader.read(call.request, call.maxBody, bodies, (body, failure) -> {
            if (failure != null) {
                InferenceIntake.bodyFailed(call, failure);
                return;
            }
            call.body = body;
            String model = null;
            try {
                model = InferenceBody.parse(path, body).canonicalModel();
            } catch (InferenceBody.BadBody e) {
                // Ollama answers a body it cannot use in its own words.
            }
            forModel(call, model);
        });
    }

    /** 503 with {@code Retry-After}: no host is usable; the next health check may bring one back. */
    static void noHealthyHost(QueueMetrics metrics, Call call) {
        metrics.routingDecision("no_healthy_host");
        call.answer(503, "no healthy Ollama host; retry later", "no_healthy_host", call.settings.retryAfterNoHostSeconds());
    }

    private void noHealthyHost(Call call) {
        noHealthyHost(metrics, call);
    }

    private void forModel(Call call, String model) {
        call.model = model;
        SlotPool.Choice choice = pool.pick(model, Set.of());
        if (choice == null) {
            noHealthyHost(call);
            return;
        }
        metrics.routingDecision(choice.reason());
        sendTo(call, choice.host());
    }

    private void sendTo(Call call, Host host) {
        call.sendTo(host);
        sender.send(call);
    }
}
