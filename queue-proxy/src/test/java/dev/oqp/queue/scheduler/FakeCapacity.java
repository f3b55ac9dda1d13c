package dev.oqp.queue.scheduler;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * N global slots (leaving a ticket's {@link Ticket#keepFree()} of them free), optional per-client caps, optional set of models that have no host; remembers which
 * tickets it was asked for. Its leases are deliberately NOT idempotent, so that tests prove the scheduler's
 * wrapper is.
 */
final class FakeCapacity implements Capacity {
    private int slots;
    private int used;
    private final Map<String, Integer> caps = new HashMap<>();
    private final Map<String, Integer> perClient = new HashMap<>();
    private final Set<String> unservedModels = new HashSet<>();
    private int maxPerClientSeen;
    private boolean reportSlots;
    private final Set<Ticket> tried = new HashSet<>();
    final List<FakeLease> leases = new ArrayList<>();

    FakeCapacity(int slots) {
        this.slots = slots;
    }

    synchronized FakeCapacity cap(String client, int max) {
        caps.put(client, max);
        return this;
    }

    synchronized void setSlots(int slots) {
        this.slots = slots;
    }

    synchronized void noHostFor(String model, boolean none) {
        if (none) {
            unservedModels.add(model);
        } else {
            unservedModels.remove(model);
        }
    }

    @Override
    public synchronized Lease tryAcquire(Ticket ticket) {
        tried.add(ticket);
        String client = ticket.clientId();
        int mine = perClient.getOrDefault(client, 0);
        if (used >= slots || slots - used - 1 < ticket.keepFree() || mine >= caps.getOrDefault(client, Integer.MAX_VALUE)
                || unservedModels.contains(ticket.model())) {
            return null;
        }
        used++;
        perClient.put(client, mine + 1);
        maxPerClientSeen = Math.max(maxPerClientSeen, mine + 1);
        FakeLease lease = new FakeLease(client);
        leases.add(lease);
        return lease;
    }

    /** From now on {@link #slots()} reports the slot count (else 0, "unknown", as the interface's default). */
    synchronized FakeCapacity reportingSlots() {
        reportSlots = true;
        return this;
    }

    @Override
    public synchronized int slots() {
        return reportSlots ? slots : 0;
    }

    synchronized int used() {
        return used;
    }

    synchronized int inUse(String client) {
        return perClient.getOrDefault(client, 0);
    }

    /** Whether {@link #tryAcquire} was ever called for {@code ticket}. */
    synchronized boolean wasAskedFor(Ticket ticket) {
        return tried.contains(ticket);
    }

    synchronized int maxPerClientSeen() {
        return maxPerClientSeen;
    }

    final class FakeLease implements Lease {
        final String client;
        int releases;

        FakeLease(String client) {
            this.client = client;
        }

        @Override
        public void release() {
            synchronized (FakeCapacity.this) {
                releases++;
                used--;
                perClient.merge(client, -1, Integer::sum);
            }
        }
    }
}
