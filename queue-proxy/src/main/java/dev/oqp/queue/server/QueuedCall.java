package dev.oqp.queue.server;

import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BooleanSupplier;

import dev.oqp.common.config.Durations;
import dev.oqp.common.config.QueueConfig;
import dev.oqp.common.proxy.ClientCloseWatcher;
import dev.oqp.queue.admin.QueueRequests;
import dev.oqp.queue.metrics.QueueMetrics;
import dev.oqp.queue.routing.Fleet;
import dev.oqp.queue.routing.Host;
import dev.oqp.queue.routing.SlotPool;
import dev.oqp.queue.scheduler.Admission;
import dev.oqp.queue.scheduler.Grant;
import dev.oqp.queue.scheduler.Rejection;
import dev.oqp.queue.scheduler.Scheduler;
import dev.oqp.queue.scheduler.Standing;
import dev.oqp.queue.scheduler.Ticket;
import dev.oqp.queue.webhooks.Event;
import dev.oqp.queue.webhooks.Webhooks;
import org.eclipse.jetty.http.HttpHeader;

/**
 * One inference request from the queue's point of view (pipeline steps 7 and 8): it owns the waiting exchange
 * from {@link #submit} to the ticket's single outcome, as Jetty's {@code QoSHandler.Entry} does. Dispatched, it
 * hands the call to the {@link Sender}; refused, expired, flushed, it answers; cancelled, it records the client
 * as gone.
 *
 * <p>Nothing blocks and no thread waits. While the request waits, read interest on its connection tells at once
 * if the client leaves (or sends bytes of a next request, which counts as leaving), and its ticket is cancelled;
 * the connection's idle timeout is suspended: the tier's {@code max_wait} governs instead.
 */
final class QueuedCall implements Ticket.Listener<SlotPool.HostLease> {
    private static final long RETRY_AFTER_SECONDS = 5;
    /** The {@code reason} of {@code oqp_queue_rejected_total} for a request refused by a paused tier. */
    private static final String PAUSED = "paused";
    /** A paused tier is usually resumed after maintenance, minutes later: a client need not retry every 5s. */
    static final long PAUSED_RETRY_AFTER_SECONDS = 30;

    private final Call call;
    private final Scheduler<SlotPool.HostLease> scheduler;
    private final Executor executor;
    private final Sender sender;
    private final QueueMetrics metrics;
    private final Fleet fleet;
    private final BooleanSupplier stopping;
    private final Webhooks webhooks;
    /** The thread inside submit: a dispatch it delivers may be sent at once, without a hand-off. */
    private volatile Thread submitter;
    // Guarded by this.
    private boolean done;
    private ClientCloseWatcher watcher;
    private EarlyHeaders early;

    /**
     * @param stopping true once the server is shutting down (a flushed request is told so)
     * @param webhooks  told of the first refusal of a full tier ({@code queue.full}, {@code queue.over_capacity})
     */
    QueuedCall(Call call, Scheduler<SlotPool.HostLease> scheduler, Executor executor, Sender sender, QueueMetrics metrics, Fleet fleet,
               BooleanSupplier stopping, Webhooks webhooks) {
        this.call = call;
        this.scheduler = scheduler;
        this.executor = executor;
        this.sender = sender;
        this.metrics = metrics;
        this.fleet = fleet;
        this.stopping = stopping;
        this.webhooks = webhooks;
    }

    /**
     * Submits the call's ticket; its outcome arrives on this listener, perhaps before this returns. With
     * {@code queue.paused: refuse}, a request to a paused tier is answered 503 at once instead, never queued.
     */
    void submit() {
        if (call.settings.config().queue().paused() == QueueConfig.Paused.REFUSE
                && scheduler.snapshot().paused(call.tier)) {
            refusePaused();
            return;
        }
        // While queued the tier's max_wait governs, not the connection's idle timeout.
        call.request.addIdleTimeoutListener(timeout -> false);
        Ticket<SlotPool.HostLease> ticket = new Ticket<>(call.client.clientId(), call.tier, call.body.length, call.model, this);
        if (call.maxWaitNanos >= 0) {
            ticket.maxWait(call.maxWaitNanos);
        }
        call.ticket = ticket;
        call.request.addFailureListener(this::clientGone);
        // A client that sends bytes while its request waits is not waiting for this answer: treated as gone.
        ClientCloseWatcher w = ClientCloseWatcher.of(call.request, this::clientGone, true);
        submitter = Thread.currentThread();
        Admission admission = scheduler.submit(ticket);
        submitter = null;
        if (admission == Admission.QUEUED) {
            // Written by this thread at admission: readable here.
            int position = ticket.position();
            metrics.queuePosition(call.tier, position);
            QueueRequests.Entry entry = call.tracked;
            if (entry != null) {
                entry.queuedAt(position);
            }
            waiting(w);
        }
    }

    /** The Python tool's answer to a new request to a paused tier, with a Retry-After of our own. */
    private void refusePaused() {
        String tier = call.tier.yamlName();
        metrics.queueRejected.labelValues(tier, PAUSED).inc();
        metrics.clientRejected(call.clientLabel());
        call.answer(503, "queue tier '" + tier + "' is paused", "rejected_" + PAUSED, PAUSED_RETRY_AFTER_SECONDS);
    }

    /** The request waits: its client is watched, and a streamed one may get its headers early. */
    private synchronized void waiting(ClientCloseWatcher w) {
        if (!done) {
            if (w != null) {
                watcher = w;
                w.start();
            }
            early = EarlyHeaders.arm(call, scheduler);
        }
    }

    /**
     * Ends the queued phase: withdraws the read interest before anything is written or sent, and stops the early
     * answer; {@code then} (what ends the wait) runs once a write of the early answer in progress is done.
     */
    private void settle(Runnable then) {
        ClientCloseWatcher w;
        EarlyHeaders e;
        synchronized (this) {
            done = true;
            w = watcher;
            watcher = null;
            e = early;
            early = null;
        }
        if (w != null) {
            w.stop();
            if (w.pipelined()) {
                call.pipelined = true;
                call.response.getHeaders().put(HttpHeader.CONNECTION, "close");
            }
        }
        if (e == null) {
            then.run();
        } else {
            e.close(then);
        }
    }

    /** Where the ticket stands while it waits, or null (not submitted yet, or out of the queue). */
    Standing standing() {
        Ticket<SlotPool.HostLease> ticket = call.ticket;
        return ticket == null ? null : scheduler.standing(ticket);
    }

    private void clientGone(Throwable failure) {
        call.gone = true;
        scheduler.cancel(call.ticket);
    }

    @Override
    public void dispatched(Grant<SlotPool.HostLease> grant, long waitedNanos) {
        SlotPool.HostLease hostLease = grant.lease();
        call.grant = grant;
        call.waitedNanos = waitedNanos;
        call.queuePosition = call.ticket.position();
        QueueRequests.Entry entry = call.tracked;
        if (entry != null) {
            entry.dispatched(waitedNanos, call.queuePosition);
        }
        Host host = hostLease.host();
        call.cold = host.level(call.model) != Host.Level.LOADED;
        metrics.routingDecision(hostLease.reason());
        metrics.tier(call.tier).waited().observe(waitedNanos / 1e9);
        boolean submitting = Thread.currentThread() == submitter;
        settle(() -> {
            if (submitting) {
                send();
            } else {
                handOff();
            }
        });
    }

    /** Off the thread that released a slot or ran the timer: the send may take a while to set up. */
    private void handOff() {
        try {
            executor.execute(this::send);
        } catch (RejectedExecutionException e) {
            // The pool refuses work only while stopping: answer rather than leave the client hanging.
            call.grant.release();
            call.answer(503, "server shutting down", "shutdown", RETRY_AFTER_SECONDS);
        }
    }

    private void send() {
        if (call.gone) {
            // Left between dispatch and now: never reaches the upstream.
            call.grant.release();
            metrics.tier(call.tier).cancelled().inc();
            call.leave("before its request was forwarded");
            return;
        }
        sender.send(call);
    }

    @Override
    public void rejected(Rejection rejection) {
        settle(() -> reject(rejection));
    }

    private void reject(Rejection rejection) {
        String tier = rejection.tier().yamlName();
        metrics.queueRejected.labelValues(tier, rejection.reason().label()).inc();
        if (rejection.announce()) {
            String clientId = call.client.clientId();
            webhooks.publish(rejection.reason() == Rejection.Reason.BYTES_FULL
                    ? Event.overCapacity(rejection.tier(), clientId, call.requestId)
                    : Event.queueFull(rejection.tier(), clientId, call.requestId));
        }
        metrics.clientRejected(call.clientLabel());
        String message = switch (rejection.reason()) {
            case TIER_FULL -> "queue full for priority " + tier + "; retry after " + rejection.retryAfterSeconds() + "s";
            case BYTES_FULL -> "queue full (max_queued_bytes reached); retry after " + rejection.retryAfterSeconds() + "s";
            case DRAINING -> "not accepting requests: the queue is draining";
            case DEADLINE -> deadline(rejection);
        };
        call.answer(rejection.statusCode(), message, "rejected_" + rejection.reason().label(),
                rejection.retryAfterSeconds());
    }

    @Override
    public void expired(long waitedNanos) {
        call.waitedNanos = waitedNanos;
        settle(this::expire);
    }

    private void expire() {
        metrics.tier(call.tier).expired().inc();
        call.answer(503, "waited in the queue longer than max_wait ("
                + Durations.format(call.settings.config().queue().tier(call.tier).maxWait()) + " for priority "
                + call.tier.yamlName() + ")", "expired", RETRY_AFTER_SECONDS);
    }

    @Override
    public void missedDeadline(Rejection rejection, long waitedNanos) {
        call.waitedNanos = waitedNanos;
        rejected(rejection);
    }

    /** The message of a refusal for {@code X-Queue-Max-Wait}, at admission or at the request's deadline. */
    private String deadline(Rejection rejection) {
        long limit = Math.min(call.ticket.maxWaitNanos(),
                call.settings.config().queue().tier(call.tier).maxWait().toNanos());
        String text = Durations.format(Duration.ofNanos(limit));
        return (call.waitedNanos >= 0 ? "waited its X-Queue-Max-Wait (" + text + ") in the queue"
                : "predicted queue wait exceeds X-Queue-Max-Wait (" + text + ")")
                + "; retry after " + rejection.retryAfterSeconds() + "s";
    }

    @Override
    public void cancelled(long waitedNanos) {
        call.waitedNanos = waitedNanos;
        settle(() -> {
            metrics.tier(call.tier).cancelled().inc();
            call.leave("while queued");
        });
    }

    @Override
    public void flushed(long waitedNanos) {
        call.waitedNanos = waitedNanos;
        settle(this::flush);
    }

    private void flush() {
        metrics.tier(call.tier).cancelled().inc();
        boolean shuttingDown = stopping.getAsBoolean();
        if (!shuttingDown && !fleet.anyUsable()) {
            // Every host went down while it waited: answered now rather than at max_wait.
            DirectRoute.noHealthyHost(metrics, call);
            return;
        }
        call.answer(503, shuttingDown ? "server shutting down" : "queue flushed by an operator",
                shuttingDown ? "shutdown" : "flushed", RETRY_AFTER_SECONDS);
    }
}
