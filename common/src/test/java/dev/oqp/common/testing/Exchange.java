package dev.oqp.common.testing;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.NetworkChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.EofException;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * Drives one response: waits for a parallelism slot and the configured delays, then writes the lines
 * one by one (each write is flushed by Jetty), applying the request's fault. Ends exactly once:
 * completed, reset, or cancelled because the client went away.
 */
final class Exchange {

    private final FakeOllama fake;
    private final Request request;
    private final Response response;
    private final Callback callback;
    private final RecordedRequest record;
    private final Fault fault;
    private Reply reply;
    private DisconnectWatcher.Watch watch;
    private boolean finished;
    private boolean waitingForSlot;
    private boolean holdsSlot;
    /** Counted in its model's requests in progress ({@link FakeOllama#maxConcurrency(String)}); guarded by this. */
    private boolean countedForModel;
    private Scheduler.Task pending;
    private int next;
    private int lastIndex;

    Exchange(FakeOllama fake, Request request, Response response, Callback callback, RecordedRequest record, Fault fault) {
        this.fake = fake;
        this.request = request;
        this.response = response;
        this.callback = callback;
        this.record = record;
        this.fault = fault;
    }

    RecordedRequest record() {
        return record;
    }

    void start(Reply routed) {
        Reply r = routed;
        boolean openAi = r.format() == Reply.Format.OPENAI || record.path().startsWith("/v1/");
        if (fault instanceof Fault.Status status) {
            r = openAi ? Reply.openAiError(status.status(), status.message()) : Reply.error(status.status(), status.message());
        } else if (fault instanceof Fault.ErrorLineAfter error && !r.streamed() && r.status() < 300) {
            r = openAi ? Reply.openAiError(500, error.message()) : Reply.error(500, error.message());
        }
        this.reply = r;
        List<Supplier<byte[]>> lines = r.lines();
        lastIndex = lines.size() - 1;
        if (fault instanceof Fault.ErrorLineAfter error && r.streamed()) {
            // the error replaces everything from the limit on, the done line included
            lastIndex = Math.min(error.lines(), lines.size() - 1);
        }
        if (r.slotModel() != null) {
            // Counted per model from here until its last line is handed to the connection, or it ends otherwise.
            synchronized (this) {
                countedForModel = true;
            }
            fake.modelStarted(r.slotModel());
        }
        request.addFailureListener(this::clientGone);
        watch = fake.watcher().watch(request.getConnectionMetaData().getConnection().getEndPoint(),
                () -> clientGone(new EofException("client closed the connection")));
        if (r.slotModel() != null) {
            synchronized (this) {
                waitingForSlot = true;
            }
            fake.acquireSlot(r.slotModel(), this);
        } else {
            begin();
        }
    }

    /** Called by the slot pool; returns false if this exchange already ended (the slot is not taken). */
    boolean slotGranted() {
        synchronized (this) {
            if (finished) {
                return false;
            }
            waitingForSlot = false;
            holdsSlot = true;
        }
        fake.execute(this::begin);
        return true;
    }

    private void begin() {
        Duration delay = reply.workDelay();
        if (reply.slotModel() != null) {
            fake.markLoaded(reply.slotModel());
            delay = delay.plus(fake.firstByteDelay());
        }
        if (fault instanceof Fault.SlowHeaders slow) {
            delay = delay.plus(slow.delay());
        }
        schedule(delay, this::writeNext);
    }

    private void schedule(Duration delay, Runnable task) {
        synchronized (this) {
            if (finished) {
                return;
            }
            if (delay.isZero() || delay.isNegative()) {
                pending = null;
                fake.execute(task);
            } else {
                pending = fake.scheduler().schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
            }
        }
    }

    private void writeNext() {
        int index;
        synchronized (this) {
            if (finished) {
                return;
            }
            index = next;
        }
        int total = reply.lines().size();
        if (fault instanceof Fault.StallAfterLines stall && index >= stall.lines() && index < total) {
            return; // stay in flight until the client leaves
        }
        if (fault instanceof Fault.ResetAfterLines reset && index >= reset.lines() && index < total) {
            reset();
            return;
        }
        if (index == 0) {
            response.setStatus(reply.status());
            if (reply.contentType() != null) {
                response.getHeaders().put(HttpHeader.CONTENT_TYPE, reply.contentType());
            }
        }
        if (total == 0 || "HEAD".equals(record.method())) {
            disarm();
            runOnComplete();
            complete();
            return;
        }
        boolean last = index == lastIndex;
        byte[] data;
        if (last && fault instanceof Fault.ErrorLineAfter error && reply.streamed()) {
            data = reply.format() == Reply.Format.OPENAI
                    ? new byte[0]
                    : Json.line(Json.object().put("error", error.message()));
        } else {
            data = reply.lines().get(index).get();
        }
        if (last) {
            disarm();
            runOnComplete(); // state changes (model loaded) are visible before the client sees the end
            modelDone(); // so is the end of the model's request (its per-model count)
        }
        // Recorded as the line is handed to the connection (it is written to the socket at once unless the
        // client is slow): a write-completion callback can run after the client has read the line and left.
        record.lineWritten(System.nanoTime());
        response.write(last, ByteBuffer.wrap(data), Callback.from(() -> written(last), this::clientGone));
    }

    private void written(boolean last) {
        if (last) {
            complete();
            return;
        }
        synchronized (this) {
            next++;
        }
        schedule(reply.streamed() ? fake.tokenDelay() : Duration.ZERO, this::writeNext);
    }

    /** Counts this request out of its model's requests in progress, once. */
    private void modelDone() {
        synchronized (this) {
            if (!countedForModel) {
                return;
            }
            countedForModel = false;
        }
        fake.modelEnded(reply.slotModel());
    }

    private void runOnComplete() {
        if (reply.onComplete() != null && !(fault instanceof Fault.ErrorLineAfter && reply.streamed())) {
            reply.onComplete().run();
        }
    }

    private void disarm() {
        DisconnectWatcher.Watch w = watch;
        if (w != null) {
            w.disarm();
        }
    }

    /** Ends the exchange once: {@code mark} records the outcome before the slot is handed on. */
    private boolean end(Runnable mark) {
        boolean held;
        boolean waiting;
        synchronized (this) {
            if (finished) {
                return false;
            }
            finished = true;
            held = holdsSlot;
            waiting = waitingForSlot;
            if (pending != null) {
                pending.cancel();
                pending = null;
            }
        }
        disarm();
        // Counted out before the outcome is visible, so a test that saw the outcome sees inFlight() agree.
        fake.exchangeEnded(record);
        mark.run();
        modelDone();
        if (held) {
            fake.releaseSlot(reply.slotModel());
        } else if (waiting) {
            fake.abandonSlot(reply.slotModel(), this);
        }
        return true;
    }

    private void complete() {
        if (!end(() -> record.markFinished(System.nanoTime()))) {
            return;
        }
        callback.succeeded();
    }

    private void clientGone(Throwable cause) {
        long now = System.nanoTime();
        if (!end(() -> record.markCancelled(now))) {
            return;
        }
        closeQuietly(request.getConnectionMetaData().getConnection().getEndPoint());
        callback.failed(cause);
    }

    private void reset() {
        if (!end(() -> { })) {
            return;
        }
        EndPoint raw = request.getConnectionMetaData().getConnection().getEndPoint();
        while (raw instanceof EndPoint.Wrapper wrapper) {
            raw = wrapper.unwrap();
        }
        if (raw.getTransport() instanceof NetworkChannel channel) {
            try {
                channel.setOption(StandardSocketOptions.SO_LINGER, 0);
            } catch (IOException | RuntimeException ignored) {
                // the close below still ends the connection, with a FIN
            }
        }
        closeQuietly(raw);
        record.markFinished(System.nanoTime());
        callback.failed(new IOException("connection reset by FakeOllama fault"));
    }

    private static void closeQuietly(EndPoint endPoint) {
        try {
            endPoint.close();
        } catch (RuntimeException ignored) {
            // already closed
        }
    }
}
