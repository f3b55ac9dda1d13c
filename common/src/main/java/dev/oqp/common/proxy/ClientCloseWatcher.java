package dev.oqp.common.proxy;

import java.io.IOException;
import java.util.concurrent.CancellationException;
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
public final class ClientCloseWatcher implements Callback {
    private static final CancellationException STOP = new CancellationException("exchange complete");

    private final AbstractEndPoint endPoint;
    private final Consumer<Throwable> onClientGone;
    private final boolean bytesMeanGone;
    /*
     * All state changes and every registration of read interest happen under this object's lock, so that
     * once stop() returns no read interest of ours is left on the connection: a dangling one would take
     * the place of the connection's own and lose the client's next request.
     */
    private boolean started;
    private boolean stopped;
    private boolean registered;
    private volatile boolean pipelined;

    private ClientCloseWatcher(AbstractEndPoint endPoint, Consumer<Throwable> onClientGone, boolean bytesMeanGone) {
        this.endPoint = endPoint;
        this.onClientGone = onClientGone;
        this.bytesMeanGone = bytesMeanGone;
    }

    /** A watcher for the connection of {@code clientToProxyRequest}, or null when it cannot be watched. */
    public static ClientCloseWatcher of(Request clientToProxyRequest, Consumer<Throwable> onClientGone) {
        return of(clientToProxyRequest, onClientGone, false);
    }

    /**
     * As {@link #of(Request, Consumer)}; with {@code bytesMeanGone}, bytes arriving are treated like the client
     * leaving (the queue proxy's rule for a client whose request waits in the queue), not as pipelining.
     */
    public static ClientCloseWatcher of(Request clientToProxyRequest, Consumer<Throwable> onClientGone,
                                        boolean bytesMeanGone) {
        EndPoint endPoint = clientToProxyRequest.getConnectionMetaData().getConnection().getEndPoint();
        return endPoint instanceof AbstractEndPoint abstractEndPoint
                ? new ClientCloseWatcher(abstractEndPoint, onClientGone, bytesMeanGone) : null;
    }

    /** Starts watching; call once the request body has been consumed. No effect after {@link #stop()}. */
    public synchronized void start() {
        if (started || stopped) {
            return;
        }
        started = true;
        // false: someone else reads this connection, so there is nothing to watch.
        registered = endPoint.tryFillInterested(this);
    }

    /** Stops watching and withdraws any read interest of ours. Idempotent. */
    public synchronized void stop() {
        if (stopped) {
            return;
        }
        stopped = true;
        if (registered) {
            registered = false;
            endPoint.getFillInterest().onFail(STOP);
        }
    }

    /** True when the client sent bytes of another request: the connection must close after this response. */
    public boolean pipelined() {
        return pipelined;
    }

    @Override
    public void succeeded() {
        Throwable gone = null;
        synchronized (this) {
            registered = false;
            if (stopped) {
                return;
            }
            try {
                // Jetty's buffers are kept in flush mode: an empty one has limit 0.
                int filled = endPoint.fill(BufferUtil.allocate(1));
                if (filled < 0) {
                    stopped = true;
                    gone = new EofException("client closed the connection");
                } else if (filled > 0 && bytesMeanGone) {
                    stopped = true;
                    gone = new EofException("client sent bytes while its request was waiting");
                    endPoint.close(gone);
                } else if (filled > 0) {
                    pipelined = true;
                    stopped = true;
                } else {
                    registered = endPoint.tryFillInterested(this);
                }
            } catch (IOException x) {
                stopped = true;
                gone = x;
            }
        }
        if (gone != null) {
            onClientGone.accept(gone);
        }
    }

    @Override
    public void failed(Throwable x) {
        synchronized (this) {
            registered = false;
            if (x == STOP || stopped) {
                return;
            }
            stopped = true;
        }
        onClientGone.accept(x);
    }

    @Override
    public InvocationType getInvocationType() {
        return InvocationType.NON_BLOCKING;
    }
}
