package dev.oqp.queue.routing;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.ToIntFunction;

import dev.oqp.common.config.HostConfig;
import dev.oqp.queue.scheduler.Capacity;
import dev.oqp.queue.scheduler.Lease;
import dev.oqp.queue.scheduler.Ticket;

/**
 * The slots a dispatched request holds (pipeline step 8): one of the global cap, one of its client's
 * {@code max_concurrent}, one of a host's {@code max_concurrent}. All or nothing: {@link #tryAcquire}
 * either takes all three or none. Host choice among hosts with a free slot: fewest requests in flight,
 * then the higher {@code weight}, then config order. (Model-aware choice and host health come with the
 * fleet work; every host counts as able to serve every model here.)
 *
 * <p>Thread-safe: the scheduler acquires under its own lock, leases are released from completion
 * callbacks on any thread; both take this pool's monitor for a few field updates only.
 */
public final class SlotPool implements Capacity {
    private final List<HostState> hosts = new ArrayList<>();
    private final int globalCap;
    private final ToIntFunction<String> clientCap;
    private final Map<String, Integer> clientInFlight = new HashMap<>();
    private int inFlight;

    /**
     * @param hosts     the upstream hosts, in config order
     * @param globalCap requests in flight across the fleet; 0 = the sum of the hosts' slots
     * @param clientCap a client id's {@code max_concurrent}; 0 = no cap
     */
    public SlotPool(List<HostConfig> hosts, int globalCap, ToIntFunction<String> clientCap) {
        int sum = 0;
        for (HostConfig host : hosts) {
            this.hosts.add(new HostState(host));
            sum += host.maxConcurrent();
        }
        this.globalCap = globalCap > 0 ? globalCap : sum;
        this.clientCap = clientCap;
    }

    @Override
    public synchronized Lease tryAcquire(Ticket ticket) {
        if (inFlight >= globalCap) {
            return null;
        }
        int cap = clientCap.applyAsInt(ticket.clientId());
        int clientNow = clientInFlight.getOrDefault(ticket.clientId(), 0);
        if (cap > 0 && clientNow >= cap) {
            return null;
        }
        HostState best = null;
        for (HostState host : hosts) {
            if (host.inFlight >= host.config.maxConcurrent()) {
                continue;
            }
            if (best == null || host.inFlight < best.inFlight
                    || (host.inFlight == best.inFlight && host.config.weight() > best.config.weight())) {
                best = host;
            }
        }
        if (best == null) {
            return null;
        }
        best.inFlight++;
        inFlight++;
        clientInFlight.put(ticket.clientId(), clientNow + 1);
        return new HostLease(best, ticket.clientId());
    }

    private synchronized void release(HostLease lease) {
        lease.host.inFlight--;
        inFlight--;
        clientInFlight.computeIfPresent(lease.clientId, (id, n) -> n <= 1 ? null : n - 1);
    }

    /** Requests in flight across the fleet. */
    public synchronized int inFlight() {
        return inFlight;
    }

    /** Requests in flight on the named host (0 for an unknown name). */
    public synchronized int inFlight(String hostName) {
        for (HostState host : hosts) {
            if (host.config.name().equals(hostName)) {
                return host.inFlight;
            }
        }
        return 0;
    }

    /** Requests of {@code clientId} in flight. */
    public synchronized int clientInFlight(String clientId) {
        return clientInFlight.getOrDefault(clientId, 0);
    }

    /** The ids of the clients with requests in flight now. */
    public synchronized java.util.Set<String> clientsInFlight() {
        return java.util.Set.copyOf(clientInFlight.keySet());
    }

    /** The global cap in force (the configured one, or the sum of host slots). */
    public int globalCap() {
        return globalCap;
    }

    private static final class HostState {
        final HostConfig config;
        int inFlight;

        HostState(HostConfig config) {
            this.config = config;
        }
    }

    /** The slots of one dispatched request; released exactly once whatever calls {@link #release()}. */
    public final class HostLease implements Lease {
        private final HostState host;
        private final String clientId;
        private final AtomicBoolean released = new AtomicBoolean();

        private HostLease(HostState host, String clientId) {
            this.host = host;
            this.clientId = clientId;
        }

        /** The host the request goes to. */
        public HostConfig host() {
            return host.config;
        }

        @Override
        public void release() {
            if (released.compareAndSet(false, true)) {
                SlotPool.this.release(this);
            }
        }
    }
}
