package dev.oqp.queue.webhooks;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.oqp.common.config.WebhooksConfig;
import org.eclipse.jetty.util.Promise;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The SSRF guard: which addresses a webhook may not reach, at start, on reload and at delivery. */
class AddressGuardTest {

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1", "127.9.9.9", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
        "169.254.169.254", "0.0.0.0", "0.1.2.3", "100.64.0.1", "100.127.255.255", "224.0.0.1", "255.255.255.255",
        "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3",
        // private IPv4 inside IPv6: IPv4-compatible, NAT64's well-known prefix, 6to4; local-use NAT64 whatever it holds
        "::127.0.0.1", "::10.0.0.1", "::0.0.0.2", "64:ff9b::127.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b::192.168.0.1",
        "2002:a00:1::1", "2002:7f00:1::", "2002:a9fe:a9fe::1", "64:ff9b:1::10.0.0.1", "64:ff9b:1:c0a8:1:100::",
        "64:ff9b:1::8.8.8.8",
        // site-local, deprecated but still routed by some stacks
        "fec0::1", "feff::1"})
    void internalAddressesAreRefused(String literal) throws Exception {
        assertThat(AddressGuard.refused(InetAddress.getByName(literal))).isNotNull();
    }

    @ParameterizedTest
    @ValueSource(strings = {"8.8.8.8", "172.15.255.255", "172.32.0.1", "100.63.255.255", "100.128.0.1", "192.169.0.1",
        "2001:4860:4860::8888", "::ffff:8.8.8.8",
        "::8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1", "2001:db8:fec0::1"})
    void publicAddressesPass(String literal) throws Exception {
        assertThat(AddressGuard.refused(InetAddress.getByName(literal))).isNull();
    }

    @Test
    void checkListsEveryRefusedEndpointByHostNeverByUrlAndSkipsAllowedHosts() {
        WebhooksConfig config = new WebhooksConfig(List.of(
                new WebhooksConfig.Endpoint("http://10.1.2.3/token-in-path", List.of("queue.full"), null),
                new WebhooksConfig.Endpoint("https://[fe80::1]:8443/x", List.of("queue.full"), null),
                new WebhooksConfig.Endpoint("http://127.0.0.1:9/ok", List.of("queue.full"), null),
                new WebhooksConfig.Endpoint("http://8.8.8.8/ok", List.of("queue.full"), null)),
                null, List.of("127.0.0.1"), 10, Duration.ofSeconds(1), 0);

        AddressGuard.Check check = AddressGuard.check(config);

        assertThat(check.problems()).containsExactly(
                "webhooks.endpoints[0].url: host 10.1.2.3 resolves to 10.1.2.3 (private 10.0.0.0/8), refused as an"
                        + " SSRF risk (list the host in webhooks.allowed_hosts to allow it)",
                "webhooks.endpoints[1].url: host fe80::1 resolves to fe80:0:0:0:0:0:0:1 (link-local fe80::/10), refused"
                        + " as an SSRF risk (list the host in webhooks.allowed_hosts to allow it)");
        assertThat(String.join("\n", check.problems())).doesNotContain("token-in-path");
        assertThat(check.warnings()).isEmpty();
    }

    @Test
    void aHostThatDoesNotResolveAtStartIsAWarningNotAProblem() {
        WebhooksConfig config = new WebhooksConfig(List.of(
                new WebhooksConfig.Endpoint("http://no-such-host.invalid/x", List.of("queue.full"), null)),
                null, List.of(), 10, Duration.ofSeconds(1), 0);

        AddressGuard.Check check = AddressGuard.check(config);

        assertThat(check.problems()).isEmpty();
        assertThat(check.warnings()).singleElement().asString().contains("no-such-host.invalid")
                .contains("each delivery resolves it");
    }

    @Test
    void theDeliveryResolverRefusesAPrivateAddressUnlessTheHostIsAllowed() throws Exception {
        List<String> allowed = new ArrayList<>();
        AddressGuard.Resolver resolver = new AddressGuard.Resolver(Runnable::run, () -> List.copyOf(allowed));

        CompletableFuture<List<InetSocketAddress>> refused = resolve(resolver, "127.0.0.1");
        assertThat(refused).failsWithin(5, TimeUnit.SECONDS).withThrowableThat()
                .havingRootCause().isInstanceOf(AddressGuard.BlockedAddressException.class);

        allowed.add("127.0.0.1");
        assertThat(resolve(resolver, "127.0.0.1").get(5, TimeUnit.SECONDS))
                .containsExactly(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 8080));
    }

    private static CompletableFuture<List<InetSocketAddress>> resolve(AddressGuard.Resolver resolver, String host) {
        CompletableFuture<List<InetSocketAddress>> out = new CompletableFuture<>();
        resolver.resolve(host, 8080, null, Promise.from(out::complete, out::completeExceptionally));
        return out;
    }
}
