package dev.oqp.queue.server;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import dev.oqp.common.proxy.ProxyBase;
import dev.oqp.queue.routing.SlotPool;
import dev.oqp.queue.scheduler.Scheduler;
import dev.oqp.queue.scheduler.Standing;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;

/**
 * The answer of a streamed request that waits long in the queue, begun before it is dispatched, so that an
 * intermediary with a header timeout (Cloudflare about 100 s, nginx 60 s) never cuts a request that is validly
 * queued. Once the request has waited {@code queue.early_headers_after}, its 200 and headers are sent at once;
 * on an SSE route an SSE comment {@code : queued position=3 eta=12s} follows, then one every
 * {@code queue.heartbeat} until the wait ends; an NDJSON stream gets nothing more (NDJSON has no comments, and a
 * blank or non-JSON line would break its clients). Once open, the request's failures are reported inside the
 * stream ({@link Call#answer}, and the proxy base after dispatch).
 *
 * <p>Eligible: streamed requests to the OpenAI-style SSE routes, always (unless {@code early_headers_after} is 0);
 * streamed {@code /api/generate} and {@code /api/chat} only where the key or the injection port has
 * {@code early_headers: true}.
 *
 * <p>No thread waits: the first write and each heartbeat are tasks of the server's shared scheduler, one armed at a
 * time per waiting request, cancelled when the wait ends. Writes never overlap: {@link #close} runs what ends the
 * wait (the hand-off to the forwarder, an answer) only once a write in progress is done.
 */
final class EarlyHeaders {
    /** The OpenAI-style routes whose streams are SSE. */
    private static final Set<String> SSE_ROUTES = Set.of("/v1/chat/completions", "/v1/completions", "/v1/responses",
            "/v1/messages");
    /** The native routes whose streams may open early, where opted in. */
    private static final Set<String> NDJSON_ROUTES = Set.of("/api/generate", "/api/chat");

    private final Call call;
    private final boolean eventStream;
    private final Scheduler<SlotPool.HostLease> queue;
    private final org.eclipse.jetty.util.thread.Scheduler timer;
    private final Duration heartbeat;
    private final Callback written = new Callback() {
        @Override
        public void succeeded() {
            written(null);
        }

        @Override
        public void failed(Throwable failure) {
            written(failure);
        }

        @Override
        public InvocationType getInvocationType() {
            return InvocationType.NON_BLOCKING;
        }
    };
    // Guarded by this.
    private org.eclipse.jetty.util.thread.Scheduler.Task task;
    private boolean writing;
    private boolean closed;
    private Runnable afterWrite;

    private EarlyHeaders(Call call, boolean eventStream, Scheduler<SlotPool.HostLease> queue) {
        this.call = call;
        this.eventStream = eventStream;
        this.queue = queue;
        this.timer = call.request.getComponents().getScheduler();
        this.heartbeat = call.settings.config().queue().heartbeat();
    }

    /** Arms the early answer of {@code call}, just queued, when it is eligible; else returns null. */
    static EarlyHeaders arm(Call call, Scheduler<SlotPool.HostLease> queue) {
        Duration after = call.settings.config().queue().earlyHeadersAfter();
        if (!call.stream || after.isZero()) {
            return null;
        }
        String path = call.path();
        boolean eventStream = SSE_ROUTES.contains(path);
        if (!eventStream && !(NDJSON_ROUTES.contains(path) && call.settings.earlyHeaders(call.port, call.client))) {
            return null;
        }
        EarlyHeaders early = new EarlyHeaders(call, eventStream, queue);
        early.schedule(early::open, after);
        return early;
    }

    private synchronized void schedule(Runnable what, Duration delay) {
        if (!closed) {
            task = timer.schedule(what, delay.toNanos(), TimeUnit.NANOSECONDS);
        }
    }

    /** The request waited long enough: its status and headers go out now. */
    private void open() {
        synchronized (this) {
            if (closed) {
                return;
            }
            task = null;
            writing = true;
            call.earlyHeaders = true;
        }
        call.response.setStatus(200);
        HttpFields.Mutable headers = call.response.getHeaders();
        headers.put(HttpHeader.CONTENT_TYPE, eventStream ? "text/event-stream" : "application/x-ndjson");
        headers.put(ProxyBase.X_ACCEL_BUFFERING, "no");
        headers.put(HttpHeader.CACHE_CONTROL, "no-cache");
        headers.put(Headers.X_REQUEST_ID, call.requestId);
        headers.put(Headers.X_QUEUE_PRIORITY, call.tier.yamlName());
        if (call.ticket.position() > 0) {
            headers.put(Headers.X_QUEUE_POSITION, Integer.toString(call.ticket.position()));
        }
        // An empty write sends the headers (and nothing of the body) on an NDJSON stream.
        call.response.write(false, eventStream ? comment() : BufferUtil.EMPTY_BUFFER, written);
    }

    /** One more comment while the request keeps waiting. */
    private void beat() {
        synchronized (this) {
            if (closed) {
                return;
            }
            task = null;
            writing = true;
        }
        call.response.write(false, comment(), written);
    }

    /** {@code : queued position=3 eta=12s}, from where the request stands now, as an SSE comment of its own. */
    private ByteBuffer comment() {
        Standing standing = queue.standing(call.ticket);
        String text = standing == null ? ": queued\n\n"
                : ": queued position=" + standing.position() + " eta="
                        + TimeUnit.NANOSECONDS.toSeconds(standing.etaNanos() + 999_999_999L) + "s\n\n";
        return ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII));
    }

    private void written(Throwable failure) {
        Runnable next;
        synchronized (this) {
            writing = false;
            next = afterWrite;
            afterWrite = null;
        }
        if (failure != null) {
            // The client cannot be written to: it left. Its ticket's cancellation ends the wait (through close).
            call.gone = true;
            queue.cancel(call.ticket);
        } else if (next == null && eventStream) {
            schedule(this::beat, heartbeat);
        }
        if (next != null) {
            next.run();
        }
    }

    /**
     * The wait ended (dispatched, or answered): no more writes; {@code then} runs at once, or when the write in
     * progress is done.
     */
    void close(Runnable then) {
        synchronized (this) {
            closed = true;
            if (task != null) {
                task.cancel();
                task = null;
            }
            if (writing) {
                afterWrite = then;
                return;
            }
        }
        then.run();
    }
}
