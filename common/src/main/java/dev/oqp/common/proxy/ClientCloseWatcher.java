package dev.oqp.common.proxy;

import java.io.IOException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import org.eclipse.jetty.io.AbstractEndPoint;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.EofException;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;

/**
 * Notices a client that closes its connection while the proxy has nothing to write to it.
 *
 * <p>Jetty's HTTP/1.1 server does not read from a connection while a request is being handled once its
 * body has been read, so a client that goes away stays unnoticed until the next write to it; during a
 * model load the upstream may be silent for minutes, and Ollama would go on loading and then generating
 * for nobody. This watcher registers read interest on the client's connection after the request body has
 * been sent upstream: end of stream means the client is gone (nginx treats it the same way), and the
 * {@code onClientGone} action aborts the upstream exchange.
 *
 * <p>HTTP/1.1 clients do not pipeline in practice; if one does, the byte read here belongs to its next
 * request, so the connection is marked to be closed after the current response ({@link #pipelined()}).
 * The watcher is stopped before the response completes, so the connection's own read interest for the
 * next request is never disturbed.
 */
final class ClientCloseWatcher implements Callback {
    private static final int IDLE = 0;
    private static final int WATCHING = 1;
    private static final int STOPPED = 2;
    private static final CancellationException STOP = new CancellationException("exchange complete");

    private final AbstractEndPoint endPoint;
    private final Consumer<Throwable> onClientGone;
    private final AtomicInteger state = new AtomicInteger(IDLE);
    private volatile boolean pipelined;

    private ClientCloseWatcher(AbstractEndPoint endPoint, Consumer<Throwable> onClientGone) {
        this.endPoint = endPoint;
        this.onClientGone = onClientGone;
    }

    /** A watcher for the connection of {@code clientToProxyRequest}, or null when it cannot be watched. */
    static ClientCloseWatcher of(Request clientToProxyRequest, Consumer<Throwable> onClientGone) {
        EndPoint endPoint = clientToProxyRequest.getConnectionMetaData().getConnection().getEndPoint();
        return endPoint instanceof AbstractEndPoint abstractEndPoint
                ? new ClientCloseWatcher(abstractEndPoint, onClientGone) : null;
    }

    /** Starts watching; call once the request body has been consumed. */
    void start() {
        if (state.compareAndSet(IDLE, WATCHING) && !endPoint.tryFillInterested(this)) {
            // Someone else reads this connection: nothing to watch.
            state.compareAndSet(WATCHING, IDLE);
        }
    }

    /** Stops watching; call before the response to the client completes. Idempotent. */
    void stop() {
        if (state.getAndSet(STOPPED) == WATCHING) {
            endPoint.getFillInterest().onFail(STOP);
        }
    }

    /** True when the client sent bytes of another request: the connection must close after this response. */
    boolean pipelined() {
        return pipelined;
    }

    @Override
    public void succeeded() {
        if (state.get() != WATCHING) {
            return;
        }
        try {
            // Jetty's buffers are kept in flush mode: an empty one has limit 0.
            int filled = endPoint.fill(BufferUtil.allocate(1));
            if (filled < 0) {
                state.set(STOPPED);
                onClientGone.accept(new EofException("client closed the connection"));
            } else if (filled > 0) {
                pipelined = true;
                state.set(STOPPED);
            } else if (state.get() == WATCHING && !endPoint.tryFillInterested(this)) {
                state.compareAndSet(WATCHING, IDLE);
            }
        } catch (IOException x) {
            state.set(STOPPED);
            onClientGone.accept(x);
        }
    }

    @Override
    public void failed(Throwable x) {
        if (x == STOP || state.getAndSet(STOPPED) != WATCHING) {
            return;
        }
        onClientGone.accept(x);
    }

    @Override
    public InvocationType getInvocationType() {
        return InvocationType.NON_BLOCKING;
    }
}
