package dev.oqp.queue.server;

import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.time.Duration;

import dev.oqp.common.proxy.ProxyBaseContractTest;
import dev.oqp.queue.routing.Host;

/**
 * The proxy base's contract, held by the queue proxy: its main listener in front of one host, without keys. Its gate
 * reads inference bodies itself (and answers 413 and 408 for them on its own), so for those cases the contract holds
 * for what the client sees, not for the proxy base's code path.
 */
class QueueProxyContractTest extends ProxyBaseContractTest {
    @Override
    protected ProxyUnderTest start(URI upstream, Duration idleTimeout, long maxBody) throws Exception {
        StringBuilder yaml = new StringBuilder("proxy:\n  drain_timeout: 1s\n");
        if (maxBody >= 0) {
            yaml.append("  max_body: ").append(maxBody).append('\n');
        }
        // Healthy hosts are not checked again during a case: a fault installed for a case is met by its requests only.
        yaml.append("ollama:\n  health_check_interval: 1h\n  model_sync_interval: 1h\n  hosts:\n    - name: gpu-1\n      url: ")
                .append(upstream)
                .append("\n      max_concurrent: 4\n      headers: {Authorization: \"").append(INJECTED_AUTHORIZATION)
                .append("\"}\n");
        if (idleTimeout != null) {
            yaml.append("  request_timeout: ").append(idleTimeout.toMillis()).append("ms\n");
        }
        QueueFixture fixture = new QueueFixture();
        QueueProxy proxy = fixture.start(null, 0, yaml.toString());
        await().atMost(Duration.ofSeconds(10)).until(() -> proxy.fleet().hosts().stream()
                .allMatch(h -> h.inventory().syncedAt() != null && h.health() == Host.Health.HEALTHY));
        return new ProxyUnderTest() {
            @Override
            public int port() {
                return proxy.port();
            }

            @Override
            public void clientIdleTimeout(Duration timeout) {
                proxy.mainConnector().setIdleTimeout(timeout.toMillis());
            }

            @Override
            public void close() {
                fixture.close();
            }
        };
    }

    /**
     * Cold-load protection (on by default) keeps a streamed request for a model the host may be loading until the
     * host's first byte, although its client left ({@link Forwarder#holdUntilFirstByte}); that a leaving client
     * aborts at once without it is {@code FleetEndToEndTest.withoutColdLoadProtectionOrWithTheModelLoadedALeavingClientAbortsAtOnce}.
     */
    @Override
    protected String optOut(Case contractCase) {
        return switch (contractCase) {
            case DISCONNECT_DURING_MODEL_LOAD_CLOSES_UPSTREAM, CLIENT_THAT_LEFT_GETS_NO_ERROR_PAGE ->
                    "cold-load protection holds the upstream request of a client that left until the host's first byte";
            default -> null;
        };
    }

    /** Inference and {@code POST /api/show} bodies are read by the gate; a metadata request's body is streamed. */
    @Override
    protected String streamedBodyRequest() {
        return "GET /api/version";
    }

    /** Without keys a loopback listener refuses foreign {@code Host} names (DNS rebinding); a {@code .localhost} one passes. */
    @Override
    protected String clientHostName() {
        return "ollama.localhost";
    }
}
