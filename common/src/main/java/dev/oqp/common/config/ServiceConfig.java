package dev.oqp.common.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * One client injection port ({@code services[]}): every request accepted on {@code bind:listen}
 * gets {@code headers} set (replacing same-named ones). The sidecar streams it to
 * {@code upstream}; the queue proxy sends it through its normal pipeline.
 *
 * @param name           unique, {@code [A-Za-z0-9._-]{1,64}}; the sidecar sends it upstream as {@code X-Client-Name}
 * @param listen         port, 1024-65535, unique across the whole file; no default
 * @param bind           IP literal or {@code localhost}; default {@code 127.0.0.1}
 * @param allowPublic    must be true for a non-loopback {@code bind}; default false
 * @param upstream       http(s) base URL without path, query or credentials; required by the sidecar,
 *                       unused by the queue proxy; {@code null} when absent
 * @param timeout        upstream idle timeout (not total); default 300s; always positive
 * @param connectTimeout upstream connect timeout; default 10s; always positive
 * @param maxBody        largest request body in bytes (larger gets 413); default 64 MiB; always positive
 * @param headers        headers to set, in file order, values already interpolated; default empty
 * @param client         queue proxy: client identity when the headers carry no known key; {@code null} when absent
 * @param caFile         PEM certificates to trust for an https upstream (in addition to the JVM's);
 *                       absolute path; {@code null} when absent
 * @param earlyHeaders   queue proxy only: streamed native requests on this port ({@code /api/generate},
 *                       {@code /api/chat}) get their 200 and headers once they waited
 *                       {@code queue.early_headers_after}, and a failure as a final {@code {"error":"…"}} line;
 *                       default false
 */
public record ServiceConfig(String name, int listen, String bind, boolean allowPublic, URI upstream,
        Duration timeout, Duration connectTimeout, long maxBody, Map<String, String> headers,
        String client, Path caFile, boolean earlyHeaders) {

    /** Default bind address: this machine only. */
    public static final String DEFAULT_BIND = "127.0.0.1";
    /** By default only a loopback {@code bind} is accepted. */
    public static final boolean DEFAULT_ALLOW_PUBLIC = false;
    /** Default upstream idle timeout. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(300);
    /** Default upstream connect timeout. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);
    /** Default largest request body: 64 MiB. */
    public static final long DEFAULT_MAX_BODY = 64L << 20;

    public ServiceConfig {
        Objects.requireNonNull(name, "name");
        Checks.range("listen", listen, 1024, 65535);
        Objects.requireNonNull(bind, "bind");
        Checks.positive("timeout", timeout);
        Checks.positive("connectTimeout", connectTimeout);
        Checks.positive("maxBody", maxBody);
        headers = Checks.headers(headers);
    }

    /** A service without early headers. */
    public ServiceConfig(String name, int listen, String bind, boolean allowPublic, URI upstream, Duration timeout,
            Duration connectTimeout, long maxBody, Map<String, String> headers, String client, Path caFile) {
        this(name, listen, bind, allowPublic, upstream, timeout, connectTimeout, maxBody, headers, client, caFile,
                false);
    }

    /** Header values are secrets: shown as {@code ***}. */
    @Override
    public String toString() {
        return "ServiceConfig[name=" + name + ", listen=" + listen + ", bind=" + bind + ", allowPublic=" + allowPublic
                + ", upstream=" + upstream + ", timeout=" + timeout + ", connectTimeout=" + connectTimeout
                + ", maxBody=" + maxBody + ", headers=" + headers.keySet() + "=***, client=" + client
                + ", caFile=" + caFile + ", earlyHeaders=" + earlyHeaders + "]";
    }
}
