package dev.oqp.queue.scheduler;

import java.util.Objects;

import dev.oqp.common.config.Tier;

/**
 * One request to be scheduled, created by the proxy and submitted once to a {@link Scheduler}.
 *
 * <p>Every submitted ticket gets <b>exactly one</b> outcome on its {@link Listener}: {@code dispatched},
 * {@code rejected}, {@code expired}, {@code missedDeadline}, {@code cancelled} or {@code flushed}. Callbacks are invoked outside
 * the scheduler's lock, on some thread that is calling into the scheduler (the submitting thread, a thread
 * releasing a lease, the expiry timer…); they must be quick and must not block (hand work to an executor).
 * They may call back into the scheduler, and may release the lease synchronously.
 */
public final class Ticket<L extends Lease> {

    /** Receives the single outcome of a ticket. */
    public interface Listener<L extends Lease> {

        /**
         * The ticket may run now. The listener owns {@code grant} and must {@link Grant#release()} it exactly
         * when the exchange completes, on every path (releasing more than once is harmless). If this method
         * throws, the scheduler releases the lease.
         *
         * @param waitedNanos time from submit to dispatch (for {@code X-Queue-Wait-Time})
         */
        void dispatched(Grant<L> grant, long waitedNanos);

        /** The ticket was refused by {@link Scheduler#submit}; it never waited. */
        void rejected(Rejection rejection);

        /** The ticket waited its requested tier's {@code max_wait} and was removed (answer 503). */
        void expired(long waitedNanos);

        /**
         * The ticket had a wait limit of its own ({@link #maxWait}) and was still waiting at its deadline; it was
         * removed. {@code rejection} says what to answer: reason {@link Rejection.Reason#DEADLINE}, the overflow
         * status and a {@code Retry-After} from the wait still predicted for it. By default: {@link #expired}.
         */
        default void missedDeadline(Rejection rejection, long waitedNanos) {
            expired(waitedNanos);
        }

        /** The ticket was removed by {@link Scheduler#cancel} (its client left). */
        void cancelled(long waitedNanos);

        /** The ticket was removed by {@link Scheduler#flush}. */
        void flushed(long waitedNanos);
    }

    enum State { NEW, QUEUED, DONE }

    private final String clientId;
    private final Tier requested;
    private final long bodyBytes;
    private final String model;
    private final Listener<L> listener;

    // Guarded by the scheduler's lock.
    State state = State.NEW;
    long seq;
    long submittedAt;
    long deadline;
    /** See {@link #position()}; written under the lock at admission, read after the outcome. */
    int position;
    /** The client's own wait limit ({@link #maxWait}), or -1; set before submit. */
    private long maxWaitNanos = -1;
    /** See {@link #keepFree()}. */
    int keepFree;

    /**
     * @param clientId  the client the ticket counts against (round-robin, caps); never null
     * @param requested the effective tier at admission (requested priority capped by the key's ceiling)
     * @param bodyBytes size of the request body held while queued; counted against {@code max_queued_bytes}
     * @param model     normalised model name for host choice; may be null
     * @param listener  receives the outcome
     */
    public Ticket(String clientId, Tier requested, long bodyBytes, String model, Listener<L> listener) {
        this.clientId = Objects.requireNonNull(clientId, "clientId");
        this.requested = Objects.requireNonNull(requested, "requested");
        if (bodyBytes < 0) {
            throw new IllegalArgumentException("bodyBytes: " + bodyBytes + " (expected: >= 0)");
        }
        this.bodyBytes = bodyBytes;
        this.model = model;
        this.listener = Objects.requireNonNull(listener, "listener");
    }

    public String clientId() {
        return clientId;
    }

    /**
     * The tier the ticket was admitted into; its depth, {@code max_wait}, pause, drain and flush all refer to
     * this tier, also after aging has raised the tier it is ordered in.
     */
    public Tier requested() {
        return requested;
    }

    public long bodyBytes() {
        return bodyBytes;
    }

    /** Normalised model name, or null. */
    public String model() {
        return model;
    }

    /**
     * The 1-based place the ticket took in the dispatch order when it was queued at admission (see
     * {@link Scheduler}, "Position"); 0 when it was dispatched at once or rejected. Read it once the ticket has its
     * outcome (the outcome's delivery publishes it).
     */
    public int position() {
        return position;
    }

    /**
     * Gives the ticket a wait limit of its own ({@code X-Queue-Max-Wait}); call before {@link Scheduler#submit}. Its
     * deadline becomes the sooner of this and its requested tier's {@code max_wait}, admission refuses it at once
     * when the wait predicted for its position already exceeds that, and it ends with
     * {@link Listener#missedDeadline} instead of {@link Listener#expired} (see {@link Scheduler}, "Deadlines").
     *
     * @param nanos the longest wait the client accepts, at least 0
     * @return this ticket
     */
    public Ticket<L> maxWait(long nanos) {
        if (nanos < 0) {
            throw new IllegalArgumentException("maxWait: " + nanos + " (expected: >= 0)");
        }
        this.maxWaitNanos = nanos;
        return this;
    }

    /** The client's own wait limit in nanoseconds, or -1 when it has none. */
    public long maxWaitNanos() {
        return maxWaitNanos;
    }

    /**
     * The global slots that must stay free after this ticket takes one: the reserves of other tiers and clients
     * ({@code reserved_slots}, {@code min_slots}) that it may not borrow now. Set by the scheduler just before each
     * {@link Capacity#tryAcquire}, under its lock; a capacity refuses the ticket when fewer would stay free.
     * 0 when nothing is reserved.
     */
    public int keepFree() {
        return keepFree;
    }

    Listener<L> listener() {
        return listener;
    }

    @Override
    public String toString() {
        return "Ticket{" + clientId + ", " + requested.yamlName() + ", " + model + ", #" + seq + "}";
    }
}
