package dev.oqp.queue.server;

import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;

import dev.oqp.common.config.ServiceConfig;
import dev.oqp.common.proxy.Upstream;
import dev.oqp.queue.auth.Client;
import dev.oqp.queue.routing.Host;

/**
 * One listen port of the queue proxy: the main port, or a client injection port ({@code services[]}). Its
 * listener settings are fixed at start; a reload changes its idle timeout toward the hosts and the client its
 * requests are when they carry no known key.
 */
final class Port {
    private final String name;
    private final String mainBind;
    private final ServiceConfig service;
    private final long maxBody;
    private volatile Duration idleTimeout;
    private volatile Client serviceClient;
    private volatile ConcurrentHashMap<Host, Upstream> upstreams = new ConcurrentHashMap<>();

    /**
     * @param name          {@code proxy} for the main port, else the service's name (logs)
     * @param mainBind      {@code proxy.host} (the main port's bind address)
     * @param service       the service of an injection port, or null for the main port
     * @param maxBody       request bodies larger than this get 413
     * @param idleTimeout   the upstream idle timeout of this port's requests
     * @param serviceClient the client a request on an injection port is when its headers carry no known key,
     *                      or null (main port, or a service without {@code client})
     */
    Port(String name, String mainBind, ServiceConfig service, long maxBody, Duration idleTimeout, Client serviceClient) {
        this.name = name;
        this.mainBind = mainBind;
        this.service = service;
        this.maxBody = maxBody;
        this.idleTimeout = idleTimeout;
        this.serviceClient = serviceClient;
    }

    String name() {
        return name;
    }

    ServiceConfig service() {
        return service;
    }

    long maxBody() {
        return maxBody;
    }

    Client serviceClient() {
        return serviceClient;
    }

    /** Where this port's requests to {@code host} go, with this port's idle timeout. */
    Upstream upstream(Host host) {
        return upstreams.computeIfAbsent(host, h -> new Upstream(h.name(), h.config().url(), idleTimeout));
    }

    /** A reload: new idle timeout and service client for requests from now on. */
    void reconfigure(Duration idleTimeout, Client serviceClient) {
        this.idleTimeout = idleTimeout;
        this.serviceClient = serviceClient;
        this.upstreams = new ConcurrentHashMap<>();
    }

    boolean main() {
        return service == null;
    }

    /** True when this port listens on a loopback address only. */
    boolean loopback() {
        String bind = service == null ? mainBind : service.bind();
        return bind.equalsIgnoreCase("localhost") || bind.startsWith("127.") || bind.equals("::1")
                || bind.equals("[::1]");
    }
}
