package dev.oqp.queue.routing;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.oqp.common.config.HostConfig;
import dev.oqp.common.config.ModelConfig;
import dev.oqp.queue.auth.ModelGlobs;

/**
 * The per-model settings in force on one host: its own {@code ollama.hosts[].models} entries, by canonical name
 * ({@link ModelNames}), over the fleet's {@code ollama.models} globs (the first glob that matches, the allow-list's
 * glob rule); and the models kept warm there ({@code preload} and pinned ones). Immutable; a reload builds new ones.
 */
public final class ModelRules {
    static final ModelRules NONE = new ModelRules(Map.of(), Map.of(), List.of(), List.of());

    private final Map<String, ModelConfig> byName;
    private final Map<String, ModelConfig> globs;
    private final List<String> warm;
    private final List<String> pinned;

    private ModelRules(Map<String, ModelConfig> byName, Map<String, ModelConfig> globs, List<String> warm,
                       List<String> pinned) {
        this.byName = byName;
        this.globs = globs;
        this.warm = warm;
        this.pinned = pinned;
    }

    /** The rules of {@code host} under the fleet's {@code globs} (glob to settings, in file order). */
    static ModelRules of(HostConfig host, Map<String, ModelConfig> globs) {
        Map<String, ModelConfig> byName = new HashMap<>();
        Map<String, String> spelled = new LinkedHashMap<>();
        List<String> pinned = new ArrayList<>();
        for (String name : host.preload()) {
            spelled.putIfAbsent(ModelNames.normalise(name), name);
        }
        host.models().forEach((name, settings) -> {
            String canonical = ModelNames.normalise(name);
            byName.put(canonical, settings);
            if (settings.pin()) {
                pinned.add(canonical);
                spelled.putIfAbsent(canonical, name);
            }
        });
        if (byName.isEmpty() && globs.isEmpty() && spelled.isEmpty()) {
            return NONE;
        }
        return new ModelRules(Map.copyOf(byName), new LinkedHashMap<>(globs), List.copyOf(spelled.values()),
                List.copyOf(pinned));
    }

    /**
     * The requests of {@code canonicalModel} this host runs at once: its own entry's {@code max_concurrent}, else
     * the first matching glob's; 0 = no cap.
     */
    public int maxConcurrent(String canonicalModel) {
        if (canonicalModel == null) {
            return 0;
        }
        ModelConfig own = byName.get(canonicalModel);
        if (own != null && own.maxConcurrent() > 0) {
            return own.maxConcurrent();
        }
        for (Map.Entry<String, ModelConfig> glob : globs.entrySet()) {
            if (ModelGlobs.matches(glob.getKey(), canonicalModel)) {
                return glob.getValue().maxConcurrent();
            }
        }
        return 0;
    }

    /** True when {@code canonicalModel} is pinned on this host (kept resident with {@code keep_alive: -1}). */
    public boolean pinned(String canonicalModel) {
        ModelConfig own = canonicalModel == null ? null : byName.get(canonicalModel);
        return own != null && own.pin();
    }

    /** The canonical names of the pinned models. */
    public List<String> pinned() {
        return pinned;
    }

    /**
     * The models loaded at start and when the host answers again: {@code preload}, then the pinned ones not in it,
     * as written in the configuration (one per model).
     */
    public List<String> warm() {
        return warm;
    }
}
