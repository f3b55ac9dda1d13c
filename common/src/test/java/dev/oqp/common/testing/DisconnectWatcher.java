package dev.oqp.common.testing;

import java.io.IOException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.Map;
import java.util.Queue;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;

import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.util.BufferUtil;

/**
 * Notices a client closing its connection while the fake is not reading or writing it (waiting for a
 * slot, sleeping between tokens, stalled).
 *
 * <p>Jetty's HTTP/1.1 connection does not read while a request is being handled, so a peer close is
 * silent until the next write. This watcher registers the raw socket channel with a second selector
 * for {@code OP_READ} while an exchange is armed. A client that does not pipeline sends nothing while
 * it waits for its response, so readiness means EOF, RST or (over TLS) a close_notify: the watcher
 * then fills the Jetty end point (decrypting over TLS) and reports a close on -1 or an I/O error.
 * Exchanges are disarmed before their last write, so the next request on a kept-alive connection is
 * never consumed here.
 */
final class DisconnectWatcher implements AutoCloseable {

    /** One armed exchange. */
    final class Watch {
        private final EndPoint endPoint;
        private final SelectableChannel channel;
        private final Runnable onClosed;
        private boolean active = true;

        private Watch(EndPoint endPoint, SelectableChannel channel, Runnable onClosed) {
            this.endPoint = endPoint;
            this.channel = channel;
            this.onClosed = onClosed;
        }

        /** Stops watching; after it returns the watcher never touches the end point for this exchange. */
        void disarm() {
            synchronized (this) {
                if (!active) {
                    return;
                }
                active = false;
            }
            submit(() -> {
                SelectionKey key = keys.get(channel);
                if (key != null && key.isValid() && key.attachment() == this) {
                    key.interestOps(0);
                    key.attach(null);
                }
            });
        }

        private void probe() {
            boolean closed;
            synchronized (this) {
                if (!active) {
                    return;
                }
                try {
                    // Jetty buffers are in flush mode: BufferUtil.allocate gives an empty one with room to fill
                    closed = endPoint.fill(BufferUtil.allocate(16 * 1024)) < 0;
                } catch (IOException | RuntimeException e) {
                    closed = true;
                }
                if (!closed) {
                    // 0: a partial TLS record; > 0: unexpected pipelined bytes (dropped). Keep watching.
                    submit(() -> arm(this));
                    return;
                }
                active = false;
            }
            onClosed.run();
        }
    }

    private final Selector selector;
    private final Executor executor;
    private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final Map<SelectableChannel, SelectionKey> keys = new WeakHashMap<>();
    private final Thread thread;
    private volatile boolean running = true;

    DisconnectWatcher(Executor executor) throws IOException {
        this.selector = Selector.open();
        this.executor = executor;
        this.thread = new Thread(this::loop, "fake-ollama-disconnect-watcher");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    /** Starts watching the connection of {@code endPoint}; {@code onClosed} runs at most once, on an executor thread. */
    Watch watch(EndPoint endPoint, Runnable onClosed) {
        EndPoint raw = endPoint;
        while (raw instanceof EndPoint.Wrapper wrapper) {
            raw = wrapper.unwrap();
        }
        Object channel = raw.getTransport();
        if (!(channel instanceof SelectableChannel selectable)) {
            return null;
        }
        Watch watch = new Watch(endPoint, selectable, onClosed);
        submit(() -> arm(watch));
        return watch;
    }

    private void arm(Watch watch) {
        synchronized (watch) {
            if (!watch.active) {
                return;
            }
        }
        try {
            SelectionKey key = keys.get(watch.channel);
            if (key == null || !key.isValid()) {
                if (!watch.channel.isOpen()) {
                    executor.execute(watch::probe);
                    return;
                }
                key = watch.channel.register(selector, SelectionKey.OP_READ, watch);
                keys.put(watch.channel, key);
            } else {
                key.attach(watch);
                key.interestOps(SelectionKey.OP_READ);
            }
        } catch (IOException | IllegalStateException e) {
            executor.execute(watch::probe);
        }
    }

    private void submit(Runnable task) {
        tasks.add(task);
        selector.wakeup();
    }

    private void loop() {
        while (running) {
            try {
                selector.select(1000);
                Runnable task;
                while ((task = tasks.poll()) != null) {
                    task.run();
                }
                for (SelectionKey key : selector.selectedKeys()) {
                    if (key.isValid() && key.attachment() instanceof Watch watch) {
                        key.interestOps(0);
                        key.attach(null);
                        executor.execute(watch::probe);
                    } else if (key.isValid()) {
                        key.interestOps(0);
                    }
                }
                selector.selectedKeys().clear();
            } catch (ClosedSelectorException e) {
                return;
            } catch (IOException | RuntimeException e) {
                // keep watching other connections
            }
        }
    }

    @Override
    public void close() {
        running = false;
        try {
            selector.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }
}
