package dev.oqp.queue.coordination;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

import dev.oqp.queue.routing.Host;
import dev.oqp.queue.routing.SlotPool;

/**
 * The leases this replica holds in Valkey, from the moment its request takes its local slot to its release: renewed
 * in one script call every lease / 3 (with the loading marks of cold grants), adopted back after an outage, moved
 * with a failover, given back at release. {@link SharedSlots} wins them; this keeps them.
 */
final class HeldLeases {
    /**
     * A lease of this replica: its id and the host and client sets it is in; {@code model} names its (host, model)
     * set ("" when the host has no cap for the model: no such set); {@code requested} is the request's model (null
     * for none) and {@code loading} whether it is a cold grant whose loading mark this replica renews.
     */
    record Held(String id, String host, String client, String model, String requested, boolean loading) {
        /** The script arguments that name this lease's sets: id, host, client, model. */
        void addTo(List<String> args) {
            args.add(id);
            args.add(host);
            args.add(client);
            args.add(model);
        }

        Held notLoading() {
            return new Held(id, host, client, model, requested, false);
        }
    }

    private final SlotPool pool;
    private final Coordination coordination;
    private final Backend backend;
    private final Map<String, Held> held = new ConcurrentHashMap<>();

    HeldLeases(SlotPool pool, Coordination coordination) {
        this.pool = pool;
        this.coordination = coordination;
        this.backend = coordination.backend();
    }

    /** How many are held now. */
    int size() {
        return held.size();
    }

    /** Every lease held now. */
    List<Held> all() {
        return new ArrayList<>(held.values());
    }

    /**
     * Records a lease this replica now holds; a failover of it moves its shared slots ({@link #moved}). Its release
     * must run {@link #released}.
     */
    void track(Held h, SlotPool.HostLease lease) {
        held.put(h.id(), h);
        lease.onMove(to -> moved(h.id(), to));
    }

    /** The lease's request ended: it is given back in Valkey (idempotent: a second call finds nothing). */
    void released(String id) {
        Held h = held.remove(id);
        if (h != null) {
            releaseShared(h);
        }
    }

    /**
     * A failover moved a running lease to {@code to}: its shared slots move with it (same expiry, no cap check: a
     * failover over-commits one slot as alone), so the other replicas count the request where it runs: its host
     * slot, and its (host, model) slot when either host caps the model. While degraded only the record moves; the
     * re-entry adopts it on the new host.
     */
    private void moved(String id, Host to) {
        Held[] from = new Held[1];
        held.computeIfPresent(id, (k, old) -> {
            from[0] = old;
            String model = old.requested() != null && to.rules().maxConcurrent(old.requested()) > 0
                    ? old.requested() : "";
            // The loading mark names the first host: this request no longer loads the model there.
            return new Held(old.id(), to.name(), old.client(), model, old.requested(), false);
        });
        Held before = from[0];
        if (before == null || before.host().equals(to.name()) || coordination.degraded()) {
            return;
        }
        String model = before.requested() == null ? "" : before.requested();
        boolean cappedThere = model.length() > 0 && to.rules().maxConcurrent(model) > 0;
        // Sent before the request goes on, so on the one connection it runs before the lease's release.
        backend.run(Backend.MOVE, new String[] {backend.prefix + "global", backend.prefix + "host:" + before.host(),
            backend.prefix + "host:" + to.name(), hostModelKey(backend, before.host(), model),
            hostModelKey(backend, to.name(), model)},
                id, backend.freedChannel(), coordination.replicaId(), before.model().isEmpty() ? "0" : "1",
                cappedThere ? "1" : "0").whenComplete((r, failure) -> {
                    if (failure != null) {
                        coordination.failed(failure);
                    }
                });
    }

    /** The (host, model) set of the per-model cap: host names have no colon, so the key reads back unambiguously. */
    static String hostModelKey(Backend backend, String host, String model) {
        return backend.prefix + "host-model:" + host + ":" + model;
    }

    /** Gives a lease back in Valkey (a grant not used, or a lease that ended). */
    void releaseShared(Held h) {
        String[] keys = h.model().isEmpty()
                ? new String[] {backend.prefix + "global", backend.prefix + "host:" + h.host(),
                    backend.prefix + "client:" + h.client()}
                : new String[] {backend.prefix + "global", backend.prefix + "host:" + h.host(),
                    backend.prefix + "client:" + h.client(), hostModelKey(backend, h.host(), h.model())};
        backend.run(Backend.RELEASE, keys, h.id(), backend.freedChannel(), coordination.replicaId())
                .whenComplete((r, failure) -> {
                    if (failure != null) {
                        // Not in Valkey, or it expires there one lease after its last renewal.
                        coordination.failed(failure);
                    }
                });
    }

    /** One script call renews every lease this replica holds (about every lease / 3). */
    void renewAll() {
        if (!coordination.degraded() || coordination.reentering()) {
            List<Held> all = new ArrayList<>(held.values());
            renew("renew", all).whenComplete((missing, failure) -> {
                if (failure != null) {
                    coordination.failed(failure);
                    return;
                }
                // A lease released after the renewal listed it, its release run first, is missing for that
                // reason alone: only a lease still held here and missing means the backend lost it.
                long lost = missing instanceof List<?> ids ? ids.stream().filter(held::containsKey).count() : 0;
                if (lost > 0) {
                    // Leases this replica holds are gone from Valkey (restart, failover, flush, eviction).
                    coordination.lost(lost + " running lease(s) missing at renewal");
                }
            });
            renewLoadingMarks();
        }
    }

    /**
     * Keeps the loading marks of this replica's cold grants alive while their host loads the model (a load can
     * outlast the mark's own life), until this replica's inventory shows the model in memory there; a mark another
     * grant has moved to another host meanwhile is left alone (touch.lua).
     */
    private void renewLoadingMarks() {
        List<String> keys = new ArrayList<>();
        List<String> args = new ArrayList<>(List.of(Long.toString(coordination.loadingMark().toMillis())));
        for (Held h : held.values()) {
            if (!h.loading()) {
                continue;
            }
            if (pool.loaded(h.host(), h.requested())) {
                held.computeIfPresent(h.id(), (k, old) -> old.notLoading());
            } else {
                keys.add(backend.prefix + "loading:" + h.requested());
                args.add(h.host());
            }
        }
        if (!keys.isEmpty()) {
            backend.run(Backend.TOUCH, keys.toArray(String[]::new), args.toArray(String[]::new))
                    .whenComplete((r, failure) -> {
                        if (failure != null) {
                            coordination.failed(failure);
                        }
                    });
        }
    }

    /** Re-entry: every running lease of this replica, also those taken while degraded, is put (back) in Valkey. */
    CompletableFuture<?> adoptAll() {
        return renew("adopt", new ArrayList<>(held.values()));
    }

    private CompletableFuture<?> renew(String mode, List<Held> all) {
        if (all.isEmpty()) {
            return CompletableFuture.completedFuture(List.of());
        }
        List<String> args = new ArrayList<>(List.of(Long.toString(coordination.config().lease().toMillis()),
                backend.prefix, mode));
        for (Held h : all) {
            h.addTo(args);
        }
        CompletableFuture<Object> renewed = backend.run(Backend.RENEW, new String[] {backend.prefix + "global"},
                args.toArray(String[]::new));
        if (mode.equals("adopt")) {
            // A lease released while the adoption was on its way was put back by it: give it back again.
            renewed.thenRun(() -> all.stream().filter(h -> !held.containsKey(h.id())).forEach(this::releaseShared));
        }
        return renewed;
    }
}
