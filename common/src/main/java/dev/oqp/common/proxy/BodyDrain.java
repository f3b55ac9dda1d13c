package dev.oqp.common.proxy;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpHeaderValue;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.Callback;

/**
 * A lingering close, as nginx does it, for a request answered without its body (a refusal): the answer is
 * written at once, then what the client still sends of its declared body is read and dropped (nothing held,
 * each chunk released as read) for at most {@link #DEADLINE_MILLIS} and at most a given number of bytes, and
 * only then is the exchange completed.
 * Closing while the client's bytes still arrive makes the kernel reset the connection, and the client may lose
 * the answer with it. A request without a declared body, or behind {@code Expect: 100-continue} (that client
 * sends nothing until told to), completes as soon as the answer is written.
 */
public final class BodyDrain {
    /** The longest a refused client's remaining body is read for after its answer. */
    public static final long DEADLINE_MILLIS = 3000;

    private BodyDrain() {
    }

    /** The most bytes read after an answer given before the client was authenticated. */
    public static final long UNAUTHENTICATED_BYTES = 64 * 1024;
    /** The most bytes read after any other early answer. */
    public static final long MAX_BYTES = 4L << 20;

    /**
     * The callback to write the answer to {@code request} with: once the answer is written, it lingers (see the
     * class comment) for at most {@code maxBytes} of the body, then completes {@code done}; a failed write fails
     * {@code done} at once.
     */
    public static Callback lingering(Request request, long maxBytes, Callback done) {
        if (request.getLength() == 0
                || request.getHeaders().contains(HttpHeader.EXPECT, HttpHeaderValue.CONTINUE.asString())) {
            return done;
        }
        return Callback.from(done.getInvocationType(), () -> new Linger(request, maxBytes, done).start(), done::failed);
    }

    /** Reads and drops chunks until the body ends, {@code maxBytes} were read, the deadline passes or it fails. */
    private static final class Linger implements Runnable {
        private final Request request;
        private final long maxBytes;
        private final Callback done;
        private final AtomicBoolean finished = new AtomicBoolean();
        private long read;

        Linger(Request request, long maxBytes, Callback done) {
            this.request = request;
            this.maxBytes = maxBytes;
            this.done = done;
        }

        void start() {
            request.getComponents().getScheduler().schedule(this::finish, DEADLINE_MILLIS, TimeUnit.MILLISECONDS);
            run();
        }

        @Override
        public void run() {
            while (!finished.get()) {
                Content.Chunk chunk = request.read();
                if (chunk == null) {
                    request.demand(this);
                    return;
                }
                boolean end = chunk.isLast() || Content.Chunk.isFailure(chunk);
                read += chunk.remaining();
                chunk.release();
                if (end || read >= maxBytes) {
                    finish();
                    return;
                }
            }
        }

        private void finish() {
            if (finished.compareAndSet(false, true)) {
                done.succeeded();
            }
        }
    }
}
