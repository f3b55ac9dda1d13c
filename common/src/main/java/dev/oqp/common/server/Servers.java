package dev.oqp.common.server;

import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;

import dev.oqp.common.config.Durations;
import dev.oqp.common.proxy.ProxyErrors;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.component.LifeCycle;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;

/** Builds the Jetty server both binaries run: one thread pool, plain HTTP/1.1 connectors. */
public final class Servers {
    /** Idle time of a client connection between requests; a request in progress is not subject to it. */
    public static final Duration CONNECTION_IDLE_TIMEOUT = Duration.ofSeconds(60);

    /** Idle time after which a keep-alive connection is closed once the server is stopping. */
    public static final Duration SHUTDOWN_IDLE_TIMEOUT = Duration.ofMillis(200);

    /** Client connections open at once across all listeners of one process. */
    public static final int MAX_CLIENT_CONNECTIONS = 4096;

    /** Connections the kernel may hold waiting for accept (capped by {@code net.core.somaxconn}). */
    public static final int ACCEPT_QUEUE_SIZE = 1024;

    private Servers() {
    }

    /**
     * A server whose thread pool is shared by the connectors and the upstream clients. Every exchange is
     * asynchronous, so threads are not held while a stream is open; the pool only bounds bursts of work.
     *
     * @param drainTimeout how long {@code stop()} lets in-flight requests finish
     */
    public static Server newServer(String name, Duration drainTimeout) {
        return newServer(name, drainTimeout, MAX_CLIENT_CONNECTIONS, reason -> {
        });
    }

    /**
     * As {@link #newServer(String, Duration)}, with another cap on open client connections, and
     * {@code badRequests} told the reason ({@link BadRequests#REASONS}) of each request Jetty refused as malformed.
     */
    public static Server newServer(String name, Duration drainTimeout, int maxClientConnections,
                                   Consumer<String> badRequests) {
        QueuedThreadPool threads = new QueuedThreadPool(256, 4);
        threads.setName(name);
        Server server = new Server(threads);
        server.setStopTimeout(drainTimeout.toMillis());
        server.setStopAtShutdown(true);
        server.setErrorHandler(new JsonErrorHandler(badRequests));
        // Past this many open client connections the acceptors pause until some close, so a flood cannot
        // exhaust file descriptors (each proxied exchange also holds an upstream connection).
        server.addBean(new NetworkConnectionLimit(maxClientConnections, server));
        return server;
    }

    /**
     * Starts {@code server}; when a port cannot be bound, the exception names the listener
     * ({@code label} of its connector) and its address.
     */
    public static void start(Server server, Function<ServerConnector, String> label) throws Exception {
        // Bound one by one first, so that the port that failed is the one named (once Jetty's start failed,
        // every connector is closed again and none can be told apart). Jetty's start keeps the open ones.
        List<ServerConnector> opened = new ArrayList<>();
        for (Connector connector : server.getConnectors()) {
            if (connector instanceof ServerConnector network && !network.isOpen()) {
                try {
                    network.open();
                    opened.add(network);
                } catch (IOException e) {
                    for (ServerConnector other : opened) {
                        other.close();
                    }
                    throw new IOException(label.apply(network) + ": cannot listen on "
                            + hostPort(network.getHost(), network.getPort()) + ": " + Launcher.rootCause(e).getMessage(), e);
                }
            }
        }
        server.start();
    }

    /**
     * Runs {@code action} once {@code server} has stopped, also when the stop failed (a drain cut by its
     * timeout ends in a failure, not in "stopped").
     */
    public static void whenStopped(Server server, Runnable action) {
        server.addEventListener(new LifeCycle.Listener() {
            @Override
            public void lifeCycleStopped(LifeCycle event) {
                action.run();
            }

            @Override
            public void lifeCycleFailure(LifeCycle event, Throwable cause) {
                if (event.isStopped() || event.isFailed()) {
                    action.run();
                }
            }
        });
    }

    /**
     * Announces a binary's stop the same way in both: {@code onStopping} runs when the server begins to stop, a
     * {@code stopped} line when it has, and a warning when the drain timeout cut exchanges still in progress;
     * nothing for a server whose start failed ({@code started} false). Lines go to the binary's {@code log}.
     */
    public static void announceStops(Server server, Logger log, BooleanSupplier started, Runnable onStopping,
                                     Supplier<Duration> drainTimeout) {
        server.addEventListener(new LifeCycle.Listener() {
            @Override
            public void lifeCycleStopping(LifeCycle event) {
                if (started.getAsBoolean()) {
                    onStopping.run();
                }
            }

            @Override
            public void lifeCycleStopped(LifeCycle event) {
                if (started.getAsBoolean()) {
                    log.info("stopped");
                }
            }

            @Override
            public void lifeCycleFailure(LifeCycle event, Throwable cause) {
                if (ProxyErrors.hasCause(cause, TimeoutException.class)) {
                    log.atWarn().addKeyValue("drain_timeout", Durations.format(drainTimeout.get()))
                            .log("drain timeout expired: exchanges still in progress were cut; stopped");
                }
            }
        });
    }

    /** {@code host:port}, with brackets around an IPv6 host. */
    public static String hostPort(String host, int port) {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }

    /** Adds an HTTP/1.1 connector named {@code name} on {@code bind:port} (port 0: any free port). */
    public static ServerConnector addConnector(Server server, String name, String bind, int port) {
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        http.setSendDateHeader(true);
        ServerConnector connector = new ServerConnector(server, 1, 1, new HttpConnectionFactory(http));
        connector.setName(name);
        // "localhost" is bound as the loopback address itself, whatever a hosts file says about the name.
        connector.setHost("localhost".equalsIgnoreCase(bind) ? InetAddress.getLoopbackAddress().getHostAddress() : bind);
        connector.setPort(port);
        connector.setIdleTimeout(CONNECTION_IDLE_TIMEOUT.toMillis());
        // On stop, idle keep-alive connections are closed this soon; busy ones finish their exchange.
        connector.setShutdownIdleTimeout(SHUTDOWN_IDLE_TIMEOUT.toMillis());
        connector.setReuseAddress(true);
        // The JDK's default backlog of 50 overflows when many clients connect at once (SYN cookies, slow accepts).
        connector.setAcceptQueueSize(ACCEPT_QUEUE_SIZE);
        server.addConnector(connector);
        return connector;
    }
}
