package dev.oqp.queue.webhooks;

import java.net.ConnectException;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.config.WebhooksConfig;
import dev.oqp.queue.metrics.QueueMetrics;
import dev.oqp.queue.routing.Fleet;
import dev.oqp.queue.scheduler.Scheduler;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.util.component.ContainerLifeCycle;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends webhook events: {@link #publish} never blocks and never fails its caller. Each event goes to every
 * endpoint that lists it, as one delivery; deliveries not yet finished (waiting, in flight, waiting to retry) are
 * bounded by {@code queue_size}, past which a delivery is dropped and counted. Deliveries are sent by a Jetty
 * {@link HttpClient} with its own small thread pool: a POST of the compact JSON payload with
 * {@code Content-Type: application/json}, {@code User-Agent: oqp/<version>}, {@code X-OQP-Event}, and when a
 * secret applies {@code X-OQP-Timestamp} and {@code X-OQP-Signature}. Each attempt has {@code timeout} from its
 * send to the end of the answer; a 5xx answer, a timeout or a connect failure is retried after 1 s, 2 s, 4 s…
 * up to {@code retries} times; any other non-2xx answer (4xx, a redirect, which is never followed) ends the
 * delivery as failed. A host that resolves to a refused address at delivery ({@link AddressGuard}) is dropped.
 * Outcomes are counted in {@code oqp_webhook_deliveries_total{event,result}}; each final failure is logged
 * with the event, the endpoint's host (never its URL) and the status or error kind.
 */
public final class Webhooks extends ContainerLifeCycle {
    private static final Logger LOG = LoggerFactory.getLogger(Webhooks.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Internal, not a configuration key: the first retry's delay in milliseconds (tests shorten it). */
    static final String BACKOFF_PROPERTY = "oqp.webhooks.backoff-base-ms";
    private static final long DEFAULT_BACKOFF_MILLIS = 1000;

    private final QueueMetrics metrics;
    private final String userAgent;
    private final long backoffMillis;
    private final HttpClient client;
    private final AtomicInteger pending = new AtomicInteger();
    private volatile Routes routes;
    /** Per client, the rate limits whose refusal was announced since it was last admitted. */
    private final Map<String, Set<String>> rateLimited = new ConcurrentHashMap<>();

    /** One endpoint, ready to send to. */
    private record Target(URI uri, String host, Set<String> events, String secret) {
    }

    /** The configuration in force and its endpoints; replaced whole by a reload. */
    private record Routes(WebhooksConfig config, List<Target> targets) {
        static Routes of(WebhooksConfig config) {
            List<Target> targets = new ArrayList<>();
            for (WebhooksConfig.Endpoint e : config.endpoints()) {
                URI uri = URI.create(e.url());
                targets.add(new Target(uri, AddressGuard.host(uri), Set.copyOf(e.events()),
                        e.secret() != null ? e.secret() : config.secret()));
            }
            return new Routes(config, List.copyOf(targets));
        }
    }

    /** One event on its way to one endpoint. */
    private static final class Delivery {
        final Target target;
        final String event;
        final byte[] body;
        final long timeoutMillis;
        final int retries;
        /** Written by one attempt at a time, read by its answer's callback. */
        volatile int attempts;

        Delivery(Target target, String event, byte[] body, WebhooksConfig config) {
            this.target = target;
            this.event = event;
            this.body = body;
            this.timeoutMillis = config.timeout().toMillis();
            this.retries = config.retries();
        }
    }

    /** @param version the proxy's version, for {@code User-Agent: oqp/<version>} */
    public Webhooks(WebhooksConfig config, QueueMetrics metrics, String version) {
        this.metrics = metrics;
        this.userAgent = "oqp/" + version;
        this.backoffMillis = Long.getLong(BACKOFF_PROPERTY, DEFAULT_BACKOFF_MILLIS);
        this.routes = Routes.of(config);
        QueuedThreadPool threads = new QueuedThreadPool(8, 1);
        threads.setName("oqp-webhooks");
        threads.setDaemon(true);
        ClientConnector connector = new ClientConnector();
        connector.setExecutor(threads);
        connector.setSelectors(1);
        client = new HttpClient(new HttpClientTransportOverHTTP(connector));
        client.setExecutor(threads);
        client.setName("oqp-webhooks");
        // A receiver's redirect is its answer: following it could carry the signed event anywhere.
        client.setFollowRedirects(false);
        client.setHttpCookieStore(new HttpCookieStore.Empty());
        client.setUserAgentField(null);
        // Each attempt's total timeout (webhooks.timeout) covers the connect too.
        client.setConnectTimeout(TimeUnit.MINUTES.toMillis(1));
        client.setMaxConnectionsPerDestination(4);
        client.setMaxRequestsQueuedPerDestination(1_000_000);
        client.setSocketAddressResolver(new AddressGuard.Resolver(threads, () -> routes.config().allowedHosts()));
        addBean(threads, true);
        addBean(client, true);
    }

    /**
     * The problems that refuse {@code config} (an endpoint whose address the SSRF guard refuses), each naming its
     * endpoint and host, never the URL; {@code warn} gets what runs but deserves a word (a host that does not
     * resolve now). Resolves the endpoints' host names (blocking).
     */
    public static List<String> check(WebhooksConfig config, Consumer<String> warn) {
        AddressGuard.Check check = AddressGuard.check(config);
        check.warnings().forEach(warn);
        return check.problems();
    }

    /** Publishes the queue's transitions ({@code queue.high_watermark}, {@code queue.drained}) and the hosts'. */
    public void listenTo(Scheduler<?> scheduler, Fleet fleet) {
        scheduler.signals(new QueueSignals(this));
        fleet.addListener(new HostEvents(this));
    }

    /** Sends to {@code config}'s endpoints from now on; deliveries already under way finish as they were. */
    public void reconfigure(WebhooksConfig config) {
        routes = Routes.of(config);
    }

    /** Queues {@code event} for every endpoint that lists it; never blocks. */
    public void publish(Event event) {
        Routes r = routes;
        byte[] body = null;
        for (Target target : r.targets()) {
            if (!target.events().contains(event.name())) {
                continue;
            }
            if (body == null) {
                body = json(event);
            }
            if (!isRunning()) {
                return;
            }
            if (pending.incrementAndGet() > r.config().queueSize()) {
                pending.decrementAndGet();
                count(event.name(), "dropped_queue_full");
                continue;
            }
            Delivery delivery = new Delivery(target, event.name(), body, r.config());
            try {
                client.getExecutor().execute(() -> attempt(delivery));
            } catch (RejectedExecutionException e) {
                finish(delivery, "dropped_queue_full");
            }
        }
    }

    /**
     * Publishes {@code client.rate_limited} for the first refusal by {@code limit} since {@code clientId} was last
     * admitted (see {@link #admitted}), not for every refused request.
     */
    public void rateLimited(String clientId, String limit, long retryAfterSeconds) {
        if (rateLimited.computeIfAbsent(clientId, c -> ConcurrentHashMap.newKeySet()).add(limit)) {
            publish(Event.rateLimited(clientId, limit, retryAfterSeconds));
        }
    }

    /** {@code clientId}'s rate limits admitted a request: its next refusal is announced again. */
    public void admitted(String clientId) {
        if (!rateLimited.isEmpty()) {
            rateLimited.remove(clientId);
        }
    }

    private void attempt(Delivery d) {
        d.attempts++;
        String secret = d.target.secret();
        client.newRequest(d.target.uri())
                .method(HttpMethod.POST)
                .timeout(d.timeoutMillis, TimeUnit.MILLISECONDS)
                .headers(h -> {
                    h.put(HttpHeader.USER_AGENT, userAgent);
                    h.put("X-OQP-Event", d.event);
                    if (secret != null) {
                        String timestamp = Long.toString(System.currentTimeMillis() / 1000);
                        h.put("X-OQP-Timestamp", timestamp);
                        h.put("X-OQP-Signature", Signer.sign(secret, timestamp, d.body));
                    }
                })
                .body(new BytesRequestContent("application/json", d.body))
                .send(result -> answered(d, result));
    }

    private void answered(Delivery d, Result result) {
        if (!isRunning()) {
            pending.decrementAndGet();
            return;
        }
        if (result.isSucceeded()) {
            int status = result.getResponse().getStatus();
            if (status >= 200 && status < 300) {
                finish(d, "delivered");
            } else if (status >= 500) {
                retryOrFail(d, "status " + status);
            } else {
                fail(d, "status " + status);
            }
            return;
        }
        Throwable failure = result.getFailure();
        Throwable root = failure;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        if (root instanceof AddressGuard.BlockedAddressException) {
            LOG.atWarn().addKeyValue("event", d.event).addKeyValue("endpoint", d.target.host())
                    .addKeyValue("error", "blocked_address")
                    .log("webhook delivery dropped: its host now resolves to a refused address (SSRF guard)");
            finish(d, "dropped_blocked_address");
            return;
        }
        retryOrFail(d, kind(root));
    }

    private void retryOrFail(Delivery d, String error) {
        if (d.attempts > d.retries) {
            fail(d, error);
            return;
        }
        count(d.event, "retried");
        long delay = backoffMillis << Math.min(20, d.attempts - 1);
        try {
            client.getScheduler().schedule(() -> {
                try {
                    client.getExecutor().execute(() -> attempt(d));
                } catch (RejectedExecutionException e) {
                    pending.decrementAndGet();
                }
            }, delay, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            pending.decrementAndGet();
        }
    }

    private void fail(Delivery d, String error) {
        LOG.atWarn().addKeyValue("event", d.event).addKeyValue("endpoint", d.target.host())
                .addKeyValue("error", error).addKeyValue("attempts", d.attempts).log("webhook delivery failed");
        finish(d, "failed");
    }

    private void finish(Delivery d, String result) {
        pending.decrementAndGet();
        count(d.event, result);
    }

    private void count(String event, String result) {
        metrics.webhookDeliveries.labelValues(event, result).inc();
    }

    private static String kind(Throwable root) {
        if (root instanceof TimeoutException) {
            return "timeout";
        }
        if (root instanceof ConnectException) {
            return "connection_refused";
        }
        if (root instanceof UnknownHostException) {
            return "unknown_host";
        }
        return root.getClass().getSimpleName();
    }

    private static byte[] json(Event event) {
        try {
            return JSON.writeValueAsBytes(event.payload());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("event payload not serialisable: " + event.name(), e);
        }
    }
}
