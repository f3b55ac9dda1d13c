package dev.oqp.common.proxy;

import java.nio.ByteBuffer;

import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;

/**
 * Observes one upstream answer on its way to the client, and may ask to replace it. Obtained from
 * {@link ProxyBase#tap(Request)} when the headers of an upstream answer arrive, so it only ever sees the attempt
 * that answered (an attempt that failed over before answering never had one). Its methods run on the upstream's
 * thread, one after the other, in this order: {@link #onHeaders} once, {@link #rewriter} once, then
 * {@link #onContent} for every chunk of the body. They must not block and must not throw. Every method does
 * nothing by default.
 */
public interface ResponseTap {
    /**
     * The upstream's status and headers, once they were copied to {@code proxyToClientResponse} (and
     * {@link ProxyBase#addResponseHeaders} ran) and before anything is written to the client: the place to look at
     * them and to add response headers. Never write to {@code proxyToClientResponse}.
     */
    default void onHeaders(org.eclipse.jetty.client.Response serverToProxyResponse, Response proxyToClientResponse) {
    }

    /**
     * Null (the default) to stream the answer chunk by chunk, or a rewriter to collect it whole and send its
     * replacement (see {@link ResponseRewriter}); {@link #onContent} still sees every chunk either way.
     */
    default ResponseRewriter rewriter(org.eclipse.jetty.client.Response serverToProxyResponse) {
        return null;
    }

    /**
     * A chunk of the upstream's body, just before it is written to the client (or collected). The buffer is a
     * read-only view: read it, never keep it past this call.
     */
    default void onContent(ByteBuffer serverToProxyContent) {
    }
}
