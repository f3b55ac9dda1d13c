package dev.oqp.common.proxy;

import java.net.URI;
import java.time.Duration;
import java.util.Objects;

import org.eclipse.jetty.http.HttpURI;

/**
 * Where one proxied exchange goes: a name for logs and metrics, the upstream base URI (scheme, authority
 * and an optional path prefix) and the idle timeout of the exchange.
 *
 * <p>The idle timeout is an idle timeout, never a total one: a generation may stream for many minutes
 * and a model load may take minutes before the first byte; only silence longer than this ends it.
 *
 * @param name        a name from configuration (service or host), used in logs and metric labels
 * @param baseUri     {@code http} or {@code https} URI; its path, when not empty, prefixes every request path
 * @param idleTimeout longest silence allowed from the upstream while the exchange is in progress
 */
public record Upstream(String name, URI baseUri, Duration idleTimeout) {
    public Upstream {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(baseUri, "baseUri");
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        if (!"http".equals(baseUri.getScheme()) && !"https".equals(baseUri.getScheme())) {
            throw new IllegalArgumentException("baseUri: " + baseUri + " (expected: http or https)");
        }
        if (idleTimeout.isNegative() || idleTimeout.isZero()) {
            throw new IllegalArgumentException("idleTimeout: " + idleTimeout + " (expected: > 0)");
        }
    }

    /** The URI the upstream request is sent to: this upstream's base, the client's raw path and query. */
    HttpURI resolve(HttpURI clientToProxyUri) {
        String prefix = baseUri.getRawPath();
        if (prefix == null || prefix.equals("/")) {
            prefix = "";
        } else if (prefix.endsWith("/")) {
            prefix = prefix.substring(0, prefix.length() - 1);
        }
        String path = clientToProxyUri.getPath();
        return HttpURI.build()
                .scheme(baseUri.getScheme())
                .host(baseUri.getHost())
                .port(baseUri.getPort())
                .path(prefix + (path == null || path.isEmpty() ? "/" : path))
                .query(clientToProxyUri.getQuery());
    }

    /** The authority sent upstream as {@code Host}: {@code host[:port]} of the base URI. */
    public String authority() {
        return baseUri.getPort() < 0 ? baseUri.getHost() : baseUri.getHost() + ":" + baseUri.getPort();
    }
}
