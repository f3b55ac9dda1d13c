package dev.oqp.common.config;

/**
 * Settings of one model on a host ({@code ollama.hosts[].models.NAME}) or of every model a glob matches across the
 * fleet ({@code ollama.models.GLOB}).
 *
 * @param maxConcurrent requests of the model a host runs at once (the dispatcher treats it like the host's slots);
 *                      default 0 = not set here: a host entry's 0 takes the fleet glob's cap, a glob's 0 means no cap
 * @param pin           keep the model resident on that host: every request for it sent there carries
 *                      {@code keep_alive: -1}, and it is loaded again when the host's {@code /api/ps} no longer lists
 *                      it; default false; host entries only (a glob names no model to load)
 */
public record ModelConfig(int maxConcurrent, boolean pin) {

    public static final ModelConfig NONE = new ModelConfig(0, false);

    public ModelConfig {
        Checks.range("maxConcurrent", maxConcurrent, 0, Integer.MAX_VALUE);
    }
}
