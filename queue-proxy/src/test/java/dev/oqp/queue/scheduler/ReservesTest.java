package dev.oqp.queue.scheduler;

import static dev.oqp.common.config.Tier.HIGH;
import static dev.oqp.common.config.Tier.LOW;
import static dev.oqp.common.config.Tier.NORMAL;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import dev.oqp.common.config.QueueConfig;
import dev.oqp.common.config.Tier;
import dev.oqp.common.config.TierConfig;
import org.junit.jupiter.api.Test;

/** The reserved-capacity rule alone: what a ticket must leave free, and what is lent, for given loads. */
class ReservesTest {

    /** A load set by hand. */
    private static final class FakeLoad implements Reserves.Load {
        final Set<Tier> waitingTiers = new HashSet<>();
        final Set<String> waitingClients = new HashSet<>();
        final Map<Tier, Integer> tierInFlight = new EnumMap<>(Tier.class);
        final Map<String, Integer> clientInFlight = new HashMap<>();

        @Override
        public boolean waiting(Tier tier) {
            return waitingTiers.contains(tier);
        }

        @Override
        public boolean waiting(String clientId) {
            return waitingClients.contains(clientId);
        }

        @Override
        public int inFlight(Tier tier) {
            return tierInFlight.getOrDefault(tier, 0);
        }

        @Override
        public int inFlight(String clientId) {
            return clientInFlight.getOrDefault(clientId, 0);
        }
    }

    private final FakeLoad load = new FakeLoad();

    private static TierConfig tier(int reserved, int borrow) {
        return new TierConfig(10, Duration.ofSeconds(60), 80, reserved, borrow);
    }

    private static Reserves reserves(TierConfig high, TierConfig normal, TierConfig low, Map<String, Integer> minSlots) {
        return Reserves.of(new QueueConfig(high, normal, low, 503, Duration.ZERO, 1 << 20), minSlots);
    }

    private static Reserves high(int reserved, int borrow) {
        return reserves(tier(reserved, borrow), tier(0, 0), tier(0, 0), Map.of());
    }

    @Test
    void withoutReservesNothingIsKeptFree() {
        Reserves r = reserves(tier(0, 0), tier(0, 0), tier(0, 0), Map.of("chat", 0));
        load.waitingTiers.addAll(Set.of(HIGH, NORMAL, LOW));
        assertThat(r.any()).isFalse();
        assertThat(r.keepFree(LOW, "batch", load)).isZero();
        assertThat(r.borrowed(0, load)).containsExactly(0, 0, 0);
    }

    @Test
    void aWaitingTiersWholeUnmetReserveIsKeptFromOtherTiers() {
        Reserves r = high(2, 2);
        load.waitingTiers.add(HIGH);
        assertThat(r.keepFree(LOW, "batch", load)).isEqualTo(2);
        assertThat(r.keepFree(NORMAL, "batch", load)).isEqualTo(2);
        assertThat(r.keepFree(HIGH, "chat", load)).as("its own tier's reserve is its own").isZero();
    }

    @Test
    void withNothingOfTheTierWaitingOtherTiersMayHoldUpToBorrowOfItsSlots() {
        assertThat(high(2, 2).keepFree(LOW, "batch", load)).as("borrow = all: fully work-conserving").isZero();
        assertThat(high(2, 1).keepFree(LOW, "batch", load)).isEqualTo(1);
        assertThat(high(2, 0).keepFree(LOW, "batch", load)).as("borrow 0: the reserve always stays free").isEqualTo(2);
    }

    @Test
    void slotsTheTierUsesItselfCountAgainstItsReserve() {
        Reserves r = high(2, 0);
        load.waitingTiers.add(HIGH);
        load.tierInFlight.put(HIGH, 1);
        assertThat(r.keepFree(LOW, "batch", load)).isEqualTo(1);
        load.tierInFlight.put(HIGH, 3);
        assertThat(r.keepFree(LOW, "batch", load)).as("more in flight than reserved: nothing left to keep").isZero();
    }

    @Test
    void reservesOfSeveralTiersAddUpAndEachTiersIsKeptFromEveryOtherTier() {
        Reserves r = reserves(tier(2, 1), tier(1, 0), tier(1, 0), Map.of());
        load.waitingTiers.add(LOW);
        // A low ticket: high lends 1 of 2, normal lends none of 1.
        assertThat(r.keepFree(LOW, "x", load)).isEqualTo(1 + 1);
        // A high ticket while high's own reserve is unmet: it ranks first, so it keeps nothing for the others.
        assertThat(r.keepFree(HIGH, "x", load)).isZero();
        // Once high's reserve is met: normal's 1, and low's 1 since a low ticket waits.
        load.tierInFlight.put(HIGH, 2);
        assertThat(r.keepFree(HIGH, "x", load)).isEqualTo(1 + 1);
        load.waitingTiers.clear();
        assertThat(r.keepFree(HIGH, "x", load)).as("low's reserve, nothing of it waiting, borrow 0").isEqualTo(2);
    }

    @Test
    void twoWaitingOwnersNeverKeepTheOneFreeSlotFromEachOther() {
        // High keeps 1 (borrow 0) and client x 1: both wait, neither is met.
        Reserves r = reserves(tier(1, 0), tier(0, 0), tier(0, 0), Map.of("x", 1));
        load.waitingTiers.add(HIGH);
        load.waitingClients.add("x");
        // The high ticket (another client) ranks ahead of x's reserve: it may take the last slot.
        assertThat(r.keepFree(HIGH, "z", load)).isZero();
        // x's normal ticket keeps high's slot free (high ranks ahead of it).
        assertThat(r.keepFree(NORMAL, "x", load)).isEqualTo(1);
        // Anyone else keeps both.
        assertThat(r.keepFree(NORMAL, "z", load)).isEqualTo(2);
        // High met: x's ticket may take the last slot, and a high ticket keeps x's.
        load.tierInFlight.put(HIGH, 1);
        assertThat(r.keepFree(NORMAL, "x", load)).isZero();
        assertThat(r.keepFree(HIGH, "z", load)).isEqualTo(1);
    }

    @Test
    void aClientsMinSlotsAreKeptOnlyWhileItWaitsAndNeverFromItself() {
        Reserves r = reserves(tier(0, 0), tier(0, 0), tier(0, 0), Map.of("chat", 2, "ops", 1));
        assertThat(r.any()).isTrue();
        assertThat(r.keepFree(HIGH, "batch", load)).as("nobody waits: lent in full").isZero();
        load.waitingClients.add("chat");
        assertThat(r.keepFree(HIGH, "batch", load)).isEqualTo(2);
        assertThat(r.keepFree(LOW, "chat", load)).as("its own guarantee").isZero();
        load.clientInFlight.put("chat", 1);
        assertThat(r.keepFree(HIGH, "batch", load)).isEqualTo(1);
        load.waitingClients.add("ops");
        assertThat(r.keepFree(HIGH, "batch", load)).isEqualTo(2);
        assertThat(r.keepFree(HIGH, "ops", load)).isEqualTo(1);
    }

    @Test
    void tierAndClientReservesAdd() {
        Reserves r = reserves(tier(1, 0), tier(0, 0), tier(0, 0), Map.of("chat", 1));
        load.waitingClients.add("chat");
        assertThat(r.keepFree(LOW, "batch", load)).isEqualTo(2);
        // A high ticket claims high's unmet reserve, which ranks ahead of chat's: nothing kept from it...
        assertThat(r.keepFree(HIGH, "batch", load)).isZero();
        // ... until high's reserve is met: then chat's slot is kept from it too.
        load.tierInFlight.put(HIGH, 1);
        assertThat(r.keepFree(HIGH, "batch", load)).isEqualTo(1);
    }

    @Test
    void borrowedIsTheUnmetReserveTheFreeSlotsDoNotCoverHighestTierFirst() {
        Reserves r = reserves(tier(2, 2), tier(1, 1), tier(0, 0), Map.of());
        assertThat(r.borrowed(3, load)).containsExactly(0, 0, 0);
        assertThat(r.borrowed(2, load)).containsExactly(0, 1, 0);
        assertThat(r.borrowed(1, load)).containsExactly(1, 1, 0);
        assertThat(r.borrowed(0, load)).containsExactly(2, 1, 0);
        load.tierInFlight.put(HIGH, 1);
        assertThat(r.borrowed(0, load)).as("a slot high uses itself is not lent").containsExactly(1, 1, 0);
        assertThat(r.borrowed(-1, load)).containsExactly(1, 1, 0);
    }
}
