package dev.oqp.common.log;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.core.spi.FilterReply;
import org.junit.jupiter.api.Test;

class ClientTextFilterTest {
    private final LoggerContext context = new LoggerContext();
    private final ClientTextFilter filter = new ClientTextFilter();

    private FilterReply decide(String logger, String format) {
        return filter.decide(null, context.getLogger(logger), Level.WARN, format, new Object[] {"client text"}, null);
    }

    @Test
    void jettyWarningsQuotingAClientsHostAreDropped() {
        assertThat(decide("org.eclipse.jetty.http.HttpParser", "Encountered multiple `Host` headers.  Previous `Host`"
                + " header already seen as `{}`, new `Host` header has appeared as `{}`")).isEqualTo(FilterReply.DENY);
        assertThat(decide("org.eclipse.jetty.util.HostPort", "Bad Authority: [{}]")).isEqualTo(FilterReply.DENY);
    }

    @Test
    void jettysOtherWarningsPass() {
        assertThat(decide("org.eclipse.jetty.http.HttpParser", "something else {}")).isEqualTo(FilterReply.NEUTRAL);
        assertThat(decide("org.eclipse.jetty.server.HttpChannelState", "Bad Authority: [{}]"))
                .isEqualTo(FilterReply.NEUTRAL);
        assertThat(decide("dev.oqp.Anything", "Encountered multiple `Host` headers")).isEqualTo(FilterReply.NEUTRAL);
    }
}
