package dev.oqp.common.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The rules of one load that span sections: every listener port is used once across the file, and (queue proxy,
 * auth enabled) every service has a client identity that auth.keys knows. Sections hand their facts in while they
 * are bound; {@link #serviceIdentities()} judges them once every section is bound, so its problems come last.
 */
final class CrossChecks {

    private final Node.Context ctx;
    private final Target target;
    /** Port to the YAML path that claimed it first, in binding order. */
    private final Map<Integer, String> ports = new LinkedHashMap<>();
    /** What each service (a map) offers as client identity, in file order; checked against auth at the end. */
    private final List<ServiceIdentity> identities = new ArrayList<>();
    /** What auth.keys offers to identify a service; null until auth is bound. */
    private AuthFacts authFacts;

    /**
     * A service's identity inputs as bound: {@code headers} holds only accepted values; {@code rejected} is true
     * when the client or an Authorization header was written but refused (already a problem), so whether the
     * service has an identity cannot be told.
     */
    record ServiceIdentity(String path, String clientPath, Map<String, String> headers, String client,
            boolean rejected) {
    }

    /**
     * What auth.keys offers to identify a service: the valid client ids in file order, the digests of the keys
     * resolved, and whether every entry resolved its key (else an unknown key may be one that failed).
     */
    record AuthFacts(boolean enabled, Set<String> clientIds, Set<String> digests, boolean allKeysResolved) {
    }

    CrossChecks(Node.Context ctx, Target target) {
        this.ctx = ctx;
        this.target = target;
    }

    /** A listener port 1024-65535 that no other listener of the file uses. */
    Integer port(Node node, boolean required) {
        if (node.absent()) {
            if (required) {
                node.problem("required (expected: a port 1024-65535)");
            }
            return null;
        }
        Integer port = node.integer(1024, 65535);
        if (port != null) {
            claim(port, node.path);
        }
        return port;
    }

    /** Records that {@code path} listens on {@code port}; a second claim is a problem naming the first. */
    void claim(int port, String path) {
        String first = ports.putIfAbsent(port, path);
        if (first != null) {
            ctx.problem(path, "port " + port + " is already used by " + first);
        }
    }

    void service(ServiceIdentity identity) {
        identities.add(identity);
    }

    void auth(AuthFacts facts) {
        authFacts = facts;
    }

    /**
     * Queue proxy with auth enabled: a request on a service port is identified by the key its Authorization
     * header injects, else by the service's client. So a client must name a client_id of auth.keys, and a
     * service needs one or the other. Header values are secrets: never echoed, not even in part.
     */
    void serviceIdentities() {
        AuthFacts auth = authFacts;
        if (target != Target.QUEUE_PROXY || auth == null || !auth.enabled()) {
            return;
        }
        for (ServiceIdentity s : identities) {
            if (s.client() != null && !auth.clientIds().isEmpty() && !auth.clientIds().contains(s.client())) {
                ctx.problem(s.clientPath(), s.client() + " is not a client_id of auth.keys (expected: one of "
                        + String.join(", ", auth.clientIds()) + ")");
            }
            if (s.client() != null || s.rejected()) {
                continue;
            }
            String authorization = Values.authorization(s.headers());
            String token = BearerTokens.parse(authorization);
            if (token != null && auth.digests().contains(KeyConfig.sha256Hex(token))) {
                continue;
            }
            String problem = "no client identity: auth is enabled, so a service needs an Authorization header"
                    + " carrying a key of auth.keys, or client naming one of their client_id";
            if (authorization == null) {
                ctx.problem(s.path(), problem);
            } else if (auth.allKeysResolved()) {
                // Not when a key of auth.keys failed: it may be the one injected, and that is reported already.
                ctx.problem(s.path(), problem + "; its Authorization header carries no key of auth.keys");
            }
        }
    }
}
