package dev.oqp.queue.webhooks;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.oqp.queue.routing.Fleet;
import dev.oqp.queue.routing.Host;

/**
 * The fleet's health transitions as webhook events: {@code host.unhealthy} when a host turns unhealthy (a failed
 * health check, or a request that could not connect), {@code host.recovered} when an unhealthy host answers its
 * health check again. A host healthy at its first check is not "recovered".
 */
final class HostEvents implements Fleet.Listener {
    private static final Pattern STATUS = Pattern.compile("answered (\\d{3})");
    private static final Pattern EXCEPTION = Pattern.compile("health check failed: (\\w+)");

    private final Webhooks webhooks;

    HostEvents(Webhooks webhooks) {
        this.webhooks = webhooks;
    }

    @Override
    public void healthChanged(Host host, Host.Health from, Host.Health to, String reason) {
        if (to == Host.Health.UNHEALTHY) {
            webhooks.publish(Event.hostUnhealthy(host.name(), errorKind(reason)));
        } else if (to == Host.Health.HEALTHY && from == Host.Health.UNHEALTHY) {
            webhooks.publish(Event.hostRecovered(host.name()));
        }
    }

    /**
     * A short kind for the fleet's reason, never its text (which may quote an exception's message):
     * {@code connection_refused}, {@code connection_closed}, {@code timeout}, {@code connect_failed}, {@code http_503},
     * or an exception's
     * simple class name.
     */
    static String errorKind(String reason) {
        if (reason == null) {
            return "unknown";
        }
        if (reason.contains("connection refused")) {
            return "connection_refused";
        }
        if (reason.contains("timed out")) {
            return "timeout";
        }
        if (reason.contains("EOFException") || reason.contains("ClosedChannelException")) {
            return "connection_closed";
        }
        if (reason.contains("could not connect")) {
            return "connect_failed";
        }
        Matcher status = STATUS.matcher(reason);
        if (status.find()) {
            return "http_" + status.group(1);
        }
        Matcher exception = EXCEPTION.matcher(reason);
        return exception.find() ? exception.group(1) : "health_check_failed";
    }
}
