package dev.oqp.queue.server;

import java.util.Map;

import dev.oqp.common.config.ServiceConfig;
import dev.oqp.common.proxy.Upstream;
import dev.oqp.queue.auth.Client;

/**
 * One listen port of the queue proxy: the main port, or a client injection port ({@code services[]}).
 *
 * @param name          {@code proxy} for the main port, else the service's name (logs)
 * @param mainBind      {@code proxy.host} (the main port's bind address)
 * @param service       the service of an injection port, or null for the main port
 * @param maxBody       request bodies larger than this get 413
 * @param upstreams     an {@link Upstream} per host name, with this port's idle timeout
 * @param serviceClient the client a request on an injection port is when its headers carry no known key,
 *                      or null (main port, or a service without {@code client})
 */
record Port(String name, String mainBind, ServiceConfig service, long maxBody, Map<String, Upstream> upstreams,
            Client serviceClient) {

    Port {
        upstreams = Map.copyOf(upstreams);
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
