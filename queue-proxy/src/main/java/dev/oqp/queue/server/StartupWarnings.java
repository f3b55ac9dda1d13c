package dev.oqp.queue.server;

import java.net.URI;
import java.util.HashMap;
import java.util.Map;

import dev.oqp.common.config.HostConfig;
import dev.oqp.common.config.InetLiterals;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.ServiceConfig;
import dev.oqp.queue.auth.AuthWarnings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the queue proxy says once at start about a configuration that runs but may not be what was meant: auth
 * disabled beyond loopback, key files readable by others, an injection port beyond loopback that gives requests
 * without a key a client's identity, one Ollama listed twice, {@code services[].upstream} that it does not use.
 */
final class StartupWarnings {
    private static final Logger LOG = LoggerFactory.getLogger(StartupWarnings.class);

    private StartupWarnings() {
    }

    static void log(OqpConfig config) {
        for (String warning : AuthWarnings.all(config.auth(), config.proxy().host())) {
            LOG.warn(warning);
        }
        for (ServiceConfig service : config.services()) {
            AuthWarnings.disabledBeyondLoopback(config.auth(), "services[" + service.name() + "].bind", service.bind())
                    .ifPresent(LOG::warn);
            if (config.auth().enabled() && service.client() != null && !InetLiterals.isLoopback(service.bind())) {
                LOG.warn("services[" + service.name() + "] binds " + service.bind() + " and gives requests without a"
                        + " key the identity of client " + service.client() + ": anyone who can reach that port"
                        + " acts as that client");
            }
        }
        Map<URI, String> byUrl = new HashMap<>();
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
    }
}
