package dev.oqp.queue.routing;

import java.util.HashMap;
import java.util.Map;

/**
 * Requests in flight per (host, model) for the per-model caps ({@code max_concurrent} of {@link ModelRules}).
 * Not thread-safe: guarded by the {@link SlotPool}'s monitor, like the host slots.
 */
final class ModelSlots {
    private final Map<Host, Map<String, Integer>> inUse = new HashMap<>();

    /** Requests of {@code model} in flight on {@code host}. */
    int inUse(Host host, String model) {
        Map<String, Integer> models = inUse.get(host);
        return models == null || model == null ? 0 : models.getOrDefault(model, 0);
    }

    /** True when {@code host} runs {@code cap} requests of {@code model} already; a cap of 0 is none. */
    boolean full(Host host, String model, int cap) {
        return cap > 0 && inUse(host, model) >= cap;
    }

    void take(Host host, String model) {
        if (model != null) {
            inUse.computeIfAbsent(host, h -> new HashMap<>()).merge(model, 1, Integer::sum);
        }
    }

    void release(Host host, String model) {
        Map<String, Integer> models = inUse.get(host);
        if (models == null || model == null) {
            return;
        }
        models.computeIfPresent(model, (m, n) -> n <= 1 ? null : n - 1);
        if (models.isEmpty()) {
            inUse.remove(host);
        }
    }

    /** The models with requests in flight on {@code host}, and how many each (a copy). */
    Map<String, Integer> of(Host host) {
        Map<String, Integer> models = inUse.get(host);
        return models == null ? Map.of() : Map.copyOf(models);
    }
}
