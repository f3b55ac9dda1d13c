package dev.oqp.common.proxy;

import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.Invocable;

/**
 * Builds the Jetty {@link HttpClient}s that talk to upstreams: the proxy base's, and the queue proxy's
 * health and model-list poller. Both share the server's threads, scheduler and buffers, verify TLS
 * certificates (endpoint identification, SNI), build no TLS context when no upstream is https, never
 * follow redirects and keep no cookies.
 */
public final class UpstreamClients {
    private UpstreamClients() {
    }

    /**
     * A client that is not started yet, with the connect timeout of {@code settings} and no {@code User-Agent}.
     *
     * @param nonBlocking true when every response listener is non-blocking: responses are then processed on
     *                    the thread that read them, without a hand-off to the pool
     */
    public static HttpClient create(ClientSettings settings, Server server, String name, boolean nonBlocking) {
        ClientConnector connector = settings.tls() ? new ClientConnector() : new PlainClientConnector();
        connector.setExecutor(server.getThreadPool());
        connector.setScheduler(server.getScheduler());
        connector.setByteBufferPool(server.getByteBufferPool());
        if (settings.tls()) {
            SslContextFactory.Client tls = new SslContextFactory.Client();
            // Certificates are verified (endpoint identification HTTPS, Jetty's default) and SNI is sent.
            if (settings.trustStore() != null) {
                tls.setTrustStore(settings.trustStore());
            }
            connector.setSslContextFactory(tls);
        }
        HttpClientTransportOverHTTP transport = new HttpClientTransportOverHTTP(connector);
        if (nonBlocking) {
            transport.setInvocationType(Invocable.InvocationType.NON_BLOCKING);
        }
        HttpClient client = new HttpClient(transport);
        // An upstream's redirect is its answer, never followed: following would carry the host's configured
        // headers (secrets for auth-gated upstreams) to wherever it points. No cookies are kept either.
        client.setFollowRedirects(false);
        client.setHttpCookieStore(new HttpCookieStore.Empty());
        client.setConnectTimeout(settings.connectTimeout().toMillis());
        client.setUserAgentField(null);
        client.setName(name);
        return client;
    }

    /** A connector for plain-HTTP upstreams only: it builds no TLS context. */
    private static final class PlainClientConnector extends ClientConnector {
        @Override
        protected SslContextFactory.Client newSslContextFactory() {
            return null;
        }
    }
}
