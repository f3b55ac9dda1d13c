package dev.oqp.queue.routing;

import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.eclipse.jetty.client.BufferingResponseListener;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.util.component.ContainerLifeCycle;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * Keeps the {@link Fleet}'s view of each host current, in the background and never on a request thread:
 * {@code GET /} every {@code health_check_interval} (any 2xx is healthy; a connect failure, a timeout or
 * another status is unhealthy); an unhealthy host is probed every {@link #UNHEALTHY_PROBE_PERIOD} (or the
 * health interval when shorter), so it returns by itself within about a second of answering again; and
 * {@code GET /api/tags} plus {@code GET /api/ps} every {@code model_sync_interval} on each host not known to
 * be down (a host that comes back is synced at once). Each probe has a short timeout and at most one of each
 * kind is in flight per host. Requests carry the host's configured headers.
 *
 * <p>Also the fetcher for the merged model lists ({@link #fetch}), with the same client and limits.
 */
public final class FleetMonitor extends ContainerLifeCycle {
    /** The longest a probe may take: a healthy Ollama answers these at once, even while it generates. */
    static final Duration MAX_PROBE_TIMEOUT = Duration.ofSeconds(5);
    /** How often an unhealthy host is probed (at most; the health interval when that is shorter). */
    public static final Duration UNHEALTHY_PROBE_PERIOD = Duration.ofSeconds(1);
    /** The largest model list read from a host. */
    static final int MAX_LIST_BYTES = 8 * 1024 * 1024;
    /** The {@code User-Agent} of the background probes, so that they can be told apart in Ollama's logs. */
    public static final String PROBE_AGENT = "ollama-queue-proxy-monitor";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Fleet fleet;
    private final HttpClient client;
    private final Scheduler scheduler;
    private final Duration healthInterval;
    private final Duration syncInterval;
    private final Map<Host, AtomicBoolean> checking = new ConcurrentHashMap<>();
    private final Map<Host, AtomicBoolean> syncing = new ConcurrentHashMap<>();
    /** When each host's last health check started (System.nanoTime); touched by the scheduler thread only. */
    private final Map<Host, Long> checkedAt = new HashMap<>();
    private final Duration tick;

    /** What a host answered: status and body, or the failure. */
    public record Fetched(Host host, int status, byte[] body, Throwable failure) {
        public boolean ok() {
            return failure == null && status / 100 == 2;
        }
    }

    /**
     * @param client a client of its own, not started: this monitor starts and stops it
     */
    public FleetMonitor(Fleet fleet, HttpClient client, Scheduler scheduler, Duration healthInterval,
                        Duration syncInterval) {
        this.fleet = fleet;
        this.client = client;
        this.scheduler = scheduler;
        this.healthInterval = healthInterval;
        this.syncInterval = syncInterval;
        this.tick = healthInterval.compareTo(UNHEALTHY_PROBE_PERIOD) < 0 ? healthInterval : UNHEALTHY_PROBE_PERIOD;
        addBean(client, true);
        fleet.addListener(new Fleet.Listener() {
            @Override
            public void healthChanged(Host host, Host.Health from, Host.Health to, String reason) {
                if (to == Host.Health.HEALTHY && isRunning()) {
                    // Back (or up for the first time): learn what it has before the next period.
                    sync(host);
                }
            }
        });
    }

    @Override
    protected void doStart() throws Exception {
        super.doStart();
        scheduler.schedule(this::checkAll, 0, TimeUnit.MILLISECONDS);
        scheduler.schedule(this::syncAll, syncInterval.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void checkAll() {
        if (!isRunning()) {
            return;
        }
        try {
            long now = System.nanoTime();
            // Hosts a reload removed are forgotten here (the only thread that touches these maps' entries' life).
            checkedAt.keySet().removeIf(Host::retired);
            checking.keySet().removeIf(Host::retired);
            syncing.keySet().removeIf(Host::retired);
            for (Host host : fleet.hosts()) {
                Long last = checkedAt.get(host);
                if (last == null || !host.usable() || now - last >= healthInterval.toNanos() - tick.toNanos() / 2) {
                    checkedAt.put(host, now);
                    check(host);
                }
            }
        } finally {
            scheduler.schedule(this::checkAll, Math.max(1, tick.toMillis()), TimeUnit.MILLISECONDS);
        }
    }

    private void syncAll() {
        if (!isRunning()) {
            return;
        }
        try {
            for (Host host : fleet.hosts()) {
                if (host.usable()) {
                    sync(host);
                }
            }
        } finally {
            scheduler.schedule(this::syncAll, syncInterval.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /** One health probe of {@code host}, unless one is in flight. */
    void check(Host host) {
        AtomicBoolean busy = checking.computeIfAbsent(host, h -> new AtomicBoolean());
        if (!busy.compareAndSet(false, true)) {
            return;
        }
        probe(host, "/", timeout(healthInterval)).whenComplete((fetched, x) -> {
            busy.set(false);
            if (!isRunning()) {
                return;
            }
            if (fetched.ok()) {
                fleet.markHealthy(host);
            } else {
                fleet.markUnhealthy(host, true, fetched.failure() != null
                        ? "health check failed: " + describe(fetched.failure())
                        : "health check answered " + fetched.status());
            }
        });
    }

    /** One model-list poll of {@code host}, unless one is in flight. */
    void sync(Host host) {
        AtomicBoolean busy = syncing.computeIfAbsent(host, h -> new AtomicBoolean());
        if (!busy.compareAndSet(false, true)) {
            return;
        }
        Duration timeout = timeout(syncInterval);
        // The lists are as of when they were asked for (a load that ended after this is not in them).
        Instant asked = Instant.now();
        CompletableFuture<Fetched> tags = probe(host, "/api/tags", timeout);
        CompletableFuture<Fetched> ps = probe(host, "/api/ps", timeout);
        tags.thenCombine(ps, (t, p) -> {
            busy.set(false);
            if (isRunning() && t.ok() && p.ok()) {
                try {
                    fleet.inventory(host, inventory(JSON.readTree(t.body()), JSON.readTree(p.body()), asked));
                } catch (IOException | RuntimeException e) {
                    // Not Ollama's shape: keep what was known; the next poll tries again.
                }
            }
            return null;
        });
    }

    /** The inventory from the bodies of {@code /api/tags} and {@code /api/ps}. */
    static Host.Inventory inventory(JsonNode tags, JsonNode ps, Instant at) {
        Set<String> installed = new HashSet<>();
        for (JsonNode model : tags.path("models")) {
            String canonical = ModelNames.normalise(nameOf(model));
            if (canonical != null) {
                installed.add(canonical);
            }
        }
        Map<String, Host.Loaded> loaded = new HashMap<>();
        for (JsonNode model : ps.path("models")) {
            String name = nameOf(model);
            String canonical = ModelNames.normalise(name);
            if (canonical != null) {
                JsonNode expires = model.get("expires_at");
                loaded.put(canonical, new Host.Loaded(name, expires != null && expires.isTextual() ? expires.asText() : null,
                        model.path("size_vram").asLong(0)));
            }
        }
        return new Host.Inventory(installed, loaded, at);
    }

    private static String nameOf(JsonNode model) {
        JsonNode name = model.get("name");
        if (name == null || !name.isTextual() || name.asText().isBlank()) {
            name = model.get("model");
        }
        return name != null && name.isTextual() ? name.asText() : null;
    }

    /**
     * {@code GET path} on the host, with its configured headers, bounded in time and size. Never completes
     * exceptionally: a failure is in {@link Fetched#failure()}.
     */
    public CompletableFuture<Fetched> fetch(Host host, String path, Duration timeout) {
        return get(host, path, timeout, null);
    }

    private CompletableFuture<Fetched> probe(Host host, String path, Duration timeout) {
        return get(host, path, timeout, PROBE_AGENT);
    }

    private CompletableFuture<Fetched> get(Host host, String path, Duration timeout, String agent) {
        CompletableFuture<Fetched> result = new CompletableFuture<>();
        String base = host.config().url().toString();
        String uri = (base.endsWith("/") ? base.substring(0, base.length() - 1) : base) + path;
        try {
            Request request = client.newRequest(uri).timeout(timeout.toMillis(), TimeUnit.MILLISECONDS);
            request.headers(h -> {
                if (agent != null) {
                    h.put(HttpHeader.USER_AGENT, agent);
                }
                host.config().headers().forEach(h::put);
            });
            request.send(new BufferingResponseListener(MAX_LIST_BYTES) {
                @Override
                public void onComplete(Result r) {
                    if (r.isFailed()) {
                        result.complete(new Fetched(host, 0, null, r.getFailure()));
                    } else {
                        result.complete(new Fetched(host, r.getResponse().getStatus(), getContent(), null));
                    }
                }
            });
        } catch (RuntimeException e) {
            result.complete(new Fetched(host, 0, null, e));
        }
        return result;
    }

    /**
     * {@code POST path} with a JSON body on the host, with its configured headers; {@code idleTimeout} bounds
     * silence (a model load may take minutes), not the whole exchange. Never completes exceptionally.
     */
    public CompletableFuture<Fetched> post(Host host, String path, byte[] json, Duration idleTimeout) {
        CompletableFuture<Fetched> result = new CompletableFuture<>();
        String base = host.config().url().toString();
        String uri = (base.endsWith("/") ? base.substring(0, base.length() - 1) : base) + path;
        try {
            Request request = client.newRequest(uri).method(HttpMethod.POST)
                    .idleTimeout(idleTimeout.toMillis(), TimeUnit.MILLISECONDS)
                    .body(new BytesRequestContent("application/json", json));
            request.headers(h -> host.config().headers().forEach(h::put));
            request.send(new BufferingResponseListener(MAX_LIST_BYTES) {
                @Override
                public void onComplete(Result r) {
                    result.complete(r.isFailed() ? new Fetched(host, 0, null, r.getFailure())
                            : new Fetched(host, r.getResponse().getStatus(), getContent(), null));
                }
            });
        } catch (RuntimeException e) {
            result.complete(new Fetched(host, 0, null, e));
        }
        return result;
    }

    /** The probe timeout for a period: the period itself, at least 1 s and at most {@link #MAX_PROBE_TIMEOUT}. */
    static Duration timeout(Duration period) {
        Duration t = period.compareTo(Duration.ofSeconds(1)) < 0 ? Duration.ofSeconds(1) : period;
        return t.compareTo(MAX_PROBE_TIMEOUT) > 0 ? MAX_PROBE_TIMEOUT : t;
    }

    /** A failure in a few words, without a stack trace (and without a URL's credentials: none are allowed). */
    public static String describe(Throwable failure) {
        Throwable root = failure;
        for (int depth = 0; depth < 16 && root.getCause() != null && root.getCause() != root; depth++) {
            root = root.getCause();
        }
        if (root instanceof ConnectException) {
            return "connection refused";
        }
        if (root instanceof TimeoutException || root instanceof SocketTimeoutException) {
            return "timed out";
        }
        String message = root.getMessage();
        return root.getClass().getSimpleName() + (message == null ? "" : ": " + message);
    }
}
