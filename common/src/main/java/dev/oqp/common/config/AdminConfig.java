package dev.oqp.common.config;

/**
 * Exposure of the queue proxy's own endpoints ({@code admin:}).
 *
 * @param metricsPublic true: {@code /metrics} answers without a key (private networks); default false
 * @param dashboard     serve {@code /dashboard}; default true
 */
public record AdminConfig(boolean metricsPublic, boolean dashboard) {

    public static final AdminConfig DEFAULT = new AdminConfig(false, true);
}
