package dev.oqp.queue.routing;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import dev.oqp.common.config.HostConfig;
import dev.oqp.common.config.ModelConfig;

/**
 * The Ollama hosts of {@code ollama.hosts}, in config order, with their health and inventories
 * ({@link Host}). Health changes go through here so that each is reported once to the listeners (log line,
 * metric, the queue re-trying its waiting requests, or answering them when no host is left).
 */
public final class Fleet {

    /** Told about every health change, after it happened, on the thread that made it; must not block. */
    public interface Listener {
        void healthChanged(Host host, Host.Health from, Host.Health to, String reason);

        /** The host's installed or loaded models changed (a waiting request may be able to go there now). */
        default void inventoryChanged(Host host) {
        }

        /** A poll of the host's model lists answered, whether or not they changed (after the inventory is replaced). */
        default void inventoryPolled(Host host) {
        }
    }

    private volatile List<Host> hosts;
    private volatile Map<String, Host> byName;
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();

    public Fleet(List<HostConfig> configs) {
        this(configs, Map.of());
    }

    /** @param modelGlobs {@code ollama.models}: fleet-wide per-model settings by glob */
    public Fleet(List<HostConfig> configs, Map<String, ModelConfig> modelGlobs) {
        List<Host> list = new ArrayList<>();
        Map<String, Host> names = new LinkedHashMap<>();
        for (HostConfig config : configs) {
            Host host = new Host(config, list.size(), ModelRules.of(config, modelGlobs));
            list.add(host);
            names.put(config.name(), host);
        }
        this.hosts = List.copyOf(list);
        this.byName = names;
    }

    /** What a reload changed in the host list. */
    public record Change(List<String> added, List<String> removed, List<String> changed) {
        public boolean any() {
            return !added.isEmpty() || !removed.isEmpty() || !changed.isEmpty();
        }
    }

    /**
     * Takes a new host list (a reload): a host whose name and URL are unchanged is kept, with its health and
     * inventory, and takes the new slots, weight and headers; a new name (or a new URL) is a new host, checked
     * before it takes requests like any host at start; a host no longer listed is retired: it takes no new
     * request and its requests in flight finish. Requests keep the {@link Host} they were given.
     */
    public synchronized Change reconfigure(List<HostConfig> configs) {
        return reconfigure(configs, Map.of());
    }

    /** {@link #reconfigure(List)} with the fleet's new {@code ollama.models} globs. */
    public synchronized Change reconfigure(List<HostConfig> configs, Map<String, ModelConfig> modelGlobs) {
        List<Host> list = new ArrayList<>();
        Map<String, Host> names = new LinkedHashMap<>();
        List<String> added = new ArrayList<>();
        List<String> changed = new ArrayList<>();
        for (HostConfig config : configs) {
            Host old = byName.get(config.name());
            Host host;
            if (old != null && old.config().url().equals(config.url())) {
                if (!old.config().equals(config)) {
                    changed.add(config.name());
                }
                old.reconfigure(config, list.size(), ModelRules.of(config, modelGlobs));
                host = old;
            } else {
                host = new Host(config, list.size(), ModelRules.of(config, modelGlobs));
                (old == null ? added : changed).add(config.name());
                if (old != null) {
                    old.retire();
                }
            }
            list.add(host);
            names.put(config.name(), host);
        }
        List<String> removed = new ArrayList<>();
        for (Host old : hosts) {
            if (!names.containsKey(old.name())) {
                old.retire();
                removed.add(old.name());
            }
        }
        this.hosts = List.copyOf(list);
        this.byName = names;
        return new Change(List.copyOf(added), List.copyOf(removed), List.copyOf(changed));
    }

    public void addListener(Listener listener) {
        listeners.add(listener);
    }

    /** Every host, in config order. */
    public List<Host> hosts() {
        return hosts;
    }

    /** The host with this configured name, or null. */
    public Host host(String name) {
        return byName.get(name);
    }

    /** True when at least one host may take requests (healthy, or not checked yet). */
    public boolean anyUsable() {
        for (Host host : hosts) {
            if (host.usable()) {
                return true;
            }
        }
        return false;
    }

    /** Hosts whose last health check succeeded. */
    public int healthyCount() {
        int n = 0;
        for (Host host : hosts) {
            if (host.health() == Host.Health.HEALTHY) {
                n++;
            }
        }
        return n;
    }

    /** The first usable host in config order, or null. */
    public Host firstUsable() {
        for (Host host : hosts) {
            if (host.usable()) {
                return host;
            }
        }
        return null;
    }

    /** True when some host's last model poll listed {@code canonicalModel} as installed. */
    public boolean installedAnywhere(String canonicalModel) {
        for (Host host : hosts) {
            if (canonicalModel != null && host.inventory().installed().contains(canonicalModel)) {
                return true;
            }
        }
        return false;
    }

    /**
     * True when the model is known to be on no usable host: every usable host has a synced inventory without
     * it (so {@code fallback: reject} may answer 404 before queueing). False while any usable host is unsynced.
     */
    public boolean knownNowhere(String canonicalModel) {
        boolean anyUsable = false;
        for (Host host : hosts) {
            if (host.usable()) {
                anyUsable = true;
                if (host.level(canonicalModel) != Host.Level.ABSENT) {
                    return false;
                }
            }
        }
        return anyUsable;
    }

    /**
     * The names of the unhealthy hosts that have the model, when no usable host can serve it (installed, loaded
     * or not synced); else an empty list. Such a request is answered 503 rather than sent to a host without the
     * model or told the model does not exist.
     */
    public List<String> onlyOnUnhealthy(String canonicalModel) {
        List<String> down = new ArrayList<>();
        for (Host host : hosts) {
            Host.Level level = host.level(canonicalModel);
            if (host.usable()) {
                if (level != Host.Level.ABSENT) {
                    return List.of();
                }
            } else if (level.compareTo(Host.Level.INSTALLED) >= 0) {
                down.add(host.name());
            }
        }
        return down;
    }

    /** A health check answered: the host is healthy. */
    public void markHealthy(Host host) {
        change(host, Host.Health.HEALTHY, Instant.now(), "health check answered");
    }

    /** A health check failed, or a request could not connect: the host takes no requests until a check answers. */
    public void markUnhealthy(Host host, boolean byCheck, String reason) {
        change(host, Host.Health.UNHEALTHY, byCheck ? Instant.now() : null, reason);
    }

    /** Replaces the host's inventory with a fresh poll; listeners hear of it when a model list changed. */
    public void inventory(Host host, Host.Inventory next) {
        Host.Inventory before = host.inventory();
        host.inventory(next);
        if (before.syncedAt() == null || !before.installed().equals(next.installed())
                || !before.loaded().keySet().equals(next.loaded().keySet())) {
            // A first sync also counts: models the host lacks turn from "not synced" to absent.
            for (Listener listener : listeners) {
                listener.inventoryChanged(host);
            }
        }
        for (Listener listener : listeners) {
            listener.inventoryPolled(host);
        }
    }

    /** A request succeeded: the model is loaded there. */
    public void markLoaded(Host host, String canonicalModel, String spelledAs) {
        host.markLoaded(canonicalModel, spelledAs);
    }

    /** The host answered 404 for the model on an inference route: drop it there until the next poll. */
    public void forget(Host host, String canonicalModel) {
        host.forget(canonicalModel);
    }

    private void change(Host host, Host.Health to, Instant checkedAt, String reason) {
        Host.Health from = host.health(to, checkedAt);
        if (from != null) {
            for (Listener listener : listeners) {
                listener.healthChanged(host, from, to, reason);
            }
        }
    }
}
