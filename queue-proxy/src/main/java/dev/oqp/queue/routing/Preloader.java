package dev.oqp.queue.routing;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

import dev.oqp.common.config.KeepAliveConfig;
import dev.oqp.common.proxy.ErrorResponses;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps models warm ({@code ollama.hosts[].preload} and {@code pin}): when a host answers its health check for the
 * first time or again after being down, each of its {@link ModelRules#warm()} models is loaded there with an empty
 * generate ({@code POST /api/generate {"model": m, "keep_alive": …}}: the configured {@code keep_alive.default}, or
 * {@code -1} for a pinned model; Ollama's own default when none is configured). A model that answers it does not
 * generate (an embedding model) is loaded once more with an empty {@code /api/embed}. When a poll of the host's
 * {@code /api/ps} shows a pinned model no longer loaded, it is loaded again the same way.
 *
 * <p>Off the request path and bounded: loads are sent by the monitor's client, never waited for, at most one per
 * (host, model) at a time, each bounded by the upstream idle timeout. A load that fails is logged once and not
 * retried until the host comes back from being down again or a reload changes it: an evicted pinned model that
 * cannot be loaded does not turn into a loop. A pinned model evicted {@value #MAX_EVICTIONS} times within
 * {@link #EVICTION_WINDOW} (two pinned models that do not fit, or steady traffic for another model) is not loaded
 * again after the last of them: one warning names the host and the model, its load shows {@code failed}, and it is
 * tried again only when the host comes back from being down or a reload changes it.
 *
 * <p>A load never runs beside live requests of its model on its host (the runner reload a per-model cap of 1 exists to
 * prevent): while the pool has requests of that model in flight there, or the host is at the model's cap, the load is
 * put off to the next {@code /api/ps} poll (and dropped then when the poll shows the model loaded).
 */
public final class Preloader implements Fleet.Listener {
    private static final Logger LOG = LoggerFactory.getLogger(Preloader.class);
    /** Ollama's answer, in part, to a generate for a model that only embeds. */
    private static final String NO_GENERATE = "does not support generate";

    /** Where the last load this proxy sent for a (host, model) stands. */
    public enum State {
        LOADING, LOADED, FAILED;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Evictions of a pinned model within {@link #EVICTION_WINDOW} after which it is no longer loaded again. */
    static final int MAX_EVICTIONS = 3;
    static final Duration EVICTION_WINDOW = Duration.ofMinutes(10);

    private final FleetMonitor monitor;
    private final SlotPool pool;
    /** Per host, canonical model name to when the polls saw it evicted, within the window. */
    private final Map<Host, Map<String, Deque<Instant>>> evictions = new ConcurrentHashMap<>();
    /** Per host, the models whose load was put off while requests of them ran there. */
    private final Map<Host, Set<String>> deferred = new ConcurrentHashMap<>();
    private final Supplier<KeepAliveConfig> keepAlive;
    private final Supplier<Duration> idleTimeout;
    /** Per host, canonical model name to the state of its last load. */
    private final Map<Host, Map<String, State>> states = new ConcurrentHashMap<>();
    /** Per host, canonical model name to when its last load succeeded. */
    private final Map<Host, Map<String, Instant>> loadedAt = new ConcurrentHashMap<>();

    /**
     * @param keepAlive   the {@code keep_alive} in force (its default is what a preload asks for)
     * @param idleTimeout the upstream idle timeout in force ({@code ollama.request_timeout}): a load may take minutes
     */
    public Preloader(Fleet fleet, FleetMonitor monitor, SlotPool pool, Supplier<KeepAliveConfig> keepAlive,
                     Supplier<Duration> idleTimeout) {
        this.monitor = monitor;
        this.pool = pool;
        this.keepAlive = keepAlive;
        this.idleTimeout = idleTimeout;
        fleet.addListener(this);
    }

    @Override
    public void healthChanged(Host host, Host.Health from, Host.Health to, String reason) {
        if (to == Host.Health.HEALTHY) {
            warm(host);
        }
    }

    @Override
    public void inventoryPolled(Host host) {
        Host.Inventory inventory = host.inventory();
        if (inventory.syncedAt() == null || host.retired() || host.health() != Host.Health.HEALTHY) {
            return;
        }
        Set<String> putOff = deferred.computeIfAbsent(host, h -> ConcurrentHashMap.newKeySet());
        for (String name : host.rules().warm()) {
            String canonical = ModelNames.normalise(name);
            boolean missing = !inventory.loaded().containsKey(canonical);
            if (putOff.remove(canonical)) {
                if (missing) {
                    load(host, name, canonical);
                }
                continue;
            }
            Instant loaded = loadedAt.getOrDefault(host, Map.of()).get(canonical);
            // Lists asked for before the load ended do not show it yet: only a later poll tells an eviction.
            if (host.rules().pinned(canonical) && missing
                    && state(host, canonical) == State.LOADED && loaded != null && inventory.syncedAt().isAfter(loaded)) {
                if (evictedTooOften(host, canonical)) {
                    states.computeIfAbsent(host, h -> new ConcurrentHashMap<>()).put(canonical, State.FAILED);
                    LOG.atWarn().addKeyValue("host", host.name()).addKeyValue("model", name)
                            .addKeyValue("evictions", MAX_EVICTIONS).addKeyValue("within", EVICTION_WINDOW)
                            .log("pinned model evicted again and again: not loaded again until the host comes back"
                                    + " or a reload changes it");
                    continue;
                }
                LOG.atInfo().addKeyValue("host", host.name()).addKeyValue("model", name)
                        .log("pinned model no longer loaded: loading it again");
                load(host, name, canonical);
            }
        }
    }

    /** Loads every warm model of {@code host} (it came up, or a reload changed its settings), failed ones included. */
    public void warm(Host host) {
        if (host.retired()) {
            return;
        }
        states.keySet().removeIf(Host::retired);
        loadedAt.keySet().removeIf(Host::retired);
        evictions.keySet().removeIf(Host::retired);
        deferred.keySet().removeIf(Host::retired);
        // Back from being down, or changed by a reload: its evictions start afresh.
        evictions.remove(host);
        Map<String, State> mine = states.computeIfAbsent(host, h -> new ConcurrentHashMap<>());
        // A failure is retried once per recovery, never in a loop.
        mine.replaceAll((model, state) -> state == State.FAILED ? State.LOADED : state);
        for (String name : host.rules().warm()) {
            load(host, name, ModelNames.normalise(name));
        }
    }

    /** Where the last load of {@code canonicalModel} on {@code host} stands; null when none was sent. */
    public State state(Host host, String canonicalModel) {
        Map<String, State> mine = states.get(host);
        return mine == null ? null : mine.get(canonicalModel);
    }

    /** Counts an eviction of {@code canonical} on {@code host}; true when it makes {@value #MAX_EVICTIONS} in the window. */
    private boolean evictedTooOften(Host host, String canonical) {
        Instant now = Instant.now();
        Deque<Instant> seen = evictions.computeIfAbsent(host, h -> new ConcurrentHashMap<>())
                .computeIfAbsent(canonical, m -> new ArrayDeque<>());
        synchronized (seen) {
            seen.addLast(now);
            while (seen.peekFirst().isBefore(now.minus(EVICTION_WINDOW))) {
                seen.removeFirst();
            }
            if (seen.size() < MAX_EVICTIONS) {
                return false;
            }
            seen.clear();
            return true;
        }
    }

    /** Requests of the model run on the host now, or the host is at the model's cap: a load would run beside them. */
    private boolean busy(Host host, String canonical) {
        int running = pool.inFlight(host, canonical);
        int cap = host.rules().maxConcurrent(canonical);
        return running > 0 || cap > 0 && running >= cap;
    }

    private void load(Host host, String name, String canonical) {
        if (busy(host, canonical)) {
            deferred.computeIfAbsent(host, h -> ConcurrentHashMap.newKeySet()).add(canonical);
            return;
        }
        Map<String, State> mine = states.computeIfAbsent(host, h -> new ConcurrentHashMap<>());
        State before = mine.get(canonical);
        if (before == State.LOADING || before == State.FAILED
                || (before == null ? mine.putIfAbsent(canonical, State.LOADING) != null
                        : !mine.replace(canonical, before, State.LOADING))) {
            return;
        }
        Object keep = host.rules().pinned(canonical) ? (Object) (-1L) : keepAlive.get().jsonValue();
        String keepField = keep == null ? ""
                : ",\"keep_alive\":" + (keep instanceof Long ? keep.toString() : ErrorResponses.quote(keep.toString()));
        byte[] body = ("{\"model\":" + ErrorResponses.quote(name) + keepField + "}").getBytes(StandardCharsets.UTF_8);
        monitor.post(host, "/api/generate", body, idleTimeout.get()).thenCompose(fetched -> {
            if (fetched.status() == 400 && fetched.body() != null
                    && new String(fetched.body(), StandardCharsets.UTF_8).contains(NO_GENERATE)) {
                return monitor.post(host, "/api/embed", body, idleTimeout.get());
            }
            return CompletableFuture.completedFuture(fetched);
        }).whenComplete((fetched, x) -> {
            if (x == null && fetched.ok()) {
                loadedAt.computeIfAbsent(host, h -> new ConcurrentHashMap<>()).put(canonical, Instant.now());
                mine.put(canonical, State.LOADED);
                LOG.atInfo().addKeyValue("host", host.name()).addKeyValue("model", name)
                        .addKeyValue("keep_alive", keep == null ? "default" : keep.toString()).log("model loaded");
                // The inventory shows it at once rather than at the next poll.
                monitor.sync(host);
            } else {
                mine.put(canonical, State.FAILED);
                String why = x != null ? FleetMonitor.describe(x) : fetched.failure() != null
                        ? FleetMonitor.describe(fetched.failure()) : "answered " + fetched.status();
                LOG.atWarn().addKeyValue("host", host.name()).addKeyValue("model", name).addKeyValue("reason", why)
                        .log("model could not be loaded; not retried until the host comes back or a reload");
            }
        });
    }
}
