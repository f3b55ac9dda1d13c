package dev.oqp.common.config;

import java.util.ArrayList;
import java.util.List;

/**
 * The rule spanning {@code queue}, {@code auth} and the fleet's size: the slots kept for tiers
 * ({@code queue.<tier>.reserved_slots}) and for clients ({@code auth.keys[].min_slots}) together fit in the slots the
 * fleet runs at once, so every reserve can be met at the same time. Those slots are {@code proxy.max_concurrent}, or
 * the sum of {@code ollama.hosts[].max_concurrent} when that is 0 or smaller.
 */
final class ReserveCheck {

    private ReserveCheck() {
    }

    /** One problem naming every reserve when their sum is more than the fleet's slots; nothing otherwise. */
    static void check(Node.Context ctx, ProxyConfig proxy, OllamaConfig ollama, QueueConfig queue, AuthConfig auth) {
        List<String> parts = new ArrayList<>();
        long sum = 0;
        for (Tier t : Tier.values()) {
            int reserved = queue.tier(t).reservedSlots();
            if (reserved > 0) {
                parts.add("queue." + t.yamlName() + ".reserved_slots " + reserved);
                sum += reserved;
            }
        }
        List<KeyConfig> keys = auth.keys();
        for (int i = 0; i < keys.size(); i++) {
            int minSlots = keys.get(i).minSlots();
            if (minSlots > 0) {
                parts.add("auth.keys[" + i + "].min_slots " + minSlots);
                sum += minSlots;
            }
        }
        long hostSlots = 0;
        for (HostConfig host : ollama.hosts()) {
            hostSlots += host.maxConcurrent();
        }
        boolean capped = proxy.maxConcurrent() > 0 && proxy.maxConcurrent() < hostSlots;
        long slots = capped ? proxy.maxConcurrent() : hostSlots;
        if (sum > slots) {
            ctx.problem("", "reserved slots: " + String.join(" + ", parts) + " = " + sum + " (expected: at most the "
                    + slots + (slots == 1 ? " slot" : " slots") + " of the fleet, " + (capped ? "proxy.max_concurrent"
                    : "the sum of ollama.hosts[].max_concurrent") + ")");
        }
    }
}
