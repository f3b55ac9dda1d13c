package dev.oqp.sidecar;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;

import dev.oqp.common.config.Durations;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.ServiceConfig;
import dev.oqp.common.server.ConnectorRouter;
import dev.oqp.common.server.HealthHandler;
import dev.oqp.common.server.Launcher;
import dev.oqp.common.server.MetricsHandler;
import dev.oqp.common.server.Servers;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ollama-auth-sidecar: one listen port per configured service, each streaming every request to its
 * upstream with the service's headers injected; {@code /health} answered locally on every port; an
 * optional Prometheus port. Stateless. {@link #stop()} stops accepting at once and lets in-flight
 * exchanges finish for up to {@code sidecar.drain_timeout}.
 */
public final class Sidecar implements Launcher.App {
    private static final Logger LOG = LoggerFactory.getLogger(Sidecar.class);
    private final OqpConfig config;
    private final Server server;
    private final Map<String, ServerConnector> serviceConnectors = new LinkedHashMap<>();
    private final ServerConnector metricsConnector;
    /** Set once every port is bound: a start that failed stops without the drain's log lines. */
    private volatile boolean started;

    public Sidecar(OqpConfig config) throws IOException {
        this.config = config;
        SidecarMetrics metrics = new SidecarMetrics();
        this.server = Servers.newServer("sidecar", config.sidecar().drainTimeout(), Servers.MAX_CLIENT_CONNECTIONS,
                metrics::badRequest);
        ConnectorRouter router = new ConnectorRouter();
        for (ServiceConfig service : config.services()) {
            ServerConnector connector = Servers.addConnector(server, service.name(), service.bind(), service.listen());
            router.route(connector, new HealthHandler(new ServiceProxy(service, metrics, config.logging().accessLog())));
            serviceConnectors.put(service.name(), connector);
        }
        if (config.sidecar().metricsPort() > 0) {
            metricsConnector = Servers.addConnector(server, "metrics", config.sidecar().metricsBind(),
                    config.sidecar().metricsPort());
            router.route(metricsConnector, new HealthHandler(new MetricsHandler(metrics.registry)));
        } else {
            metricsConnector = null;
        }
        GracefulHandler graceful = new GracefulHandler(router);
        server.setHandler(graceful);
        Servers.announceStops(server, LOG, () -> started, () -> LOG.atInfo()
                .addKeyValue("in_flight", graceful.getCurrentRequestCount())
                .addKeyValue("drain_timeout", Durations.format(config.sidecar().drainTimeout()))
                .log("stopping: no new connections, letting requests in flight finish"),
                () -> config.sidecar().drainTimeout());
    }

    /** Runs {@code action} once the server has stopped (after the drain). */
    @Override
    public void whenStopped(Runnable action) {
        Servers.whenStopped(server, action);
    }

    /**
     * Binds every port and starts serving.
     *
     * @throws java.io.IOException naming the service whose port cannot be bound
     */
    public void start() throws Exception {
        Servers.start(server, connector -> connector == metricsConnector ? "metrics" : "service " + connector.getName());
        started = true;
    }

    /** Stops accepting, lets in-flight exchanges finish (up to the drain timeout), then stops. */
    @Override
    public void stop() throws Exception {
        try {
            server.stop();
        } catch (TimeoutException e) {
            // Logged by the lifecycle listener: the drain timeout cut what was still in progress.
        }
    }

    /** Waits until the server has stopped. */
    public void join() throws InterruptedException {
        server.join();
    }

    /** The port the named service listens on (the bound one). */
    public int port(String serviceName) {
        return serviceConnectors.get(serviceName).getLocalPort();
    }

    /** The connector of the named service (tests shorten its idle timeout). */
    ServerConnector connector(String serviceName) {
        return serviceConnectors.get(serviceName);
    }

    /** The bound metrics port, or -1 when metrics are off. */
    public int metricsPort() {
        return metricsConnector == null ? -1 : metricsConnector.getLocalPort();
    }

    /** {@code name bind:port} of every listener, for the start line. */
    @Override
    public List<String> listeners() {
        List<String> out = new ArrayList<>();
        for (ServiceConfig service : config.services()) {
            out.add(service.name() + " " + Servers.hostPort(service.bind(), port(service.name())) + " -> " + service.upstream());
        }
        if (metricsConnector != null) {
            out.add("metrics " + Servers.hostPort(config.sidecar().metricsBind(), metricsPort()));
        }
        return out;
    }
}
