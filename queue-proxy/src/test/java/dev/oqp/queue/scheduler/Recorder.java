package dev.oqp.queue.scheduler;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BiConsumer;

import dev.oqp.common.config.Tier;

/** Records outcomes of the tickets it makes, in delivery order. */
final class Recorder {
    final List<String> dispatchOrder = new CopyOnWriteArrayList<>();
    final List<Entry> entries = new ArrayList<>();

    final class Entry implements Ticket.Listener {
        final String name;
        final Ticket ticket;
        final List<String> outcomes = new CopyOnWriteArrayList<>();
        volatile Lease lease;
        boolean releasedByTest;
        volatile long waited = -1;
        volatile Rejection rejection;
        BiConsumer<Entry, Lease> onDispatch = (e, l) -> { };

        Entry(String name, String client, Tier tier, long bytes, String model) {
            this.name = name;
            this.ticket = new Ticket(client, tier, bytes, model, this);
        }

        @Override
        public void dispatched(Grant lease, long waitedNanos) {
            this.lease = lease;
            this.waited = waitedNanos;
            outcomes.add("dispatched");
            dispatchOrder.add(name);
            onDispatch.accept(this, lease);
        }

        @Override
        public void rejected(Rejection r) {
            rejection = r;
            outcomes.add("rejected");
        }

        @Override
        public void expired(long waitedNanos) {
            waited = waitedNanos;
            outcomes.add("expired");
        }

        @Override
        public void missedDeadline(Rejection r, long waitedNanos) {
            rejection = r;
            waited = waitedNanos;
            outcomes.add("missed");
        }

        @Override
        public void cancelled(long waitedNanos) {
            outcomes.add("cancelled");
        }

        @Override
        public void flushed(long waitedNanos) {
            outcomes.add("flushed");
        }

        String outcome() {
            return outcomes.isEmpty() ? "none" : String.join(",", outcomes);
        }

        void release() {
            releasedByTest = true;
            lease.release();
        }
    }

    Entry ticket(String name, String client, Tier tier) {
        return ticket(name, client, tier, 0, "m");
    }

    Entry ticket(String name, String client, Tier tier, long bytes, String model) {
        Entry e = new Entry(name, client, tier, bytes, model);
        entries.add(e);
        return e;
    }
}
