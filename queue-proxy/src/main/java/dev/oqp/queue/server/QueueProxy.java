package dev.oqp.queue.server;

import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;

import dev.oqp.common.config.ConfigException;
import dev.oqp.common.config.HostConfig;
import dev.oqp.common.config.LoggingConfig;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.ServiceConfig;
import dev.oqp.common.log.Logging;
import dev.oqp.common.proxy.ClientSettings;
import dev.oqp.common.proxy.UpstreamClients;
import dev.oqp.common.server.CommandLine;
import dev.oqp.common.server.ConnectorRouter;
import dev.oqp.common.server.HealthHandler;
import dev.oqp.common.server.Launcher;
import dev.oqp.common.server.Servers;
import dev.oqp.queue.admin.AdminEndpoints;
import dev.oqp.queue.auth.Authenticator;
import dev.oqp.queue.auth.FailureLimiter;
import dev.oqp.queue.auth.HeaderClients;
import dev.oqp.queue.cache.CacheService;
import dev.oqp.queue.cache.EmbeddingCache;
import dev.oqp.queue.coordination.Coordination;
import dev.oqp.queue.coordination.SharedControls;
import dev.oqp.queue.coordination.SharedHealth;
import dev.oqp.queue.coordination.SharedSlots;
import dev.oqp.queue.limits.Limiter;
import dev.oqp.queue.limits.RateLimiter;
import dev.oqp.queue.limits.SharedRateLimiter;
import dev.oqp.queue.limits.SharedUsage;
import dev.oqp.queue.limits.Usage;
import dev.oqp.queue.limits.UsageLedger;
import dev.oqp.queue.metrics.QueueGauges;
import dev.oqp.queue.metrics.QueueMetrics;
import dev.oqp.queue.reload.Reload;
import dev.oqp.queue.reload.Reloader;
import dev.oqp.queue.routing.Fleet;
import dev.oqp.queue.routing.FleetMonitor;
import dev.oqp.queue.routing.Host;
import dev.oqp.queue.routing.Preloader;
import dev.oqp.queue.routing.SlotPool;
import dev.oqp.queue.scheduler.Scheduler;
import dev.oqp.queue.scheduler.Ticks;
import dev.oqp.queue.webhooks.Webhooks;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ollama-queue-proxy server: wires the main port and one client injection port per {@code services[]}
 * entry, each running the same pipeline ({@link Gate}, then {@link InferenceIntake} and {@link QueuedCall} or
 * {@link DirectRoute}, then the {@link Forwarder}) over one shared priority queue, one slot pool and one
 * upstream client. Requests read one {@link Settings} snapshot, which a reload ({@link Reloader}) replaces whole.
 *
 * <p>{@link #stop()} (also run on SIGTERM) drains: the ports stop accepting, the queue accepts nothing new
 * (503) and keeps dispatching; requests still queued shortly before {@code proxy.drain_timeout} are answered
 * 503 with {@code Retry-After}; streams in flight may finish until {@code drain_timeout}, then the remaining
 * connections are closed.
 */
public final class QueueProxy implements Launcher.App, Reloader.Applier {
    private static final Logger LOG = LoggerFactory.getLogger(QueueProxy.class);
    /**
     * Client connections open at once. Queued requests hold a connection each and no thread, so this is what
     * bounds the queue's memory; the process needs a file-descriptor limit above it plus the upstream slots.
     */
    static final int MAX_CLIENT_CONNECTIONS = 16_384;
    /** Connections to the hosts: inference is bounded by the slots, metadata and management are not queued. */
    private static final int MAX_UPSTREAM_CONNECTIONS = 4096;
    /** How long a cache replaced by a reload stays open for the requests that looked it up. */
    private static final long RETIRED_CACHE_GRACE_SECONDS = 60;

    /** What requests read: replaced whole by a reload. */
    private volatile Settings settings;
    /** The configuration the proxy started with: what the restart-only settings run on. */
    private final OqpConfig boot;
    private final boolean tls;
    private final List<Port> ports = new ArrayList<>();
    private final Server server;
    private final ServerConnector mainConnector;
    private final Map<String, ServerConnector> serviceConnectors = new LinkedHashMap<>();
    private final Scheduler<SlotPool.HostLease> scheduler;
    private final SlotPool pool;
    private final Fleet fleet;
    private final BodyReader.Budget bodies;
    private final MemoryBudget memory;
    private final QueueMetrics metrics = new QueueMetrics();
    private final Webhooks webhooks;
    private final Reloader reloader;
    private final Preloader preloader;
    /** The replicas' coordination when {@code coordination.backend} is set, else null. */
    private final Coordination coordination;
    /** Set once every port is bound: a start that failed stops without the drain and its log lines. */
    private volatile boolean started;

    public QueueProxy(OqpConfig config) {
        this(config, Ticks.SYSTEM, MemoryBudget.ofThisJvm());
    }

    QueueProxy(OqpConfig config, Ticks ticks, MemoryBudget memory) {
        this.boot = config;
        this.memory = memory;
        this.server = Servers.newServer("queue-proxy", config.proxy().drainTimeout(), MAX_CLIENT_CONNECTIONS,
                metrics::badRequest);
        List<HostConfig> hosts = config.ollama().hosts();
        this.fleet = new Fleet(hosts, config.ollama().models());
        this.pool = new SlotPool(fleet, config.routing(), config.proxy().maxConcurrent(), Settings.clientCaps(config));
        ExpiryTimer timer = new ExpiryTimer(server.getScheduler());
        // Off: the pool alone, exactly as one process always ran. On: the pool behind the shared leases.
        this.coordination = config.coordination().enabled()
                ? new Coordination(config.coordination(), config, metrics) : null;
        SharedSlots sharedSlots = coordination == null ? null : new SharedSlots(pool, coordination,
                () -> (settings == null ? config : settings.config()).queue());
        this.scheduler = new Scheduler<>(memory.queue(config), ticks, sharedSlots == null ? pool : sharedSlots,
                timer);
        timer.attach(scheduler);
        scheduler.minSlots(Settings.minSlots(config));
        if (sharedSlots != null) {
            sharedSlots.attach(scheduler, server.getThreadPool());
            new SharedHealth(fleet, pool, coordination);
            // Started before the ports: the first requests find the state decided.
            server.addBean(coordination, true);
        }
        fleet.addListener(new FleetEvents(metrics, fleet, scheduler));
        this.webhooks = new Webhooks(config.webhooks(), metrics, CommandLine.version(QueueProxy.class));
        webhooks.listenTo(scheduler, fleet);
        // Started before the ports and the fleet monitor, so that their first events are sent.
        server.addBean(webhooks, true);
        this.bodies = new BodyReader.Budget(memory.bodies(config));
        this.reloader = new Reloader(this, metrics, webhooks);

        this.tls = hosts.stream().anyMatch(h -> "https".equals(h.url().getScheme()));
        ClientSettings clientSettings = new ClientSettings(config.ollama().connectTimeout(), MAX_UPSTREAM_CONNECTIONS,
                MAX_UPSTREAM_CONNECTIONS, tls, null);
        FleetMonitor monitor = new FleetMonitor(fleet, UpstreamClients.create(clientSettings, server,
                "FleetMonitor-client", false), server.getScheduler(), config.ollama().healthCheckInterval(),
                config.ollama().modelSyncInterval());
        this.preloader = new Preloader(fleet, monitor, pool, () -> (settings == null ? config : settings.config()).keepAlive(),
                () -> (settings == null ? config : settings.config()).ollama().requestTimeout());
        CacheService cache = config.embeddingCache().enabled()
                ? new CacheService(config.embeddingCache(), EmbeddingCache.create(config.embeddingCache()), metrics) : null;
        // The cache in force is connected when the server starts and closed when it has stopped (after the drain).
        server.addBean(new AbstractLifeCycle() {
            @Override
            protected void doStart() {
                Optional.ofNullable(settings.cache()).ifPresent(c -> c.backend().start());
            }

            @Override
            protected void doStop() {
                Optional.ofNullable(settings.cache()).ifPresent(CacheService::close);
            }
        }, true);
        // With coordination, limits and usage are shared through its connection; else in memory, as always.
        Limiter rates;
        Usage usageLedger;
        if (coordination != null) {
            Runnable degradedLimit = () -> metrics.coordinationDegradedDecisions.labelValues("rate_limit").inc();
            rates = new SharedRateLimiter(coordination.commands(), config.coordination().keyPrefix(),
                    coordination::lastLive, config.coordination().timeout(), degradedLimit);
            usageLedger = new SharedUsage(coordination.commands(), config.coordination().keyPrefix(),
                    config.coordination().timeout(), Clock.systemUTC(), new UsageLedger(Clock.systemUTC()),
                    what -> metrics.coordinationDegradedDecisions.labelValues(what).inc());
        } else {
            rates = new RateLimiter(System::nanoTime, Clock.systemUTC());
            usageLedger = new UsageLedger(Clock.systemUTC());
        }
        UsageRecorder usage = new UsageRecorder(metrics, usageLedger);
        Forwarder forwarder = new Forwarder(clientSettings, metrics, fleet, pool, monitor, rates, usage);
        forwarder.setServer(server);
        server.addBean(forwarder, true);
        server.addBean(monitor, true);

        BooleanSupplier stopping = () -> server.isStopping() || server.isStopped();
        Ledger ledger = new Ledger(metrics, rates);
        Authenticator authenticator = new Authenticator(metrics);
        HeaderClients headerClients = new HeaderClients();
        AdminEndpoints admin = new AdminEndpoints(scheduler, pool, fleet, metrics, usageLedger, stopping,
                server.getScheduler());
        if (coordination != null) {
            admin.coordination(coordination, new SharedControls(scheduler, coordination));
        }
        admin.preloader(preloader);
        InferenceIntake intake = new InferenceIntake(rates, metrics, usage, fleet, bodies, server.getThreadPool(),
                scheduler, forwarder, stopping, webhooks,
                sharedSlots == null ? () -> false : sharedSlots::refusing, admin.requests());
        DirectRoute direct = new DirectRoute(fleet, pool, metrics, new MergedLists(fleet, monitor, metrics), bodies,
                forwarder);

        ConnectorRouter router = new ConnectorRouter();
        mainConnector = Servers.addConnector(server, "proxy", config.proxy().host(), config.proxy().port());
        Port mainPort = new Port("proxy", config.proxy().host(), null, config.proxy().maxBody());
        ports.add(mainPort);
        router.route(mainConnector, new HealthHandler(new Gate(mainPort, this::settings, ledger, authenticator,
                admin, intake, direct, headerClients), RequestIds::of));
        for (ServiceConfig service : config.services()) {
            ServerConnector connector = Servers.addConnector(server, service.name(), service.bind(), service.listen());
            Port port = new Port(service.name(), config.proxy().host(), service, service.maxBody());
            ports.add(port);
            router.route(connector, new HealthHandler(new Gate(port, this::settings, ledger, authenticator,
                    admin, intake, direct, headerClients), RequestIds::of));
            serviceConnectors.put(service.name(), connector);
        }
        this.settings = Settings.of(config, new FailureLimiter(config.auth().rateLimit()), cache, ports);
        server.setHandler(new GracefulHandler(router));
        QueueGauges.register(metrics, scheduler, pool, fleet, () -> settings.configuredClients(headerClients));
        Servers.announceStops(server, LOG, () -> started, () -> QueueDrain.begin(scheduler, pool, server, settings.config().proxy().drainTimeout()), () -> settings.config().proxy().drainTimeout());
    }

    private Settings settings() {
        return settings;
    }

    @Override
    public OqpConfig config() {
        return settings.config();
    }

    @Override
    public OqpConfig boot() {
        return boot;
    }

    @Override
    public boolean tls() {
        return tls;
    }

    /**
     * Applies a validated configuration (see {@link Reloader}): the stateful parts reconfigure, then one new
     * {@link Settings} snapshot replaces the old for requests from now on.
     */
    @Override
    public Fleet.Change apply(OqpConfig next, boolean cacheChanged, CacheService cache) {
        Settings old = settings;
        Fleet.Change hosts = fleet.reconfigure(next.ollama().hosts(), next.ollama().models());
        pool.reconfigure(next.routing(), next.proxy().maxConcurrent(), Settings.clientCaps(next));
        scheduler.reconfigure(memory.queue(next));
        scheduler.minSlots(Settings.minSlots(next));
        bodies.limit(memory.bodies(next));
        webhooks.reconfigure(next.webhooks());
        if (coordination != null) {
            coordination.reconfigure(next);
        }
        server.setStopTimeout(next.proxy().drainTimeout().toMillis());
        if (!next.logging().equals(old.config().logging())) {
            Logging.configure(next.logging().level(), next.logging().format() == LoggingConfig.Format.JSON);
        }
        FailureLimiter limiter = next.auth().rateLimit().equals(old.config().auth().rateLimit()) ? old.limiter()
                : new FailureLimiter(next.auth().rateLimit());
        settings = Settings.of(next, limiter, cacheChanged ? cache : old.cache(), ports);
        CacheService retired = old.cache();
        if (cacheChanged && retired != null) {
            // Requests looked up in it may still store their answers: closed a while later.
            server.getScheduler().schedule(retired::close, RETIRED_CACHE_GRACE_SECONDS, TimeUnit.SECONDS);
        }
        // New hosts or slots may take what waits now.
        scheduler.capacityChanged();
        for (String name : hosts.changed()) {
            Host host = fleet.host(name);
            if (host != null && host.health() == Host.Health.HEALTHY) {
                // Its preloads or pins may have changed (a new URL is a new host: warmed once it answers).
                preloader.warm(host);
            }
        }
        return hosts;
    }

    /** Applies a new, already validated configuration as one step (see {@link Reloader#reload}). */
    public Reload reload(OqpConfig next) {
        return reloader.reload(next);
    }

    /** Reloads the file the proxy was started with (SIGHUP, or the file changed); problems leave it as it runs. */
    public Reload reloadFile() {
        return reloader.reloadFile();
    }

    /**
     * Reloads on SIGHUP and when {@code file} changes (watched, debounced); {@code env} is what its
     * {@code ${VAR}} read. Call once, after {@link #start()}.
     */
    public void watch(Path file, Map<String, String> env) {
        reloader.watch(file, env, server);
    }

    /**
     * Checks the webhook endpoints' addresses (a {@link ConfigException} lists each one the SSRF guard refuses),
     * logs the start-up warnings, binds every port and serves; an {@code IOException} names a port in use.
     */
    public void start() throws Exception {
        List<String> unsafe = Webhooks.check(boot.webhooks(), LOG::warn);
        if (!unsafe.isEmpty()) {
            throw new ConfigException(unsafe);
        }
        StartupWarnings.log(boot);
        memory.log(boot);
        Servers.start(server, c -> c == mainConnector ? "proxy" : "service " + c.getName());
        started = true;
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
        OqpConfig config = settings.config();
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
    Scheduler<SlotPool.HostLease> scheduler() {
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

    /** The replicas' coordination, or null when it is off. */
    Coordination coordination() {
        return coordination;
    }

    /** The embedding cache, or null when disabled. */
    CacheService cache() {
        return settings.cache();
    }
}
