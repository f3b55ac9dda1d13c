package dev.oqp.common.server;

import java.security.Security;

/**
 * Process-wide settings both binaries apply first thing in {@code main}, before any Jetty class loads.
 * Each one is applied only when the operator has not set it.
 */
public final class JvmSettings {
    private JvmSettings() {
    }

    public static void apply() {
        // Jetty asks the platform MBean server whether references are compressed, to pad its queues;
        // starting JMX for that costs a tenth of a second of start-up. With the default heap (well under
        // 32 GiB) references are compressed: four bytes, sixteen per 64-byte cache line.
        if (System.getProperty("org.eclipse.jetty.util.referencesPerCacheLine") == null) {
            System.setProperty("org.eclipse.jetty.util.referencesPerCacheLine", "16");
        }
        // Upstream names are resolved for each new connection; keep the JVM's positive DNS cache short so
        // a restarted container with a new address is found again within seconds.
        if (Security.getProperty("networkaddress.cache.ttl") == null) {
            Security.setProperty("networkaddress.cache.ttl", "5");
        }
    }
}
