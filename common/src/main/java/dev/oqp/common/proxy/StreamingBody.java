package dev.oqp.common.proxy;

import java.nio.ByteBuffer;

import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;

/**
 * Copies the upstream's body to the client chunk by chunk as it arrives; nothing is buffered. The next upstream
 * chunk is read only once the previous one was written (backpressure), and a write that fails means the client
 * left: the upstream exchange is aborted so Ollama stops generating.
 */
final class StreamingBody {
    private final Response proxyToClientResponse;
    private final Exchange exchange;

    StreamingBody(Response proxyToClientResponse, Exchange exchange) {
        this.proxyToClientResponse = proxyToClientResponse;
        this.exchange = exchange;
    }

    /** Writes {@code serverToProxyChunk} to the client, then asks the upstream for the next one. */
    void onContent(org.eclipse.jetty.client.Response serverToProxyResponse, Content.Chunk serverToProxyChunk,
                   Runnable serverToProxyDemander) {
        serverToProxyChunk.retain();
        write(serverToProxyResponse, serverToProxyChunk.getByteBuffer(), () -> {
            serverToProxyChunk.release();
            serverToProxyDemander.run();
        }, serverToProxyChunk::release);
    }

    /**
     * Writes {@code content} to the client, then runs {@code written}; when the client cannot be written to it
     * left: runs {@code notWritten} and aborts the upstream.
     */
    void write(org.eclipse.jetty.client.Response serverToProxyResponse, ByteBuffer content, Runnable written,
               Runnable notWritten) {
        proxyToClientResponse.write(false, content, new Callback() {
            @Override
            public void succeeded() {
                written.run();
            }

            @Override
            public void failed(Throwable failure) {
                notWritten.run();
                exchange.clientGone(true);
                serverToProxyResponse.abort(failure);
            }

            @Override
            public InvocationType getInvocationType() {
                return InvocationType.NON_BLOCKING;
            }
        });
    }

    /** The upstream's body ended: ends the client's, then completes {@code last}. */
    void onSuccess(Callback last) {
        proxyToClientResponse.write(true, BufferUtil.EMPTY_BUFFER, last);
    }
}
