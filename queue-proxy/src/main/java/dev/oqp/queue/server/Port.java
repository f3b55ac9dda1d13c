package dev.oqp.queue.server;

import dev.oqp.common.config.InetLiterals;
import dev.oqp.common.config.ServiceConfig;

/**
 * One listen port of the queue proxy: the main port, or a client injection port ({@code services[]}). What
 * it is is fixed at start; what a reload may change for it (its client, its idle timeout toward the hosts) is
 * in {@link Settings}.
 *
 * @param name     {@code proxy} for the main port, else the service's name (logs)
 * @param mainBind {@code proxy.host} (the main port's bind address)
 * @param service  the service of an injection port, or null for the main port
 * @param maxBody  request bodies larger than this get 413
 */
record Port(String name, String mainBind, ServiceConfig service, long maxBody) {

    boolean main() {
        return service == null;
    }

    /** True when this port listens on a loopback address only. */
    boolean loopback() {
        return InetLiterals.isLoopback(service == null ? mainBind : service.bind());
    }
}
