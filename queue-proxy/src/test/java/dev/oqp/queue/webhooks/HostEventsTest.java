package dev.oqp.queue.webhooks;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** A host event names a short error kind, never the fleet's reason text (which may quote an exception message). */
class HostEventsTest {

    @Test
    void reasonsBecomeShortKinds() {
        assertThat(HostEvents.errorKind("health check failed: connection refused")).isEqualTo("connection_refused");
        assertThat(HostEvents.errorKind("health check failed: timed out")).isEqualTo("timeout");
        assertThat(HostEvents.errorKind("health check answered 503")).isEqualTo("http_503");
        assertThat(HostEvents.errorKind("a request could not connect")).isEqualTo("connect_failed");
        assertThat(HostEvents.errorKind("health check failed: EOFException")).isEqualTo("connection_closed");
        assertThat(HostEvents.errorKind("health check failed: UnknownHostException: user:pass@gpu.internal"))
                .isEqualTo("UnknownHostException");
    }
}
