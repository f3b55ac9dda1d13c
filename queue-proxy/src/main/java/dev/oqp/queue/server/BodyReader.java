package dev.oqp.queue.server;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;

import dev.oqp.common.proxy.BodyTooLargeException;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;

/**
 * Reads a whole request body without blocking a thread, bounded by a limit: every chunk is copied as it
 * arrives and the next is demanded; the result is delivered once, on whichever thread read the last chunk.
 */
final class BodyReader implements Runnable {

    /** Receives the body or the failure, exactly once. */
    interface Done {
        /** @param failure null on success; a {@link BodyTooLargeException} past the limit; else the client's failure */
        void body(byte[] body, Throwable failure);
    }

    private final Request request;
    private final long limit;
    private final Done done;
    private final ByteArrayOutputStream out;

    private BodyReader(Request request, long limit, Done done) {
        this.request = request;
        this.limit = limit;
        this.done = done;
        long declared = request.getLength();
        this.out = new ByteArrayOutputStream(declared > 0 && declared <= Math.min(limit, 1 << 24) ? (int) declared : 4096);
    }

    /** Starts reading; {@code done} is called once. */
    static void read(Request request, long limit, Done done) {
        new BodyReader(request, limit, done).run();
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
                done.body(null, chunk.getFailure());
                return;
            }
            ByteBuffer buffer = chunk.getByteBuffer();
            int n = buffer.remaining();
            if ((long) out.size() + n > limit) {
                chunk.release();
                done.body(null, new BodyTooLargeException(limit));
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
                done.body(out.toByteArray(), null);
                return;
            }
        }
    }
}
