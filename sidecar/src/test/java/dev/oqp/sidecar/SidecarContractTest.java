package dev.oqp.sidecar;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import dev.oqp.common.proxy.ProxyBaseContractTest;

/** The proxy base's contract, held by the sidecar: one service port in front of the upstream. */
class SidecarContractTest extends ProxyBaseContractTest {
    @Override
    protected ProxyUnderTest start(URI upstream, Duration idleTimeout, long maxBody) throws Exception {
        List<String> lines = new ArrayList<>(List.of(
                "headers: {Authorization: \"" + INJECTED_AUTHORIZATION + "\"}", "connect_timeout: 2s"));
        if (idleTimeout != null) {
            lines.add("timeout: " + idleTimeout.toMillis() + "ms");
        }
        if (maxBody >= 0) {
            lines.add("max_body: " + maxBody);
        }
        SidecarFixture fixture = new SidecarFixture();
        Sidecar sidecar = fixture.start(SidecarFixture.service("ui", upstream, lines.toArray(String[]::new)));
        return new ProxyUnderTest() {
            @Override
            public int port() {
                return sidecar.port("ui");
            }

            @Override
            public void clientIdleTimeout(Duration timeout) {
                sidecar.connector("ui").setIdleTimeout(timeout.toMillis());
            }

            @Override
            public void close() throws Exception {
                fixture.close();
            }
        };
    }
}
