package dev.oqp.common.proxy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place the proxy base buffers an answer, and only when a {@link ResponseTap} opted in with a
 * {@link ResponseRewriter}: collects the upstream's body up to {@link ResponseRewriter#maxBytes()}, then sends the
 * rewriter's replacement in one write with its own {@code Content-Length}. Past the limit it either aborts the
 * upstream (the client gets 502) or, when the rewriter passes large answers through, hands what it collected and
 * the rest of the body to {@link StreamingBody}. Used on the upstream's thread only.
 */
final class CollectingBody {
    private static final Logger LOG = LoggerFactory.getLogger(ProxyBase.class);

    private final Request clientToProxyRequest;
    private final Response proxyToClientResponse;
    private final ResponseRewriter rewriter;
    private final StreamingBody streaming;
    /** Null once the answer is passed through. */
    private ByteArrayOutputStream collected;

    CollectingBody(Request clientToProxyRequest, org.eclipse.jetty.client.Response serverToProxyResponse,
                   Response proxyToClientResponse, ResponseRewriter rewriter, StreamingBody streaming) {
        this.clientToProxyRequest = clientToProxyRequest;
        this.proxyToClientResponse = proxyToClientResponse;
        this.rewriter = rewriter;
        this.streaming = streaming;
        // The length sent is the replacement's.
        proxyToClientResponse.getHeaders().remove(HttpHeader.CONTENT_LENGTH);
        long declared = serverToProxyResponse.getHeaders().getLongField(HttpHeader.CONTENT_LENGTH);
        this.collected = new ByteArrayOutputStream((int) Math.max(256, Math.min(declared, 1 << 20)));
    }

    void onContent(org.eclipse.jetty.client.Response serverToProxyResponse, Content.Chunk serverToProxyChunk,
                   Runnable serverToProxyDemander) {
        if (collected == null) {
            streaming.onContent(serverToProxyResponse, serverToProxyChunk, serverToProxyDemander);
            return;
        }
        ByteBuffer content = serverToProxyChunk.getByteBuffer();
        int length = content.remaining();
        if (collected.size() + (long) length > rewriter.maxBytes()) {
            if (!rewriter.passThroughWhenLarger()) {
                serverToProxyResponse.abort(new IOException("upstream answer larger than "
                        + rewriter.maxBytes() + " bytes to rewrite"));
                return;
            }
            passThrough(serverToProxyResponse, serverToProxyChunk, serverToProxyDemander);
            return;
        }
        byte[] copy = new byte[length];
        content.get(copy);
        collected.write(copy, 0, length);
        serverToProxyDemander.run();
    }

    /** Gives up rewriting: what was collected goes to the client, then this chunk and the rest as they come. */
    private void passThrough(org.eclipse.jetty.client.Response serverToProxyResponse, Content.Chunk chunk,
                             Runnable demander) {
        long declared = serverToProxyResponse.getHeaders().getLongField(HttpHeader.CONTENT_LENGTH);
        if (declared >= 0) {
            proxyToClientResponse.getHeaders().put(HttpHeader.CONTENT_LENGTH, declared);
        }
        byte[] head = collected.toByteArray();
        collected = null;
        chunk.retain();
        streaming.write(serverToProxyResponse, ByteBuffer.wrap(head), () -> {
            // The chunk was already shown to the tap: written as the streaming path writes it (which retains it).
            streaming.onContent(serverToProxyResponse, chunk, demander);
            chunk.release();
        }, chunk::release);
    }

    /** The upstream's body ended: sends the replacement (or ends a passed-through body), then completes {@code last}. */
    void onSuccess(Callback last) {
        if (collected == null) {
            streaming.onSuccess(last);
            return;
        }
        byte[] replacement;
        try {
            replacement = rewriter.rewrite(collected.toByteArray());
        } catch (Exception | OutOfMemoryError x) {
            if (LOG.isDebugEnabled()) {
                LOG.debug("{} S2P answer could not be rewritten: {}", ProxyBase.idOf(clientToProxyRequest), x.toString());
            }
            ErrorResponses.write(clientToProxyRequest, proxyToClientResponse, last, 502,
                    x.getMessage() == null ? "upstream answer could not be used" : x.getMessage());
            return;
        }
        proxyToClientResponse.getHeaders().put(HttpHeader.CONTENT_LENGTH, replacement.length);
        proxyToClientResponse.write(true, ByteBuffer.wrap(replacement), last);
    }
}
