package dev.oqp.common.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;

import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.server.Server;
import org.junit.jupiter.api.Test;

class UpstreamClientsTest {

    @Test
    void upstreamClientsNeverFollowRedirectsNorKeepCookies() {
        // A redirect would carry a host's configured headers (secrets for auth-gated upstreams) elsewhere.
        HttpClient client = UpstreamClients.create(new ClientSettings(Duration.ofSeconds(3), 8, 8, false, null),
                new Server(), "test-client", false);

        assertThat(client.isFollowRedirects()).isFalse();
        assertThat(client.getHttpCookieStore()).isInstanceOf(HttpCookieStore.Empty.class);
        assertThat(client.getConnectTimeout()).isEqualTo(3000);
        assertThat(client.getUserAgentField()).isNull();
    }
}
