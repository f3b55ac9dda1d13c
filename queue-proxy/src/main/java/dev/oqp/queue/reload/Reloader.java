package dev.oqp.queue.reload;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.oqp.common.config.ConfigException;
import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.KeyConfig;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.Target;
import dev.oqp.queue.cache.CacheService;
import dev.oqp.queue.cache.EmbeddingCache;
import dev.oqp.queue.metrics.QueueMetrics;
import dev.oqp.queue.routing.Fleet;
import dev.oqp.queue.webhooks.Event;
import dev.oqp.queue.webhooks.Webhooks;
import org.eclipse.jetty.util.component.ContainerLifeCycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reloads the queue proxy's configuration: on SIGHUP, when its file (or a {@code key_file}) changes, or from
 * a test. A new configuration is validated whole and refused, with nothing changed and each problem logged
 * without its value, when it has problems, is empty, turns authentication off, needs TLS the proxy started
 * without, names a cache that cannot be started, or a webhook endpoint the SSRF guard refuses; otherwise the
 * {@link Applier} applies it as one step. Each outcome is published as a webhook event
 * ({@code config.reloaded} with the changed sections, {@code config.reload_failed} with the number of problems).
 * Reloads run one at a time, each reading and applying its file under one lock, so two at once apply in the
 * order they read the file.
 */
public final class Reloader {
    private static final Logger LOG = LoggerFactory.getLogger(Reloader.class);
    private static final Pattern PROBLEM_WITH_VALUE = Pattern.compile("([^\\s:]+(?: \\(from [^)]*\\))?): .*? (\\(expected.*)",
            Pattern.DOTALL);

    /** What a reload changes. */
    public interface Applier {
        /** The configuration in force. */
        OqpConfig config();

        /** The configuration the proxy started with: what the restart-only settings run on. */
        OqpConfig boot();

        /** True when the upstream client was started with TLS. */
        boolean tls();

        /**
         * Applies {@code next}, already validated, as one step; must not fail.
         *
         * @param cacheChanged the embedding cache's settings changed: {@code cache} (started, or null when now
         *                     disabled) replaces the running one
         * @return how the host list changed
         */
        Fleet.Change apply(OqpConfig next, boolean cacheChanged, CacheService cache);
    }

    private final Applier target;
    private final QueueMetrics metrics;
    private final Webhooks webhooks;
    private final Object lock = new Object();
    /** The file a reload reads, and the environment its {@code ${VAR}} read; null on embedded defaults. */
    private volatile Path file;
    private volatile Map<String, String> env = Map.of();

    public Reloader(Applier target, QueueMetrics metrics, Webhooks webhooks) {
        this.target = target;
        this.metrics = metrics;
        this.webhooks = webhooks;
    }

    /**
     * Reloads {@code file} from now on when it or a {@code key_file} changes (watched, debounced, the watcher a
     * bean of {@code server}, stopped with it) and on {@link #reloadFile()}; {@code env} is what its {@code ${VAR}}
     * read. A watcher that cannot start is logged: SIGHUP still reloads.
     */
    public void watch(Path file, Map<String, String> env, ContainerLifeCycle server) {
        this.file = file;
        this.env = Map.copyOf(env);
        ConfigWatcher watcher = new ConfigWatcher(file, () -> target.config().auth().keys().stream()
                .map(KeyConfig::keyFile).filter(Objects::nonNull).toList(), this::reloadFile);
        server.addBean(watcher, true);
        try {
            watcher.start();
        } catch (Exception e) {
            LOG.atWarn().addKeyValue("reason", e.toString())
                    .log("cannot watch the configuration file for changes; SIGHUP still reloads it");
        }
    }

    /** Reloads the file the proxy was started with; problems leave it as it runs. */
    public Reload reloadFile() {
        Path f = file;
        if (f == null) {
            LOG.warn("configuration reload requested, but the proxy runs on its embedded defaults: nothing to reload");
            return new Reload(false, List.of("no configuration file"), List.of(), List.of());
        }
        synchronized (lock) {
            List<String> problems;
            OqpConfig next = null;
            try {
                if (blank(f)) {
                    problems = List.of("the file is empty (or only comments): a reload never applies one (it would mean"
                            + " every default); restart to run on the defaults");
                } else {
                    next = ConfigLoader.load(f, Target.QUEUE_PROXY, env);
                    problems = List.of();
                }
            } catch (ConfigException e) {
                problems = e.problems();
            } catch (IOException | RuntimeException e) {
                problems = List.of("cannot read the file (" + e.getClass().getSimpleName() + ")");
            }
            if (next == null) {
                return refused(problems);
            }
            return reload(next);
        }
    }

    /**
     * Applies a new, already validated configuration as one step. Keys, clients, scopes, ceilings, caps, model
     * allow-lists, rate limits, queue limits, the host list and host slots, routing, the embedding cache,
     * {@code keep_alive}, {@code admin}, logging level and format, {@code trusted_proxies} and
     * {@code drain_timeout} change for requests from now on; requests in flight and queued keep the client and
     * host they have. What {@link ConfigDiff} calls restart-only keeps its running value and is reported.
     */
    public Reload reload(OqpConfig next) {
        synchronized (lock) {
            OqpConfig old = target.config();
            String refusal = null;
            boolean needsTls = next.ollama().hosts().stream().anyMatch(h -> "https".equals(h.url().getScheme()));
            if (needsTls && !target.tls()) {
                refusal = "ollama.hosts: an https host needs a restart (the upstream client was started without TLS)";
            } else if (old.auth().enabled() && !next.auth().enabled()) {
                // Most often a truncated or half-written file (an empty file is valid: all defaults, auth off).
                refusal = "auth: a reload cannot turn authentication off (an empty or truncated file would open the"
                        + " proxy to anyone); restart to do that";
            }
            if (refusal != null) {
                return refused(List.of(refusal + "; nothing was changed"));
            }
            List<String> unsafe = Webhooks.check(next.webhooks(), warning -> LOG.warn("configuration reload: " + warning));
            if (!unsafe.isEmpty()) {
                return refused(unsafe);
            }
            List<String> restart = ConfigDiff.restartNeeded(target.boot(), next);
            List<String> changed = ConfigDiff.changedSections(old, next);
            // What can fail is built first, before anything is swapped: a failure leaves everything as it was.
            boolean cacheChanged = !next.embeddingCache().equals(old.embeddingCache());
            CacheService fresh = null;
            if (cacheChanged && next.embeddingCache().enabled()) {
                try {
                    fresh = new CacheService(next.embeddingCache(), EmbeddingCache.create(next.embeddingCache()), metrics);
                    fresh.backend().start();
                } catch (RuntimeException e) {
                    if (fresh != null) {
                        fresh.close();
                    }
                    return refused(List.of("embedding_cache: the new cache could not be started ("
                            + e.getClass().getSimpleName() + "); nothing was changed"));
                }
            }
            Fleet.Change hosts = target.apply(next, cacheChanged, fresh);
            metrics.configReloads.labelValues("success").inc();
            var line = LOG.atInfo().addKeyValue("changed", changed.isEmpty() ? "nothing" : String.join(", ", changed));
            if (hosts.any()) {
                line = line.addKeyValue("hosts_added", String.join(",", hosts.added()))
                        .addKeyValue("hosts_removed", String.join(",", hosts.removed()))
                        .addKeyValue("hosts_changed", String.join(",", hosts.changed()));
            }
            line.log("configuration reloaded");
            if (!restart.isEmpty()) {
                LOG.atWarn().addKeyValue("settings", String.join(", ", restart))
                        .log("configuration reload: these settings differ from what runs and need a restart; they keep"
                                + " their running values");
            }
            webhooks.publish(Event.configReloaded(changed));
            return new Reload(true, List.of(), restart, changed);
        }
    }

    /** A refused reload: counted, each problem logged (without its value), nothing changed. */
    private Reload refused(List<String> problems) {
        metrics.configReloads.labelValues("error").inc();
        Path f = file;
        for (String problem : problems) {
            // Values are not logged (a misplaced key would be): --check-config shows them on a terminal.
            LOG.atError().addKeyValue("problem", explained(withoutValue(problem)))
                    .log("configuration reload: problem" + (f == null ? "" : " in " + f));
        }
        LOG.atError().addKeyValue("problems", problems.size()).log("configuration reload refused: the proxy keeps"
                + " running on its current configuration (--check-config shows the values)");
        webhooks.publish(Event.configReloadFailed(problems.size()));
        return new Reload(false, problems, List.of(), List.of());
    }

    private static boolean blank(Path file) throws IOException {
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            String t = line.strip();
            if (!t.isEmpty() && !t.startsWith("#") && !t.equals("---") && !t.equals("...")) {
                return false;
            }
        }
        return true;
    }

    /**
     * A problem line as logged: {@code path: value (expected …)} without its value. An unknown key keeps the
     * words "unknown key" (the key is in the path; there is no value to hide).
     */
    static String withoutValue(String problem) {
        Matcher m = PROBLEM_WITH_VALUE.matcher(problem);
        if (!m.matches() || problem.startsWith(m.group(1) + ": unknown key")) {
            return problem;
        }
        return m.group(1) + ": (value not shown) " + m.group(2);
    }

    /**
     * A variable the file now needs that the process does not have: the environment is the one the process
     * started with, so exporting it in a shell afterwards changes nothing. Say so.
     */
    static String explained(String problem) {
        return problem.contains(": environment variable ") && problem.endsWith(" is not set")
                ? problem + " (a reload reads the environment the process started with: restart it with the variable"
                        + " set, or use key_file, which a reload reads again)"
                : problem;
    }
}
