package dev.oqp.queue;

/**
 * Entry point of {@code ollama-queue-proxy}. The queue proxy is not built yet (it is the subject of
 * the next issue); until then this binary says so and exits with status 1 instead of pretending to
 * proxy anything.
 */
public final class QueueProxyMain {
    private QueueProxyMain() {
    }

    public static void main(String[] args) {
        System.err.println("ollama-queue-proxy is not built yet in this version; use ollama-auth-sidecar"
                + " (sidecar/target/ollama-auth-sidecar.jar) for per-port header injection.");
        System.exit(1);
    }
}
