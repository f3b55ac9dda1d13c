package dev.oqp.queue.routing;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.time.Instant;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

import dev.oqp.common.config.HostConfig;
import dev.oqp.common.config.RoutingConfig;
import org.junit.jupiter.api.Test;

class FleetTest {
    private static final String LLAMA = "llama3:latest";
    private static final String MISTRAL = "mistral:latest";
    private static final Instant T0 = Instant.parse("2025-01-01T00:00:00Z");

    private static HostConfig host(String name) {
        return new HostConfig(name, URI.create("http://" + name + ":11434"), 2, 1, Map.of());
    }

    private static Fleet fleet(String... names) {
        return new Fleet(Arrays.stream(names).map(FleetTest::host).toList());
    }

    private static Host.Inventory synced(Set<String> installed, Map<String, Host.Loaded> loaded, Instant at) {
        return new Host.Inventory(installed, loaded, at);
    }

    private static Host.Loaded loaded(String name, String expiresAt) {
        return new Host.Loaded(name, expiresAt, 1024);
    }

    /** Records every event as a line. */
    private static final class Events implements Fleet.Listener {
        final List<String> lines = new CopyOnWriteArrayList<>();

        @Override
        public void healthChanged(Host host, Host.Health from, Host.Health to, String reason) {
            lines.add(host.name() + " " + from + "->" + to + " (" + reason + ")");
        }

        @Override
        public void inventoryChanged(Host host) {
            lines.add(host.name() + " inventory");
        }
    }

    @Test
    void hostsKeepConfigOrderAndAreFoundByName() {
        Fleet fleet = fleet("gpu-1", "gpu-0", "cpu");

        assertThat(fleet.hosts()).extracting(Host::name).containsExactly("gpu-1", "gpu-0", "cpu");
        assertThat(fleet.hosts()).extracting(Host::index).containsExactly(0, 1, 2);
        assertThat(fleet.host("gpu-0")).isSameAs(fleet.hosts().get(1));
        assertThat(fleet.host("nope")).isNull();
    }

    @Test
    void levelFollowsTheInventory() {
        Fleet fleet = fleet("a");
        Host a = fleet.host("a");

        assertThat(a.level(LLAMA)).as("never synced").isEqualTo(Host.Level.UNSYNCED);
        assertThat(a.level(null)).isEqualTo(Host.Level.INSTALLED);

        fleet.inventory(a, synced(Set.of(LLAMA, MISTRAL), Map.of(MISTRAL, loaded("mistral", null)), T0));

        assertThat(a.level(LLAMA)).isEqualTo(Host.Level.INSTALLED);
        assertThat(a.level(MISTRAL)).isEqualTo(Host.Level.LOADED);
        assertThat(a.level("phi3:latest")).isEqualTo(Host.Level.ABSENT);
        assertThat(a.level(null)).isEqualTo(Host.Level.INSTALLED);
        assertThat(Host.Level.LOADED).isGreaterThan(Host.Level.INSTALLED);
        assertThat(Host.Level.INSTALLED).isGreaterThan(Host.Level.UNSYNCED);
        assertThat(Host.Level.UNSYNCED).isGreaterThan(Host.Level.ABSENT);
    }

    @Test
    void inventoryIsACopyOfWhatWasPassed() {
        Set<String> installed = new HashSet<>(Set.of(LLAMA));
        Host.Inventory inventory = new Host.Inventory(installed, Map.of(), T0);

        installed.add(MISTRAL);

        assertThat(inventory.installed()).containsExactly(LLAMA);
    }

    @Test
    void knownNowhereOnlyWhenEveryUsableHostIsSynced() {
        Fleet fleet = fleet("a", "b");
        Host a = fleet.host("a");
        Host b = fleet.host("b");
        fleet.inventory(b, synced(Set.of(MISTRAL), Map.of(), T0));

        assertThat(fleet.knownNowhere(LLAMA)).as("a not synced yet: it may have it").isFalse();

        fleet.inventory(a, synced(Set.of(), Map.of(), T0));
        assertThat(fleet.knownNowhere(LLAMA)).isTrue();
        assertThat(fleet.knownNowhere(MISTRAL)).isFalse();
        assertThat(fleet.knownNowhere(null)).as("no model named: any host serves it").isFalse();

        fleet.inventory(a, synced(Set.of(), Map.of(LLAMA, loaded("llama3", null)), T0));
        assertThat(fleet.knownNowhere(LLAMA)).as("loaded counts").isFalse();

        fleet.markUnhealthy(a, true, "down");
        assertThat(fleet.knownNowhere(LLAMA)).as("only on a host that is down").isTrue();

        fleet.markUnhealthy(b, true, "down");
        assertThat(fleet.knownNowhere(LLAMA)).as("no usable host: nothing is known").isFalse();
    }

    @Test
    void healthChangesAreReportedOnce() {
        Fleet fleet = fleet("a", "b");
        Host a = fleet.host("a");
        Events events = new Events();
        fleet.addListener(events);

        fleet.markHealthy(a);
        fleet.markHealthy(a);
        fleet.markUnhealthy(a, true, "health check answered 500");
        fleet.markUnhealthy(a, false, "a request could not connect");
        fleet.markUnhealthy(a, true, "health check failed: connection refused");
        fleet.markHealthy(a);

        assertThat(events.lines).containsExactly(
                "a UNKNOWN->HEALTHY (health check answered)",
                "a HEALTHY->UNHEALTHY (health check answered 500)",
                "a UNHEALTHY->HEALTHY (health check answered)");
        assertThat(a.health()).isEqualTo(Host.Health.HEALTHY);
        assertThat(fleet.host("b").health()).isEqualTo(Host.Health.UNKNOWN);
    }

    @Test
    void everyListenerHearsEachChange() {
        Fleet fleet = fleet("a");
        Events first = new Events();
        Events second = new Events();
        fleet.addListener(first);
        fleet.addListener(second);

        fleet.markUnhealthy(fleet.host("a"), false, "a request could not connect");

        assertThat(first.lines).containsExactly("a UNKNOWN->UNHEALTHY (a request could not connect)");
        assertThat(second.lines).isEqualTo(first.lines);
    }

    @Test
    void onlyAHealthCheckSetsTheLastCheckTime() {
        Fleet fleet = fleet("a");
        Host a = fleet.host("a");

        assertThat(a.lastHealthCheck()).isNull();
        fleet.markUnhealthy(a, false, "a request could not connect");
        assertThat(a.lastHealthCheck()).as("a request is not a check").isNull();

        Instant before = Instant.now();
        fleet.markUnhealthy(a, true, "down");
        assertThat(a.lastHealthCheck()).isNotNull().isAfterOrEqualTo(before);
        Instant checked = a.lastHealthCheck();
        fleet.markHealthy(a);
        assertThat(a.lastHealthCheck()).isAfterOrEqualTo(checked);
    }

    @Test
    void usableCountsUnknownAndHealthyButNotUnhealthy() {
        Fleet fleet = fleet("a", "b");
        Host a = fleet.host("a");
        Host b = fleet.host("b");

        assertThat(fleet.anyUsable()).as("not checked yet counts as usable").isTrue();
        assertThat(fleet.healthyCount()).isZero();
        assertThat(fleet.firstUsable()).isSameAs(a);

        fleet.markUnhealthy(a, true, "down");
        fleet.markHealthy(b);
        assertThat(a.usable()).isFalse();
        assertThat(b.usable()).isTrue();
        assertThat(fleet.firstUsable()).isSameAs(b);
        assertThat(fleet.healthyCount()).isEqualTo(1);

        fleet.markUnhealthy(b, false, "a request could not connect");
        assertThat(fleet.anyUsable()).isFalse();
        assertThat(fleet.firstUsable()).isNull();
        assertThat(fleet.healthyCount()).isZero();
    }

    @Test
    void inventoryListenerHearsOnlyRealChanges() {
        Fleet fleet = fleet("a", "b");
        Host a = fleet.host("a");
        Events events = new Events();
        fleet.addListener(events);

        fleet.inventory(a, synced(Set.of(LLAMA), Map.of(), T0));
        assertThat(events.lines).as("first model list").containsExactly("a inventory");

        fleet.inventory(a, synced(Set.of(LLAMA), Map.of(), T0.plusSeconds(30)));
        assertThat(events.lines).as("same lists, later poll").hasSize(1);

        fleet.inventory(a, synced(Set.of(LLAMA), Map.of(LLAMA, loaded("llama3", "2025-01-01T00:05:00Z")),
                T0.plusSeconds(60)));
        assertThat(events.lines).as("loaded now").hasSize(2);

        fleet.inventory(a, synced(Set.of(LLAMA), Map.of(LLAMA, new Host.Loaded("LLAMA3", "2025-01-01T00:09:00Z", 7)),
                T0.plusSeconds(90)));
        assertThat(events.lines).as("only the expiry and details moved").hasSize(2);
        assertThat(a.inventory().loaded().get(LLAMA).expiresAt()).as("but the details are kept")
                .isEqualTo("2025-01-01T00:09:00Z");
        assertThat(a.inventory().syncedAt()).isEqualTo(T0.plusSeconds(90));

        fleet.inventory(a, synced(Set.of(LLAMA), Map.of(), T0.plusSeconds(120)));
        assertThat(events.lines).as("unloaded").hasSize(3);

        fleet.inventory(a, synced(Set.of(LLAMA, MISTRAL), Map.of(), T0.plusSeconds(150)));
        assertThat(events.lines).as("pulled").hasSize(4);

        fleet.inventory(a, synced(Set.of(MISTRAL), Map.of(), T0.plusSeconds(180)));
        assertThat(events.lines).as("removed").hasSize(5);
        assertThat(events.lines).containsOnly("a inventory");
    }

    @Test
    void forgetDropsAModelAfterA404() {
        Fleet fleet = fleet("a", "b");
        Host a = fleet.host("a");
        fleet.inventory(a, synced(Set.of(LLAMA, MISTRAL), Map.of(LLAMA, loaded("llama3", null)), T0));
        fleet.inventory(fleet.host("b"), synced(Set.of(), Map.of(), T0));
        assertThat(fleet.knownNowhere(LLAMA)).isFalse();

        fleet.forget(a, LLAMA);

        assertThat(a.level(LLAMA)).isEqualTo(Host.Level.ABSENT);
        assertThat(a.inventory().installed()).containsExactly(MISTRAL);
        assertThat(a.inventory().loaded()).isEmpty();
        assertThat(a.inventory().syncedAt()).isEqualTo(T0);
        assertThat(fleet.knownNowhere(LLAMA)).isTrue();
        assertThat(a.level(MISTRAL)).as("other models stay").isEqualTo(Host.Level.INSTALLED);

        fleet.inventory(a, synced(Set.of(LLAMA), Map.of(), T0.plusSeconds(30)));
        assertThat(a.level(LLAMA)).as("until the next poll says otherwise").isEqualTo(Host.Level.INSTALLED);
    }

    @Test
    void forgetOnAHostNeverSyncedKeepsItUnsynced() {
        Fleet fleet = fleet("a");
        Host a = fleet.host("a");

        fleet.forget(a, LLAMA);
        fleet.forget(a, null);

        assertThat(a.level(LLAMA)).isEqualTo(Host.Level.UNSYNCED);
        assertThat(a.inventory().syncedAt()).isNull();
    }

    @Test
    void markLoadedMakesTheModelLoadedUntilTheNextPoll() {
        Fleet fleet = fleet("a", "b");
        Host a = fleet.host("a");
        fleet.inventory(a, synced(Set.of(LLAMA), Map.of(), T0));
        fleet.inventory(fleet.host("b"), synced(Set.of(LLAMA), Map.of(), T0));
        SlotPool pool = new SlotPool(fleet, RoutingConfig.DEFAULT, 0, id -> 0);
        assertThat(pool.pick(LLAMA, Set.of("a")).host().name()).isEqualTo("b");

        fleet.markLoaded(fleet.host("b"), LLAMA, "Llama3");

        Host b = fleet.host("b");
        assertThat(b.level(LLAMA)).isEqualTo(Host.Level.LOADED);
        assertThat(b.inventory().loaded().get(LLAMA).name()).isEqualTo("Llama3");
        assertThat(b.inventory().syncedAt()).isEqualTo(T0);
        assertThat(pool.pick(LLAMA, Set.of()).host().name()).as("now preferred over a").isEqualTo("b");

        fleet.inventory(b, synced(Set.of(LLAMA), Map.of(), T0.plusSeconds(30)));
        assertThat(b.level(LLAMA)).isEqualTo(Host.Level.INSTALLED);
        assertThat(pool.pick(LLAMA, Set.of()).host().name()).isEqualTo("a");
    }

    @Test
    void markLoadedOnAHostNeverSyncedLeavesOtherModelsUnsynced() {
        Fleet fleet = fleet("a");
        Host a = fleet.host("a");

        fleet.markLoaded(a, LLAMA, "llama3");
        fleet.markLoaded(a, null, null);

        assertThat(a.level(LLAMA)).isEqualTo(Host.Level.LOADED);
        assertThat(a.level(MISTRAL)).isEqualTo(Host.Level.UNSYNCED);
        assertThat(fleet.knownNowhere(MISTRAL)).isFalse();
    }
}
