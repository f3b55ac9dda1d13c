package dev.oqp.queue.scheduler;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

import dev.oqp.common.config.QueueConfig;
import dev.oqp.common.config.Tier;

/**
 * The reserved-capacity rule ({@code queue.<tier>.reserved_slots} and {@code borrow}, {@code auth.keys[].min_slots}):
 * how many slots of the fleet must stay free after a ticket takes one. Immutable and pure: the {@link Scheduler}
 * asks it under its lock with a {@link Load} view of what waits and what runs, and hands the answer to the capacity
 * ({@link Ticket#keepFree()}), which refuses the ticket when fewer than that many global slots would stay free.
 *
 * <h2>The rule</h2>
 * An <em>owner</em> is a tier (its reserve: {@code reserved_slots}) or a client (its {@code min_slots}). Its
 * <em>unmet</em> reserve is what it does not use itself: {@code max(0, reserve − its leases in flight)} (a tier's
 * leases by requested tier). A ticket must leave free, summed over every owner other than its own tier and its own
 * client:
 * <ul>
 *   <li>the whole unmet reserve while something of that owner waits (by requested tier, paused tiers excepted): no
 *       other owner takes a reserved slot from a waiting owner;</li>
 *   <li>else, for a tier, {@code max(0, unmet − borrow)}: other tiers may hold at most {@code borrow} of its reserved
 *       slots at once (work-conserving up to {@code borrow}); for a client, nothing: a client's {@code min_slots} are
 *       lent in full while none of its requests waits.</li>
 * </ul>
 * Owners are ranked: the tiers high to low, then the clients by id. A ticket that itself claims an unmet reserve (its
 * tier's, or its client's) keeps free only the shares of the owners ranked ahead of the best of its own: two owners
 * that both wait never keep the one free slot from each other (the better ranked takes it).
 * Nothing is counted per lease: what is lent is derived from the free slots, so a release of any lease gives the
 * reserve its slot back at once (a waiting owner takes it; with nothing waiting, it may be lent again up to
 * {@code borrow}). The load check ({@code ReserveCheck}) keeps the reserves' sum within the fleet's slots, so every
 * owner's reserve can be met at once. Tickets, not hosts: a reserved slot is any free slot of the global cap, so when
 * only some hosts serve a model the free slot kept may be on a host the waiting owner's model is not on.
 */
final class Reserves {

    /** What waits and what runs, as the scheduler knows it (this replica's own, with coordination). */
    interface Load {
        /** Whether a ticket of this requested tier waits, its tier not paused. */
        boolean waiting(Tier tier);

        /** Whether a ticket of this client waits, its tier not paused. */
        boolean waiting(String clientId);

        /** Leases in flight of this requested tier. */
        int inFlight(Tier tier);

        /** Leases in flight of this client. */
        int inFlight(String clientId);
    }

    /** No reserves at all: every ticket may take the last slot (the behaviour without the options). */
    static final Reserves NONE = new Reserves(new int[Tier.values().length], new int[Tier.values().length], Map.of());

    private final int[] reserved;
    private final int[] borrow;
    /** Clients with {@code min_slots > 0}. */
    private final Map<String, Integer> minSlots;
    private final boolean any;
    /** Clients with {@code min_slots}, ranked by id (after the tiers). */
    private final Map<String, Integer> clientRank;

    private Reserves(int[] reserved, int[] borrow, Map<String, Integer> minSlots) {
        this.reserved = reserved;
        this.borrow = borrow;
        this.minSlots = Map.copyOf(minSlots);
        this.clientRank = new HashMap<>();
        new java.util.TreeSet<>(minSlots.keySet()).forEach(id -> clientRank.put(id, clientRank.size()));
        boolean some = !this.minSlots.isEmpty();
        for (int r : reserved) {
            some |= r > 0;
        }
        this.any = some;
    }

    /** The reserves of {@code queue}'s tiers and of the clients in {@code minSlots} (client id to min_slots). */
    static Reserves of(QueueConfig queue, Map<String, Integer> minSlots) {
        int[] reserved = new int[Tier.values().length];
        int[] borrow = new int[Tier.values().length];
        for (Tier t : Tier.values()) {
            reserved[t.ordinal()] = queue.tier(t).reservedSlots();
            borrow[t.ordinal()] = queue.tier(t).borrow();
        }
        Map<String, Integer> clients = new HashMap<>();
        minSlots.forEach((id, n) -> {
            if (n > 0) {
                clients.put(Objects.requireNonNull(id, "client id"), n);
            }
        });
        return new Reserves(reserved, borrow, clients);
    }

    /** Whether any tier or client has a reserve (else {@link #keepFree} is always 0). */
    boolean any() {
        return any;
    }

    /** The slots of the fleet kept for {@code tier}. */
    int reserved(Tier tier) {
        return reserved[tier.ordinal()];
    }

    /** How many of them other tiers may hold at once while nothing of {@code tier} waits. */
    int borrow(Tier tier) {
        return borrow[tier.ordinal()];
    }

    /** The clients with slots kept for them, to how many. */
    Map<String, Integer> minSlots() {
        return minSlots;
    }

    /** The slots that must stay free after a ticket of {@code tier} and {@code clientId} takes one (class Javadoc). */
    int keepFree(Tier tier, String clientId, Load load) {
        if (!any) {
            return 0;
        }
        int tiers = Tier.values().length;
        // The rank of the best owner this ticket claims for (its tier's or its client's unmet reserve); owners ranked
        // after it keep nothing from it.
        int own = Integer.MAX_VALUE;
        if (unmet(tier, load) > 0) {
            own = tier.ordinal();
        } else if (clientRank.containsKey(clientId) && minSlots.get(clientId) - load.inFlight(clientId) > 0) {
            own = tiers + clientRank.get(clientId);
        }
        int keep = 0;
        for (Tier t : Tier.values()) {
            int unmet = unmet(t, load);
            if (t == tier || unmet == 0 || t.ordinal() > own) {
                continue;
            }
            keep += load.waiting(t) ? unmet : Math.max(0, unmet - borrow[t.ordinal()]);
        }
        for (Map.Entry<String, Integer> e : minSlots.entrySet()) {
            String owner = e.getKey();
            if (!owner.equals(clientId) && tiers + clientRank.get(owner) < own && load.waiting(owner)) {
                keep += Math.max(0, e.getValue() - load.inFlight(owner));
            }
        }
        return keep;
    }

    /**
     * Each tier's reserved slots held by other tiers now ({@code oqp_reserved_slots_borrowed}): its unmet reserve less
     * the free slots left for it, the free slots going to the tiers' reserves highest tier first.
     *
     * @param free the global slots free now
     */
    int[] borrowed(int free, Load load) {
        int[] out = new int[Tier.values().length];
        int left = Math.max(0, free);
        for (Tier t : Tier.values()) {
            int unmet = unmet(t, load);
            int covered = Math.min(unmet, left);
            left -= covered;
            out[t.ordinal()] = unmet - covered;
        }
        return out;
    }

    private int unmet(Tier tier, Load load) {
        return Math.max(0, reserved[tier.ordinal()] - load.inFlight(tier));
    }
}
