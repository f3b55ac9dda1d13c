package dev.oqp.queue.server;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import dev.oqp.common.config.Durations;
import dev.oqp.common.config.HostConfig;
import dev.oqp.common.config.KeyConfig;
import dev.oqp.common.config.ConfigException;
import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.ProxyConfig;
import dev.oqp.common.config.Target;
import dev.oqp.common.config.Scope;
import dev.oqp.common.config.ServiceConfig;
import dev.oqp.common.config.Tier;
import dev.oqp.common.proxy.ClientSettings;
import dev.oqp.common.proxy.Upstream;
import dev.oqp.common.proxy.UpstreamClients;
import dev.oqp.common.server.ConnectorRouter;
import dev.oqp.common.server.HealthHandler;
import dev.oqp.common.server.Launcher;
import dev.oqp.common.server.Servers;
import dev.oqp.queue.auth.AuthWarnings;
import dev.oqp.queue.auth.Client;
import dev.oqp.queue.auth.FailureLimiter;
import dev.oqp.queue.auth.KeyRegistry;
import dev.oqp.queue.cache.CacheService;
import dev.oqp.queue.cache.EmbeddingCache;
import dev.oqp.queue.metrics.QueueMetrics;
import dev.oqp.queue.routing.Fleet;
import dev.oqp.queue.routing.FleetMonitor;
import dev.oqp.queue.routing.Host;
import dev.oqp.queue.routing.SlotPool;
import dev.oqp.queue.scheduler.Scheduler;
import dev.oqp.queue.scheduler.Snapshot;
import dev.oqp.queue.scheduler.Ticks;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.eclipse.jetty.util.component.LifeCycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ollama-queue-proxy server: the main port and one client injection port per {@code services[]} entry,
 * each running the same pipeline ({@link Gate} then {@link Forwarder}) over one shared priority queue, one
 * slot pool and one upstream client.
 *
 * <p>{@link #stop()} (also run on SIGTERM) drains: the ports stop accepting, the queue accepts nothing new
 * (503) and keeps dispatching; requests still queued shortly before {@code proxy.drain_timeout} are answered
 * 503 with {@code Retry-After}; streams in flight may finish until {@code drain_timeout}, then the remaining
 * connections are closed.
 */
public final class QueueProxy implements Launcher.App {
    private static final Logger LOG = LoggerFactory.getLogger(QueueProxy.class);
    /**
     * Client connections open at once. Queued requests hold a connection each and no thread, so this is what
     * bounds the queue's memory; the process needs a file-descriptor limit above it plus the upstream slots.
     */
    static final int MAX_CLIENT_CONNECTIONS = 16_384;
    /** Connections to the hosts: inference is bounded by the slots, metadata and management are not queued. */
    private static final int MAX_UPSTREAM_CONNECTIONS = 4096;
    /** Queued requests are answered this long before {@code drain_timeout} ends, so their 503 gets written. */
    private static final long FLUSH_MARGIN_MILLIS = 500;

    /** The configuration in force: replaced as a whole by {@link #reload}. */
    private volatile OqpConfig config;
    /** The configuration the proxy started with: what the restart-only settings run on. */
    private final OqpConfig boot;
    private final boolean tls;
    private final Pipeline pipeline;
    private final Forwarder forwarder;
    private final Ledger ledger;
    private final List<Port> ports = new ArrayList<>();
    private final Object reloadLock = new Object();
    /** The file a reload reads, and the environment its {@code ${VAR}} read; null on embedded defaults. */
    private volatile Path configFile;
    private volatile Map<String, String> configEnv = Map.of();
    /** How long a cache replaced by a reload stays open for the requests that looked it up. */
    private static final long RETIRED_CACHE_GRACE_SECONDS = 60;
    private final Server server;
    private final ServerConnector mainConnector;
    private final Map<String, ServerConnector> serviceConnectors = new LinkedHashMap<>();
    private final Scheduler scheduler;
    private final SlotPool pool;
    private final Fleet fleet;
    private final QueueMetrics metrics = new QueueMetrics();
    /** The embedding cache, or null when disabled (replaced by a reload that changes its settings). */
    private volatile CacheService cache;
    /** Set once every port is bound: a start that failed stops without the drain and its log lines. */
    private volatile boolean started;

    public QueueProxy(OqpConfig config) {
        this(config, Ticks.SYSTEM);
    }

    QueueProxy(OqpConfig config, Ticks ticks) {
        this.config = config;
        this.boot = config;
        this.server = Servers.newServer("queue-proxy", config.proxy().drainTimeout(), MAX_CLIENT_CONNECTIONS);

        List<HostConfig> hosts = config.ollama().hosts();
        this.fleet = new Fleet(hosts);
        this.pool = new SlotPool(fleet, config.routing(), config.proxy().maxConcurrent(), clientCaps(config));
        ExpiryTimer timer = new ExpiryTimer(server.getScheduler());
        this.scheduler = new Scheduler(config.queue(), ticks, pool, timer);
        timer.attach(scheduler);
        fleet.addListener(new FleetEvents());

        this.tls = hosts.stream().anyMatch(h -> "https".equals(h.url().getScheme()));
        ClientSettings settings = new ClientSettings(config.ollama().connectTimeout(), MAX_UPSTREAM_CONNECTIONS,
                MAX_UPSTREAM_CONNECTIONS, tls, null);
        this.ledger = new Ledger(metrics, config.logging().accessLog());
        FleetMonitor monitor = new FleetMonitor(fleet, UpstreamClients.create(settings, server, "FleetMonitor-client", false),
                server.getScheduler(), config.ollama().healthCheckInterval(), config.ollama().modelSyncInterval());
        this.cache = config.embeddingCache().enabled()
                ? new CacheService(config.embeddingCache(), EmbeddingCache.create(config.embeddingCache()), metrics) : null;
        // The cache in force is connected when the server starts and closed when it has stopped (after the drain).
        server.addBean(new AbstractLifeCycle() {
            @Override
            protected void doStart() {
                CacheService c = cache;
                if (c != null) {
                    c.backend().start();
                }
            }

            @Override
            protected void doStop() {
                CacheService c = cache;
                if (c != null) {
                    c.close();
                }
            }
        }, true);
        dev.oqp.queue.limits.RateLimiter rates = new dev.oqp.queue.limits.RateLimiter(System::nanoTime,
                java.time.Clock.systemUTC());
        dev.oqp.queue.limits.UsageLedger usage = new dev.oqp.queue.limits.UsageLedger(java.time.Clock.systemUTC());
        this.forwarder = new Forwarder(settings, metrics, ledger, fleet, pool, monitor,
                config.routing().protectColdLoads(), rates, usage);
        forwarder.setServer(server);
        server.addBean(forwarder, true);
        server.addBean(monitor, true);
        this.pipeline = new Pipeline(config, KeyRegistry.from(config.auth()), new FailureLimiter(config.auth().rateLimit()),
                pool, scheduler, forwarder, metrics, ledger, server.getThreadPool(), fleet, monitor, cache, rates, usage,
                () -> server.isStopping() || server.isStopped());

        ConnectorRouter router = new ConnectorRouter();
        mainConnector = Servers.addConnector(server, "proxy", config.proxy().host(), config.proxy().port());
        Port mainPort = new Port("proxy", config.proxy().host(), null, config.proxy().maxBody(),
                config.ollama().requestTimeout(), null);
        ports.add(mainPort);
        router.route(mainConnector, new HealthHandler(new Gate(mainPort, pipeline)));
        for (ServiceConfig service : config.services()) {
            ServerConnector connector = Servers.addConnector(server, service.name(), service.bind(), service.listen());
            Port port = new Port(service.name(), config.proxy().host(), service, service.maxBody(), service.timeout(),
                    serviceClient(config, service));
            ports.add(port);
            router.route(connector, new HealthHandler(new Gate(port, pipeline)));
            serviceConnectors.put(service.name(), connector);
        }
        server.setHandler(new GracefulHandler(router));
        registerGauges();
        server.addEventListener(new LifeCycle.Listener() {
            @Override
            public void lifeCycleStopping(LifeCycle event) {
                if (started) {
                    drainOnStop();
                }
            }

            @Override
            public void lifeCycleStopped(LifeCycle event) {
                if (started) {
                    LOG.info("stopped");
                }
            }

            @Override
            public void lifeCycleFailure(LifeCycle event, Throwable cause) {
                if (dev.oqp.common.proxy.ProxyErrors.hasCause(cause, TimeoutException.class)) {
                    LOG.atWarn().addKeyValue("drain_timeout", Durations.format(config.proxy().drainTimeout()))
                            .log("drain timeout expired: exchanges still in progress were cut; stopped");
                }
            }
        });
    }

    /** Health changes: logged once, counted, and the queue told (a host back may serve what waits; none left). */
    private final class FleetEvents implements Fleet.Listener {
        @Override
        public void healthChanged(Host host, Host.Health from, Host.Health to, String reason) {
            metrics.hostHealthChanges.labelValues(host.name(), to.label()).inc();
            if (to == Host.Health.HEALTHY) {
                if (from == Host.Health.UNHEALTHY) {
                    LOG.atInfo().addKeyValue("host", host.name()).addKeyValue("reason", reason).log("host healthy again");
                } else {
                    LOG.atInfo().addKeyValue("host", host.name()).log("host healthy");
                }
                scheduler.capacityChanged();
                return;
            }
            LOG.atWarn().addKeyValue("host", host.name()).addKeyValue("reason", reason)
                    .log("host unhealthy: no requests go to it until a health check answers");
            if (!fleet.anyUsable()) {
                int answered = scheduler.flush(null);
                if (answered > 0) {
                    LOG.atWarn().addKeyValue("answered", answered)
                            .log("no healthy host left: queued requests answered 503 with Retry-After");
                }
            }
        }

        @Override
        public void inventoryChanged(Host host) {
            scheduler.capacityChanged();
        }
    }

    /** Each client's {@code max_concurrent} under {@code config} (0 = no cap). */
    private static java.util.function.ToIntFunction<String> clientCaps(OqpConfig config) {
        Map<String, Integer> caps = new HashMap<>();
        for (KeyConfig key : config.auth().keys()) {
            caps.put(key.clientId(), key.maxConcurrent());
        }
        return id -> caps.getOrDefault(id, 0);
    }

    /** Who a request on the service's port is when its headers carry no known key. */
    private static Client serviceClient(OqpConfig config, ServiceConfig service) {
        if (service.client() == null) {
            return null;
        }
        if (!config.auth().enabled()) {
            // No keys: the service's client id still separates its requests for fairness; nothing is capped.
            return new Client(service.client(), Scope.MANAGEMENT, Tier.HIGH, 0, List.of());
        }
        for (KeyConfig key : config.auth().keys()) {
            if (key.clientId().equals(service.client())) {
                return Client.of(key);
            }
        }
        // The loader refuses a client that names no key; never reached with a loaded configuration.
        throw new IllegalArgumentException("services " + service.name() + ": client " + service.client()
                + " is not a client_id of auth.keys");
    }

    private void registerGauges() {
        long startNanos = System.nanoTime();
        metrics.gauge("oqp_queue_depth", "Requests waiting in the queue, by the tier they were admitted into",
                new String[] {"tier"}, cb -> {
                    Snapshot s = scheduler.snapshot();
                    for (Tier t : Tier.values()) {
                        cb.call(s.depth().get(t), t.yamlName());
                    }
                });
        metrics.gauge("oqp_concurrency_active", "Requests in flight upstream across the fleet", new String[0],
                cb -> cb.call(pool.inFlight()));
        metrics.gauge("oqp_host_inflight", "Requests in flight on each host", new String[] {"host"}, cb -> {
            for (Host host : fleet.hosts()) {
                cb.call(pool.inFlight(host), host.name());
            }
        });
        metrics.gauge("oqp_host_healthy", "1 when the host's last health check answered, else 0", new String[] {"host"},
                cb -> {
                    for (Host host : fleet.hosts()) {
                        cb.call(host.health() == Host.Health.HEALTHY ? 1 : 0, host.name());
                    }
                });
        metrics.gauge("oqp_host_models_installed", "Models the host's /api/tags listed at the last poll",
                new String[] {"host"}, cb -> {
                    for (Host host : fleet.hosts()) {
                        cb.call(host.inventory().installed().size(), host.name());
                    }
                });
        metrics.gauge("oqp_host_models_loaded", "Models in the host's memory (/api/ps at the last poll, plus models"
                + " served since)", new String[] {"host"}, cb -> {
                    for (Host host : fleet.hosts()) {
                        cb.call(host.inventory().loaded().size(), host.name());
                    }
                });
        metrics.gauge("oqp_client_inflight", "Requests in flight upstream for each client", new String[] {"client"},
                cb -> {
                    OqpConfig c = config;
                    Set<String> clients = new LinkedHashSet<>();
                    c.auth().keys().forEach(k -> clients.add(k.clientId()));
                    c.services().forEach(s -> {
                        if (s.client() != null) {
                            clients.add(s.client());
                        }
                    });
                    if (!c.auth().enabled()) {
                        clients.add(Client.ANONYMOUS.clientId());
                    }
                    for (String client : clients) {
                        cb.call(pool.clientInFlight(client), client);
                    }
                });
        metrics.gauge("oqp_uptime_seconds", "Seconds since the proxy started", new String[0],
                cb -> cb.call((System.nanoTime() - startNanos) / 1e9));
    }

    /**
     * What a reload did: {@code applied} false when the new file had problems (listed; nothing changed);
     * {@code restartNeeded} names the changed settings that only a restart applies (they keep their running
     * values); {@code changed} names the sections that changed live.
     */
    public record Reload(boolean applied, List<String> problems, List<String> restartNeeded, List<String> changed) {
    }

    /**
     * Applies a new, already validated configuration as one step. Keys, clients, scopes, ceilings, caps,
     * model allow-lists, rate limits, queue limits, the host list and host slots, routing, the embedding
     * cache, {@code keep_alive}, {@code admin}, logging level and format, {@code trusted_proxies} and
     * {@code drain_timeout} change for requests from now on; requests in flight and queued keep the client and
     * host they have (a removed key answers 401 to its next request, a removed host takes no new request and
     * its streams finish). Listeners (ports, binds, {@code max_body}), {@code services}, the upstream connect
     * timeout and the health and model-poll intervals keep their running values and are reported as needing
     * a restart.
     */
    public Reload reload(OqpConfig next) {
        synchronized (reloadLock) {
            OqpConfig old = config;
            String refusal = null;
            boolean needsTls = next.ollama().hosts().stream().anyMatch(h -> "https".equals(h.url().getScheme()));
            if (needsTls && !tls) {
                refusal = "ollama.hosts: an https host needs a restart (the upstream client was started without TLS)";
            } else if (old.auth().enabled() && !next.auth().enabled()) {
                // Most often a truncated or half-written file (an empty file is valid: all defaults, auth off).
                refusal = "auth: a reload cannot turn authentication off (an empty or truncated file would open the"
                        + " proxy to anyone); restart to do that";
            }
            if (refusal != null) {
                return refused(List.of(refusal + "; nothing was changed"));
            }
            List<String> restart = restartNeeded(boot, next);
            List<String> changed = changedSections(old, next);
            // What can fail is built first, before anything is swapped: a failure leaves everything as it was.
            CacheService fresh = null;
            boolean newCache = !next.embeddingCache().equals(old.embeddingCache());
            if (newCache && next.embeddingCache().enabled()) {
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

            Fleet.Change hosts = fleet.reconfigure(next.ollama().hosts());
            pool.reconfigure(next.routing(), next.proxy().maxConcurrent(), clientCaps(next));
            scheduler.reconfigure(next.queue());
            pipeline.bodies.limit(next.queue().maxQueuedBytes());
            server.setStopTimeout(next.proxy().drainTimeout().toMillis());
            pipeline.keys = KeyRegistry.from(next.auth());
            if (!next.auth().rateLimit().equals(old.auth().rateLimit())) {
                pipeline.limiter = new FailureLimiter(next.auth().rateLimit());
            }
            for (Port port : ports) {
                Client serviceClient = null;
                if (!port.main()) {
                    try {
                        serviceClient = serviceClient(next, port.service());
                    } catch (IllegalArgumentException e) {
                        // The service's client is gone from the keys (services themselves change on restart only):
                        // its port's requests without a known key get 401 until then.
                        serviceClient = null;
                    }
                }
                port.reconfigure(port.main() ? next.ollama().requestTimeout() : port.service().timeout(), serviceClient);
            }
            if (newCache) {
                CacheService retired = cache;
                cache = fresh;
                pipeline.cache = fresh;
                if (retired != null) {
                    // Requests looked up in it may still store their answers: closed a while later.
                    server.getScheduler().schedule(retired::close, RETIRED_CACHE_GRACE_SECONDS, TimeUnit.SECONDS);
                }
            }
            forwarder.protectColdLoads(next.routing().protectColdLoads());
            ledger.accessLog(next.logging().accessLog());
            if (!next.logging().equals(old.logging())) {
                dev.oqp.common.log.Logging.configure(next.logging().level(),
                        next.logging().format() == dev.oqp.common.config.LoggingConfig.Format.JSON);
            }
            pipeline.config = next;
            config = next;
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
                        .log("configuration reload: these settings differ from what runs and need a restart; they keep their"
                                + " running values");
            }
            // New hosts or slots may take what waits now.
            scheduler.capacityChanged();
            return new Reload(true, List.of(), restart, changed);
        }
    }

    /**
     * Reloads the file the proxy was started with (SIGHUP, or the file changed); problems leave it as it runs.
     * Read and applied under one lock, so two reloads at once apply in the order they read the file.
     */
    public Reload reloadFile() {
        Path file = configFile;
        if (file == null) {
            LOG.warn("configuration reload requested, but the proxy runs on its embedded defaults: nothing to reload");
            return new Reload(false, List.of("no configuration file"), List.of(), List.of());
        }
        synchronized (reloadLock) {
            List<String> problems;
            OqpConfig next = null;
            try {
                if (blank(file)) {
                    problems = List.of("the file is empty (or only comments): a reload never applies one (it would mean"
                            + " every default); restart to run on the defaults");
                } else {
                    next = ConfigLoader.load(file, Target.QUEUE_PROXY, configEnv);
                    problems = List.of();
                }
            } catch (ConfigException e) {
                problems = e.problems();
            } catch (java.io.IOException | RuntimeException e) {
                problems = List.of("cannot read the file (" + e.getClass().getSimpleName() + ")");
            }
            if (next == null) {
                return refused(problems);
            }
            return reload(next);
        }
    }

    /** A refused reload: counted, each problem logged (without its value), nothing changed. */
    private Reload refused(List<String> problems) {
        metrics.configReloads.labelValues("error").inc();
        for (String problem : problems) {
            // Values are not logged (a misplaced key would be): --check-config shows them on a terminal.
            LOG.atError().addKeyValue("problem", withoutValue(problem))
                    .log("configuration reload: problem" + (configFile == null ? "" : " in " + configFile));
        }
        LOG.atError().addKeyValue("problems", problems.size()).log("configuration reload refused: the proxy keeps"
                + " running on its current configuration (--check-config shows the values)");
        return new Reload(false, problems, List.of(), List.of());
    }

    private static boolean blank(Path file) throws java.io.IOException {
        for (String line : java.nio.file.Files.readAllLines(file, java.nio.charset.StandardCharsets.UTF_8)) {
            String t = line.strip();
            if (!t.isEmpty() && !t.startsWith("#") && !t.equals("---") && !t.equals("...")) {
                return false;
            }
        }
        return true;
    }

    /** A problem line as logged: {@code path: value (expected …)} without its value. */
    static String withoutValue(String problem) {
        java.util.regex.Matcher m = PROBLEM_WITH_VALUE.matcher(problem);
        return m.matches() ? m.group(1) + ": (value not shown) " + m.group(2) : problem;
    }

    private static final java.util.regex.Pattern PROBLEM_WITH_VALUE =
            java.util.regex.Pattern.compile("([^\\s:]+): .*? (\\(expected.*)", java.util.regex.Pattern.DOTALL);

    /**
     * Reloads on SIGHUP and when {@code file} changes (watched, debounced); {@code env} is what its
     * {@code ${VAR}} read. Call once, after {@link #start()}.
     */
    public void watch(Path file, Map<String, String> env) {
        this.configFile = file;
        this.configEnv = Map.copyOf(env);
        ConfigWatcher watcher = new ConfigWatcher(file, () -> config.auth().keys().stream()
                .map(dev.oqp.common.config.KeyConfig::keyFile).filter(java.util.Objects::nonNull).toList(),
                this::reloadFile);
        server.addBean(watcher, true);
        try {
            watcher.start();
        } catch (Exception e) {
            LOG.atWarn().addKeyValue("reason", e.toString())
                    .log("cannot watch the configuration file for changes; SIGHUP still reloads it");
        }
    }

    /** The restart-only settings in which {@code next} differs from what runs ({@code running}: the start's). */
    private static List<String> restartNeeded(OqpConfig running, OqpConfig next) {
        List<String> out = new ArrayList<>();
        ProxyConfig a = running.proxy();
        ProxyConfig b = next.proxy();
        if (!a.host().equals(b.host())) {
            out.add("proxy.host");
        }
        if (a.port() != b.port()) {
            out.add("proxy.port");
        }
        if (a.allowPublic() != b.allowPublic()) {
            out.add("proxy.allow_public");
        }
        if (a.maxBody() != b.maxBody()) {
            out.add("proxy.max_body");
        }
        if (!running.services().equals(next.services())) {
            out.add("services");
        }
        if (!running.ollama().connectTimeout().equals(next.ollama().connectTimeout())) {
            out.add("ollama.connect_timeout");
        }
        if (!running.ollama().healthCheckInterval().equals(next.ollama().healthCheckInterval())) {
            out.add("ollama.health_check_interval");
        }
        if (!running.ollama().modelSyncInterval().equals(next.ollama().modelSyncInterval())) {
            out.add("ollama.model_sync_interval");
        }
        return out;
    }

    private static List<String> changedSections(OqpConfig old, OqpConfig next) {
        List<String> out = new ArrayList<>();
        if (!old.auth().equals(next.auth())) {
            out.add("auth");
        }
        if (!old.ollama().hosts().equals(next.ollama().hosts())
                || !old.ollama().requestTimeout().equals(next.ollama().requestTimeout())) {
            out.add("ollama");
        }
        if (!old.queue().equals(next.queue())) {
            out.add("queue");
        }
        if (!old.routing().equals(next.routing())) {
            out.add("routing");
        }
        if (old.proxy().maxConcurrent() != next.proxy().maxConcurrent()
                || !old.proxy().trustedProxies().equals(next.proxy().trustedProxies())
                || !old.proxy().drainTimeout().equals(next.proxy().drainTimeout())) {
            out.add("proxy");
        }
        if (!old.embeddingCache().equals(next.embeddingCache())) {
            out.add("embedding_cache");
        }
        if (!old.keepAlive().equals(next.keepAlive())) {
            out.add("keep_alive");
        }
        if (!old.admin().equals(next.admin())) {
            out.add("admin");
        }
        if (!old.logging().equals(next.logging())) {
            out.add("logging");
        }
        return out;
    }

    /** On stop: accept nothing new, let the queue drain, answer what still waits just before the deadline. */
    private void drainOnStop() {
        Snapshot s = scheduler.snapshot();
        LOG.atInfo().addKeyValue("queued", s.totalDepth()).addKeyValue("in_flight", pool.inFlight())
                .addKeyValue("drain_timeout", Durations.format(config.proxy().drainTimeout()))
                .log("stopping: no new connections or requests; queued and in-flight requests may finish");
        scheduler.drain(null);
        long flushIn = Math.max(0, config.proxy().drainTimeout().toMillis() - FLUSH_MARGIN_MILLIS);
        server.getScheduler().schedule(() -> {
            int flushed = scheduler.flush(null);
            if (flushed > 0) {
                LOG.atWarn().addKeyValue("flushed", flushed)
                        .log("drain timeout: requests still queued were answered 503 with Retry-After");
            }
        }, flushIn, TimeUnit.MILLISECONDS);
    }

    /**
     * Binds every port and starts serving; logs the start-up warnings (auth disabled beyond loopback, key
     * files readable by others).
     *
     * @throws java.io.IOException naming the listener whose port cannot be bound
     */
    public void start() throws Exception {
        for (String warning : AuthWarnings.all(config.auth(), config.proxy().host())) {
            LOG.warn(warning);
        }
        for (ServiceConfig service : config.services()) {
            AuthWarnings.disabledBeyondLoopback(config.auth(), "services[" + service.name() + "].bind", service.bind())
                    .ifPresent(LOG::warn);
            if (config.auth().enabled() && service.client() != null && !loopbackBind(service.bind())) {
                LOG.warn("services[" + service.name() + "] binds " + service.bind() + " and gives requests without a"
                        + " key the identity of client " + service.client() + ": anyone who can reach that port"
                        + " acts as that client");
            }
        }
        Map<java.net.URI, String> byUrl = new HashMap<>();
        for (HostConfig host : config.ollama().hosts()) {
            String other = byUrl.putIfAbsent(host.url(), host.name());
            if (other != null) {
                LOG.warn("ollama.hosts " + other + " and " + host.name() + " have the same url: one Ollama counted twice"
                        + " (its slots too)");
            }
        }
        if (config.services().stream().anyMatch(s -> s.upstream() != null)) {
            LOG.info("services[].upstream is not used by the queue proxy: requests go to the hosts of ollama.hosts");
        }
        Servers.start(server, c -> c == mainConnector ? "proxy" : "service " + c.getName());
        started = true;
    }

    private static boolean loopbackBind(String bind) {
        return bind.equalsIgnoreCase("localhost") || bind.startsWith("127.") || bind.equals("::1");
    }

    @Override
    public void stop() throws Exception {
        try {
            server.stop();
        } catch (TimeoutException e) {
            // Logged by the lifecycle listener: the drain timeout cut what was still in progress.
        }
    }

    @Override
    public void whenStopped(Runnable action) {
        Servers.whenStopped(server, action);
    }

    @Override
    public List<String> listeners() {
        List<String> out = new ArrayList<>();
        List<String> hosts = new ArrayList<>();
        config.ollama().hosts().forEach(h -> hosts.add(h.name() + "=" + h.url()));
        out.add("proxy " + Servers.hostPort(config.proxy().host(), port()) + " -> " + String.join(", ", hosts));
        for (ServiceConfig service : config.services()) {
            out.add("service " + service.name() + " " + Servers.hostPort(service.bind(), port(service.name())));
        }
        return out;
    }

    /** The bound main port. */
    public int port() {
        return mainConnector.getLocalPort();
    }

    /** The bound port of the named service. */
    public int port(String serviceName) {
        return serviceConnectors.get(serviceName).getLocalPort();
    }

    /** The connector of the main port (tests shorten its idle timeout). */
    ServerConnector mainConnector() {
        return mainConnector;
    }

    /** The queue (tests read its snapshot). */
    Scheduler scheduler() {
        return scheduler;
    }

    /** The hosts (tests read their health and inventories). */
    Fleet fleet() {
        return fleet;
    }

    /** The slots (tests check that every counter returns to zero). */
    SlotPool pool() {
        return pool;
    }

    /** The embedding cache, or null when disabled. */
    CacheService cache() {
        return cache;
    }
}
