package dev.oqp.common.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.channels.UnresolvedAddressException;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLHandshakeException;

import org.eclipse.jetty.io.EofException;
import org.junit.jupiter.api.Test;

/** The one error mapping: which failure before the response started becomes which status. */
class ProxyErrorsTest {
    @Test
    void connectFailuresAre502() {
        assertThat(ProxyErrors.statusFor(new ConnectException("Connection refused"))).isEqualTo(502);
        assertThat(ProxyErrors.statusFor(new UnresolvedAddressException())).isEqualTo(502);
        assertThat(ProxyErrors.statusFor(new UnknownHostException("ollama"))).isEqualTo(502);
        assertThat(ProxyErrors.statusFor(new SocketTimeoutException("Connect Timeout"))).isEqualTo(502);
        assertThat(ProxyErrors.statusFor(new SSLHandshakeException("PKIX path building failed"))).isEqualTo(502);
        assertThat(ProxyErrors.outcomeOf(new ConnectException())).isEqualTo(Exchange.Outcome.UPSTREAM_CONNECT);
    }

    @Test
    void idleTimeoutIs504EvenWhenWrapped() {
        assertThat(ProxyErrors.statusFor(new TimeoutException("Idle timeout expired"))).isEqualTo(504);
        assertThat(ProxyErrors.statusFor(new IOException(new TimeoutException()))).isEqualTo(504);
    }

    @Test
    void bodyOverTheLimitIs413() {
        assertThat(ProxyErrors.statusFor(new IOException(new BodyTooLargeException(10)))).isEqualTo(413);
        assertThat(ProxyErrors.messageFor(Exchange.Outcome.BODY_TOO_LARGE, new BodyTooLargeException(10)))
                .isEqualTo("request body too large (limit 10 bytes)");
    }

    @Test
    void anyOtherUpstreamBreakIs502() {
        assertThat(ProxyErrors.statusFor(new EofException("reset"))).isEqualTo(502);
        assertThat(ProxyErrors.outcomeOf(new EofException())).isEqualTo(Exchange.Outcome.UPSTREAM_BROKEN);
        assertThat(ProxyErrors.messageFor(Exchange.Outcome.UPSTREAM_BROKEN, new EofException()))
                .isEqualTo("upstream connection failed");
    }
}
