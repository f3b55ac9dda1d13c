package dev.oqp.queue.routing;

import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import dev.oqp.common.config.HostConfig;

/**
 * One Ollama host of the fleet as the proxy knows it: its configuration, its health and its model inventory
 * (what {@code /api/tags} lists as installed and {@code /api/ps} as loaded, by canonical name, see
 * {@link ModelNames}). Health and inventory are immutable values swapped whole, so readers (the slot pool
 * choosing a host, {@code /queue/status}) never lock; writers (the {@link FleetMonitor}, request outcomes)
 * take this object's monitor for the copy.
 */
public final class Host {

    /** What the last check said. A host never checked yet counts as usable: the first request finds out. */
    public enum Health {
        UNKNOWN, HEALTHY, UNHEALTHY;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** How well a host can serve a model, best last: routing prefers the higher level. */
    public enum Level {
        /** The host's inventory is known and lacks the model. */
        ABSENT,
        /** No model list has been read from the host yet. */
        UNSYNCED,
        /** Listed by {@code /api/tags}. */
        INSTALLED,
        /** Listed by {@code /api/ps} (in memory), or served successfully since the last poll. */
        LOADED
    }

    /** A model in memory: name as the host spells it, {@code expires_at} as it sent it, VRAM bytes. */
    public record Loaded(String name, String expiresAt, long sizeVram) {
    }

    /**
     * What a host has: canonical names installed, and loaded (canonical name to details); {@code syncedAt}
     * (when the lists were asked for) null until the first successful read of both lists.
     */
    public record Inventory(Set<String> installed, Map<String, Loaded> loaded, Instant syncedAt) {
        static final Inventory NONE = new Inventory(Set.of(), Map.of(), null);

        public Inventory {
            installed = Set.copyOf(installed);
            loaded = Map.copyOf(loaded);
        }
    }

    private volatile HostConfig config;
    private volatile ModelRules rules;
    private volatile int index;
    /** Removed from the configuration by a reload: takes no new request; its requests in flight finish. */
    private volatile boolean retired;
    /** Requests in flight here; guarded by the {@link SlotPool}'s monitor. */
    int slotsInUse;
    /** Requests the other replicas run here, at the last coordination snapshot (0 alone); guarded by the pool. */
    int othersInFlight;
    /** This host's credit in the slot pool's weighted rotation; guarded by the {@link SlotPool}'s monitor. */
    long credit;
    private volatile Health health = Health.UNKNOWN;
    private volatile Inventory inventory = Inventory.NONE;
    private volatile Instant lastHealthCheck;

    Host(HostConfig config, int index) {
        this(config, index, ModelRules.NONE);
    }

    Host(HostConfig config, int index, ModelRules rules) {
        this.config = config;
        this.index = index;
        this.rules = rules;
    }

    public HostConfig config() {
        return config;
    }

    public String name() {
        return config.name();
    }

    /** Position in config order (of the configuration in force). */
    public int index() {
        return index;
    }

    /** The per-model caps, pins and preloads in force here. */
    public ModelRules rules() {
        return rules;
    }

    /** A reload kept this host (same name and URL) with new slots, weight, headers or model rules, at a new position. */
    void reconfigure(HostConfig next, int position, ModelRules nextRules) {
        config = next;
        index = position;
        rules = nextRules;
    }

    /** A reload removed this host. */
    void retire() {
        retired = true;
    }

    /** True once a reload removed this host. */
    public boolean retired() {
        return retired;
    }

    public Health health() {
        return health;
    }

    /** False for a host whose last check or request failed to connect, or that a reload removed. */
    public boolean usable() {
        return health != Health.UNHEALTHY && !retired;
    }

    public Inventory inventory() {
        return inventory;
    }

    /** When the last health check answered or failed; null before the first. */
    public Instant lastHealthCheck() {
        return lastHealthCheck;
    }

    /** How well this host can serve {@code canonicalModel} now (null model: {@link Level#INSTALLED}). */
    public Level level(String canonicalModel) {
        Inventory inv = inventory;
        if (canonicalModel == null) {
            return Level.INSTALLED;
        }
        if (inv.loaded.containsKey(canonicalModel)) {
            return Level.LOADED;
        }
        if (inv.installed.contains(canonicalModel)) {
            return Level.INSTALLED;
        }
        return inv.syncedAt == null ? Level.UNSYNCED : Level.ABSENT;
    }

    /** Sets the health; returns the previous one when it changed, else null. */
    synchronized Health health(Health next, Instant checkedAt) {
        if (checkedAt != null) {
            lastHealthCheck = checkedAt;
        }
        Health before = health;
        health = next;
        return before != next ? before : null;
    }

    synchronized void inventory(Inventory next) {
        inventory = next;
    }

    /** A request for the model succeeded here: it is in memory now (until the next poll says otherwise). */
    synchronized void markLoaded(String canonicalModel, String spelledAs) {
        Inventory inv = inventory;
        if (canonicalModel == null || inv.loaded.containsKey(canonicalModel)) {
            return;
        }
        Map<String, Loaded> loaded = new HashMap<>(inv.loaded);
        loaded.put(canonicalModel, new Loaded(spelledAs, null, 0));
        Set<String> installed = new HashSet<>(inv.installed);
        installed.add(canonicalModel);
        inventory = new Inventory(installed, loaded, inv.syncedAt);
    }

    /** The host answered 404 for the model: it does not have it (until the next poll says otherwise). */
    synchronized void forget(String canonicalModel) {
        Inventory inv = inventory;
        if (canonicalModel == null || inv.syncedAt == null
                || !inv.installed.contains(canonicalModel) && !inv.loaded.containsKey(canonicalModel)) {
            return;
        }
        Map<String, Loaded> loaded = new HashMap<>(inv.loaded);
        loaded.remove(canonicalModel);
        Set<String> installed = new HashSet<>(inv.installed);
        installed.remove(canonicalModel);
        inventory = new Inventory(installed, loaded, inv.syncedAt);
    }

    @Override
    public String toString() {
        return "Host[" + config.name() + ", " + health.label() + "]";
    }
}
