package dev.oqp.common.config;

import static dev.oqp.common.config.Values.or;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Binds {@code services[]}. Each service claims its port and hands its client identity to {@link CrossChecks},
 * which judges it against auth.keys once auth is bound.
 */
final class ServiceBinder {

    /** The keys of a service. */
    enum Key { NAME, LISTEN, BIND, ALLOW_PUBLIC, UPSTREAM, TIMEOUT, CONNECT_TIMEOUT, MAX_BODY, HEADERS, CLIENT, CA_FILE, EARLY_HEADERS }

    private ServiceBinder() {
    }

    static List<ServiceConfig> bind(Node node, Binding b) {
        List<ServiceConfig> out = new ArrayList<>();
        Map<String, String> names = new LinkedHashMap<>();
        List<Node> elements = node.elements();
        if (b.target == Target.SIDECAR && elements.isEmpty() && (node.absent() || node.isList())) {
            node.problem("at least one service is required by " + b.target.binaryName());
        }
        for (Node element : elements) {
            Node.Mapping<Key> m = element.mapping(Key.class);
            if (!element.absent() && !element.json.isObject()) {
                continue;
            }
            String name = Values.uniqueId(m.get(Key.NAME), names, "service name");
            Integer listen = b.checks.port(m.get(Key.LISTEN), true);
            boolean allowPublic = or(m.get(Key.ALLOW_PUBLIC).bool(), ServiceConfig.DEFAULT_ALLOW_PUBLIC);
            String bind = Values.bindAddress(m.get(Key.BIND), allowPublic, Node.keyName(Key.ALLOW_PUBLIC),
                    ServiceConfig.DEFAULT_BIND);
            URI upstream = Hosts.httpUrl(m.get(Key.UPSTREAM));
            if (b.target == Target.SIDECAR && m.get(Key.UPSTREAM).absent()) {
                m.get(Key.UPSTREAM).problem("required by " + b.target.binaryName());
            }
            Duration timeout = or(m.get(Key.TIMEOUT).duration(false), ServiceConfig.DEFAULT_TIMEOUT);
            Duration connectTimeout = or(m.get(Key.CONNECT_TIMEOUT).duration(false),
                    ServiceConfig.DEFAULT_CONNECT_TIMEOUT);
            long maxBody = or(m.get(Key.MAX_BODY).size(), ServiceConfig.DEFAULT_MAX_BODY);
            Node headersNode = m.get(Key.HEADERS);
            Map<String, String> headers = Values.headers(headersNode);
            Node clientNode = m.get(Key.CLIENT);
            String client = Values.id(clientNode);
            boolean authorizationRejected = !headersNode.absent() && (!headersNode.json.isObject()
                    || writesAuthorization(headersNode) && Values.authorization(headers) == null);
            // The identity problem names the service: "services[2] (memsearch): no client identity …".
            String identityPath = name == null ? element.path : element.path + " (" + name + ")";
            b.checks.service(new CrossChecks.ServiceIdentity(identityPath, clientNode.path, headers, client,
                    authorizationRejected || !clientNode.absent() && client == null));
            Path caFile = Values.certificateFile(m.get(Key.CA_FILE), b.baseDir);
            boolean earlyHeaders = or(m.get(Key.EARLY_HEADERS).bool(), false);
            b.add(out, element.path, () -> new ServiceConfig(name, listen, bind, allowPublic, upstream, timeout,
                    connectTimeout, maxBody, headers, client, caFile, earlyHeaders));
        }
        return out;
    }

    /** True when the file writes an Authorization header, accepted or not. */
    private static boolean writesAuthorization(Node headers) {
        for (Map.Entry<String, JsonNode> e : headers.json.properties()) {
            if (e.getKey().equalsIgnoreCase("authorization")) {
                return true;
            }
        }
        return false;
    }
}
