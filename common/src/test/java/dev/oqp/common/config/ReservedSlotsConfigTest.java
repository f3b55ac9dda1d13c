package dev.oqp.common.config;

import static dev.oqp.common.config.Yaml.proxy;
import static dev.oqp.common.config.Yaml.proxyProblems;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** {@code queue.<tier>.reserved_slots}, {@code borrow} and {@code auth.keys[].min_slots}, and the sum of them all. */
class ReservedSlotsConfigTest {

    private static final String HOSTS = """
            ollama:
              hosts:
                - {name: a, url: "http://127.0.0.1:11434", max_concurrent: 3}
                - {name: b, url: "http://127.0.0.2:11434", max_concurrent: 2}
            """;

    private static String key(String id, String extra) {
        return "    - {client_id: " + id + ", key: " + id + "-key-0123456789abcdef" + extra + "}\n";
    }

    @Test
    void byDefaultNothingIsReservedAndBorrowIsEveryReservedSlot() throws Exception {
        OqpConfig config = proxy(HOSTS + "queue:\n  high: {reserved_slots: 2}\nauth:\n  keys:\n" + key("chat", ""));
        assertThat(config.queue().high().reservedSlots()).isEqualTo(2);
        assertThat(config.queue().high().borrow()).as("work-conserving by default").isEqualTo(2);
        assertThat(config.queue().normal().reservedSlots()).isZero();
        assertThat(config.queue().normal().borrow()).isZero();
        assertThat(config.auth().keys().get(0).minSlots()).isZero();
    }

    @Test
    void borrowAndMinSlotsAreRead() throws Exception {
        OqpConfig config = proxy(HOSTS + "queue:\n  high: {reserved_slots: 2, borrow: 0}\n  normal: {reserved_slots: 1,"
                + " borrow: 1}\nauth:\n  keys:\n" + key("chat", ", min_slots: 2, max_concurrent: 3"));
        assertThat(config.queue().high().borrow()).isZero();
        assertThat(config.queue().normal().borrow()).isEqualTo(1);
        assertThat(config.auth().keys().get(0).minSlots()).isEqualTo(2);
    }

    @Test
    void borrowAboveReservedSlotsAndMinSlotsAboveMaxConcurrentAreProblems() {
        assertThat(proxyProblems(HOSTS + "queue:\n  high: {reserved_slots: 1, borrow: 2}\n  low: {borrow: 1}\n"
                + "auth:\n  keys:\n" + key("chat", ", min_slots: 2, max_concurrent: 1")))
                .containsExactly("queue.high.borrow: 2 (expected: at most reserved_slots, 1)",
                        "queue.low.borrow: 1 (expected: at most reserved_slots, 0)",
                        "auth.keys[0].min_slots: 2 (expected: at most max_concurrent, 1)");
        assertThat(proxyProblems(HOSTS + "queue:\n  normal: {reserved_slots: -1}\n"))
                .containsExactly("queue.normal.reserved_slots: -1 (expected: >= 0)");
    }

    @Test
    void reservesMayFillTheFleetButNotExceedIt() throws Exception {
        String fits = HOSTS + "queue:\n  high: {reserved_slots: 2}\n  normal: {reserved_slots: 1}\nauth:\n  keys:\n"
                + key("chat", ", min_slots: 1") + key("ops", ", min_slots: 1");
        assertThat(proxy(fits).queue().high().reservedSlots()).isEqualTo(2);

        assertThat(proxyProblems(fits.replace("{reserved_slots: 1}", "{reserved_slots: 2}"))).containsExactly(
                "reserved slots: queue.high.reserved_slots 2 + queue.normal.reserved_slots 2 + auth.keys[0].min_slots 1"
                        + " + auth.keys[1].min_slots 1 = 6 (expected: at most the 5 slots of the fleet, the sum of"
                        + " ollama.hosts[].max_concurrent)");
    }

    @Test
    void aGlobalCapBelowTheHostsSlotsIsWhatTheReservesMustFitIn() throws Exception {
        String yaml = HOSTS + "proxy: {max_concurrent: 2}\nqueue:\n  high: {reserved_slots: 2}\n";
        assertThat(proxy(yaml).queue().high().reservedSlots()).isEqualTo(2);
        assertThat(proxyProblems(yaml.replace("max_concurrent: 2}\nqueue", "max_concurrent: 1}\nqueue")))
                .containsExactly("reserved slots: queue.high.reserved_slots 2 = 2 (expected: at most the 1 slot of the"
                        + " fleet, proxy.max_concurrent)");
        // A global cap above the hosts' slots: the hosts' slots are what runs at once.
        assertThat(proxyProblems(HOSTS + "proxy: {max_concurrent: 10}\nqueue:\n  low: {reserved_slots: 6}\n"))
                .containsExactly("reserved slots: queue.low.reserved_slots 6 = 6 (expected: at most the 5 slots of the"
                        + " fleet, the sum of ollama.hosts[].max_concurrent)");
    }
}
