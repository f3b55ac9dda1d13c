package dev.oqp.queue.server;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.Target;
import dev.oqp.common.config.Tier;
import dev.oqp.common.config.WebhooksConfig;
import dev.oqp.queue.auth.Client;
import dev.oqp.queue.auth.FailureLimiter;
import dev.oqp.queue.limits.RateLimiter;
import dev.oqp.queue.limits.UsageLedger;
import dev.oqp.queue.metrics.QueueMetrics;
import dev.oqp.queue.routing.Fleet;
import dev.oqp.queue.routing.SlotPool;
import dev.oqp.queue.scheduler.Scheduler;
import dev.oqp.queue.scheduler.Ticks;
import dev.oqp.queue.webhooks.Webhooks;

/**
 * The request path from the intake on, without a server: a configuration, its settings, one port, the fleet and
 * slot pool of its hosts (no network: they are usable until told otherwise), a scheduler on a hand-moved clock,
 * and a {@link Sender} that records what it is handed instead of sending it anywhere.
 */
final class IntakeBench {
    /** The clock the scheduler reads; tests move it. */
    long nanos;
    final OqpConfig config;
    final Settings settings;
    final Port port;
    final QueueMetrics metrics = new QueueMetrics();
    final Fleet fleet;
    final SlotPool pool;
    final Scheduler<SlotPool.HostLease> scheduler;
    final RateLimiter rates = new RateLimiter(() -> nanos, Clock.systemUTC());
    final Ledger ledger = new Ledger(metrics, rates);
    /** No endpoints: events are built and dropped. */
    final Webhooks webhooks = new Webhooks(WebhooksConfig.NONE, metrics, "test");
    final List<Call> sent = new CopyOnWriteArrayList<>();
    final Sender recorder = sent::add;
    final InferenceIntake intake;
    private final List<FakeExchange> exchanges = new ArrayList<>();

    IntakeBench(String yaml) throws Exception {
        config = ConfigLoader.parse(yaml, Target.QUEUE_PROXY, Map.of());
        port = new Port("proxy", config.proxy().host(), null, config.proxy().maxBody());
        settings = Settings.of(config, new FailureLimiter(config.auth().rateLimit()), null, List.of(port));
        fleet = new Fleet(config.ollama().hosts());
        pool = new SlotPool(fleet, config.routing(), config.proxy().maxConcurrent(), Settings.clientCaps(config));
        Ticks ticks = () -> nanos;
        scheduler = new Scheduler<>(config.queue(), ticks, pool);
        intake = new InferenceIntake(rates, metrics, new UsageRecorder(metrics, new UsageLedger(Clock.systemUTC())),
                fleet, new BodyReader.Budget(config.queue().maxQueuedBytes()), Runnable::run, scheduler, recorder,
                () -> false, webhooks);
    }

    /** A call for {@code exchange} as the gate would hand it on: authenticated as {@code client}, route classified. */
    Call call(FakeExchange exchange, Client client) {
        exchanges.add(exchange);
        Call call = new Call("req-" + exchanges.size(), port, settings, exchange.request, exchange.response,
                exchange.callback, ledger);
        call.client = client;
        call.clientAddress = "127.0.0.1";
        call.route = Route.classify(exchange.request.getMethod(), exchange.request.getHttpURI().getPath());
        return call;
    }

    /** A call and the exchange it answers. */
    record Queued(Call call, FakeExchange exchange) {
    }

    /** An inference call as the intake hands it to the queue (tier normal, model and body known), submitted. */
    Queued queued(Client client) {
        FakeExchange exchange = new FakeExchange("POST", "/api/generate", "{\"model\":\"llama3\",\"prompt\":\"hi\"}");
        Call call = call(exchange, client);
        call.tier = Tier.NORMAL;
        call.model = "llama3:latest";
        call.body = "{\"model\":\"llama3\"}".getBytes(StandardCharsets.UTF_8);
        call.bodyRead = true;
        new QueuedCall(call, scheduler, Runnable::run, recorder, metrics, fleet, () -> false, webhooks).submit();
        return new Queued(call, exchange);
    }

    /** The value of {@code oqp_client_requests_total} for {@code client} and {@code status}: what was recorded. */
    double recorded(String client, int status) {
        return metrics.clientRequests.labelValues(client, Integer.toString(status)).get();
    }
}
