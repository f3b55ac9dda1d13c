package dev.oqp.common.config;

/** The binary a configuration is loaded for; both validate the whole file, a few rules differ. */
public enum Target {
    /** {@code ollama-auth-sidecar}: needs at least one service, each with an {@code upstream}. */
    SIDECAR,
    /** {@code ollama-queue-proxy}: acts on every section; {@code services[].upstream} is allowed but unused. */
    QUEUE_PROXY;

    /** The binary's name, as used in messages. */
    public String binaryName() {
        return this == SIDECAR ? "ollama-auth-sidecar" : "ollama-queue-proxy";
    }
}
