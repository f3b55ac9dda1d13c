package dev.oqp.queue.server;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;

import dev.oqp.common.proxy.BodyTooLargeException;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;

/**
 * Reads a whole request body without blocking a thread, bounded by a limit: every chunk is copied as it
 * arrives and the next is demanded; the result is delivered once, on whichever thread read the last chunk.
 *
 * <p>Memory grows with the bytes received, never with what {@code Content-Length} claims, and every byte
 * held is first reserved from a budget shared by all bodies being read at once: past it the read fails with
 * {@link BudgetExceeded} (the gate answers 503), so slow senders cannot fill the heap together.
 */
final class BodyReader implements Runnable {

    /** Receives the body or the failure, exactly once. */
    interface Done {
        /** @param failure null on success; a {@link BodyTooLargeException} past the limit; else the client's failure */
        void body(byte[] body, Throwable failure);
    }

    /** The bytes of all bodies being read at once would pass their shared budget. */
    static final class BudgetExceeded extends RuntimeException {
        BudgetExceeded() {
            super("request bodies being received exceed their memory budget", null, false, false);
        }
    }

    /** Bytes held by bodies being read, shared by every reader of one proxy. */
    static final class Budget {
        private final AtomicLong held = new AtomicLong();
        private volatile long limit;

        Budget(long limit) {
            this.limit = limit;
        }

        /** A reload's new budget ({@link MemoryBudget#bodies}): bodies already held stay; new reservations see it. */
        void limit(long limit) {
            this.limit = limit;
        }

        boolean reserve(long n) {
            if (held.addAndGet(n) > limit) {
                held.addAndGet(-n);
                return false;
            }
            return true;
        }

        void release(long n) {
            held.addAndGet(-n);
        }

        long held() {
            return held.get();
        }
    }

    private final Request request;
    private final long limit;
    private final Budget budget;
    private final Done done;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream(4096);

    private BodyReader(Request request, long limit, Budget budget, Done done) {
        this.request = request;
        this.limit = limit;
        this.budget = budget;
        this.done = done;
    }

    /** Starts reading; {@code done} is called once, after the bytes reserved for the body were released. */
    static void read(Request request, long limit, Budget budget, Done done) {
        new BodyReader(request, limit, budget, done).run();
    }

    private void finish(byte[] body, Throwable failure) {
        budget.release(out.size());
        done.body(body, failure);
    }

    @Override
    public void run() {
        while (true) {
            Content.Chunk chunk = request.read();
            if (chunk == null) {
                request.demand(this);
                return;
            }
            if (Content.Chunk.isFailure(chunk)) {
                finish(null, chunk.getFailure());
                return;
            }
            ByteBuffer buffer = chunk.getByteBuffer();
            int n = buffer.remaining();
            if ((long) out.size() + n > limit) {
                chunk.release();
                finish(null, new BodyTooLargeException(limit));
                return;
            }
            if (!budget.reserve(n)) {
                chunk.release();
                finish(null, new BudgetExceeded());
                return;
            }
            if (n > 0) {
                if (buffer.hasArray()) {
                    out.write(buffer.array(), buffer.arrayOffset() + buffer.position(), n);
                } else {
                    byte[] copy = new byte[n];
                    buffer.duplicate().get(copy);
                    out.write(copy, 0, n);
                }
            }
            boolean last = chunk.isLast();
            chunk.release();
            if (last) {
                finish(out.toByteArray(), null);
                return;
            }
        }
    }
}
