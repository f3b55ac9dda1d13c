package dev.oqp.queue.admin;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.oqp.queue.scheduler.Scheduler;
import dev.oqp.queue.scheduler.Standing;
import dev.oqp.queue.scheduler.Ticket;

/**
 * The answer of {@code GET /queue/requests/{id}} and the {@code waiters} of {@code /queue/status}: ids, tiers,
 * places and times of queued requests, never a prompt or a header value. Times are whole milliseconds (as
 * {@code X-Queue-Wait-Time}); the ETA is the scheduler's estimate ({@link Scheduler#standing}, {@link Scheduler#standings} for the waiters).
 */
final class QueueRequestsJson {
    /** Waiters listed at most in {@code /queue/status}, the first by position. */
    static final int MAX_WAITERS = 100;

    private QueueRequestsJson() {
    }

    /** One request: {@code state} {@code queued} (live place and ETA), {@code dispatched}, or {@code dequeued}. */
    static void request(JsonGenerator g, QueueRequests.Entry entry) throws IOException {
        Standing standing = entry.standing();
        g.writeStringField("request_id", entry.requestId());
        g.writeStringField("client_id", entry.clientId());
        g.writeStringField("tier", entry.tier().yamlName());
        if (standing != null) {
            g.writeStringField("state", "queued");
            g.writeStringField("effective_tier", standing.tier().yamlName());
            g.writeNumberField("position", standing.position());
            g.writeNumberField("waited_ms", standing.waitedNanos() / 1_000_000);
            g.writeNumberField("eta_ms", standing.etaNanos() / 1_000_000);
        } else {
            // Out of the queue with a slot; or, for the instant before its outcome arrives, leaving it some other way.
            boolean dispatched = entry.state() == QueueRequests.State.DISPATCHED;
            g.writeStringField("state", dispatched ? "dispatched" : "dequeued");
            g.writeNumberField("waited_ms", entry.waitedNanos() / 1_000_000);
        }
        if (entry.admissionPosition() > 0) {
            g.writeNumberField("position_at_admission", entry.admissionPosition());
        }
    }

    /**
     * {@code waiters}: the first {@value #MAX_WAITERS} waiting requests by position that the caller may see (its own;
     * every client's with {@code clientId} null), and {@code waiters_total}, how many it may see in all.
     */
    static void waiters(JsonGenerator g, QueueRequests requests, Scheduler<?> scheduler, String clientId)
            throws IOException {
        record Waiter(QueueRequests.Entry entry, Standing standing) {
        }
        List<QueueRequests.Entry> visible = new ArrayList<>();
        List<Ticket<?>> tickets = new ArrayList<>();
        for (QueueRequests.Entry e : requests.all()) {
            if (clientId == null || e.clientId().equals(clientId)) {
                visible.add(e);
                Ticket<?> t = e.ticket();
                if (t != null) {
                    tickets.add(t);
                }
            }
        }
        // Every standing under one lock of the scheduler, in one walk of its queue.
        Map<Ticket<?>, Standing> standings = scheduler.standings(tickets);
        List<Waiter> waiting = new ArrayList<>();
        for (QueueRequests.Entry e : visible) {
            Ticket<?> t = e.ticket();
            Standing s = t != null ? standings.get(t) : e.standing();
            if (s != null) {
                waiting.add(new Waiter(e, s));
            }
        }
        waiting.sort(Comparator.comparingInt((Waiter w) -> w.standing().position())
                .thenComparing(Comparator.comparingLong((Waiter w) -> w.standing().waitedNanos()).reversed()));
        g.writeArrayFieldStart("waiters");
        for (Waiter w : waiting.subList(0, Math.min(MAX_WAITERS, waiting.size()))) {
            g.writeStartObject();
            g.writeStringField("request_id", w.entry().requestId());
            g.writeStringField("client_id", w.entry().clientId());
            g.writeStringField("tier", w.entry().tier().yamlName());
            g.writeStringField("effective_tier", w.standing().tier().yamlName());
            g.writeNumberField("position", w.standing().position());
            g.writeNumberField("waited_ms", w.standing().waitedNanos() / 1_000_000);
            g.writeNumberField("eta_ms", w.standing().etaNanos() / 1_000_000);
            g.writeEndObject();
        }
        g.writeEndArray();
        g.writeNumberField("waiters_total", waiting.size());
    }
}
