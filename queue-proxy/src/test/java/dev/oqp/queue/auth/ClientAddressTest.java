package dev.oqp.queue.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import dev.oqp.common.config.Cidr;
import org.junit.jupiter.api.Test;

class ClientAddressTest {

    private static final List<Cidr> TRUSTED = List.of(Cidr.parse("10.0.0.0/8"), Cidr.parse("fd00::/8"));

    @Test
    void untrustedPeerIsTheClientWhateverItsHeaderSays() {
        assertThat(ClientAddress.resolve("203.0.113.9", List.of("198.51.100.1"), TRUSTED)).isEqualTo("203.0.113.9");
        assertThat(ClientAddress.resolve("203.0.113.9", List.of("198.51.100.1"), List.of())).isEqualTo("203.0.113.9");
        assertThat(ClientAddress.resolve("10.0.0.1", List.of("198.51.100.1"), List.of())).isEqualTo("10.0.0.1");
    }

    @Test
    void trustedPeerWithoutHeaderIsTheClient() {
        assertThat(ClientAddress.resolve("10.0.0.1", List.of(), TRUSTED)).isEqualTo("10.0.0.1");
    }

    @Test
    void trustedPeerNamesTheClientAsTheRightMostEntry() {
        assertThat(ClientAddress.resolve("10.0.0.1", List.of("198.51.100.1"), TRUSTED)).isEqualTo("198.51.100.1");
    }

    @Test
    void chainOfTrustedProxiesIsWalkedFromTheRight() {
        assertThat(ClientAddress.resolve("10.0.0.1", List.of("198.51.100.1, 10.1.1.1, 10.2.2.2"), TRUSTED))
                .isEqualTo("198.51.100.1");
    }

    @Test
    void spoofedLeftMostEntriesAreNeverBelieved() {
        assertThat(ClientAddress.resolve("10.0.0.1", List.of("1.1.1.1, 2.2.2.2, 198.51.100.1, 10.1.1.1"), TRUSTED))
                .isEqualTo("198.51.100.1");
        assertThat(ClientAddress.resolve("10.0.0.1", List.of("10.9.9.9, 198.51.100.1"), TRUSTED))
                .isEqualTo("198.51.100.1");
    }

    @Test
    void severalHeaderFieldsReadAsOneList() {
        assertThat(ClientAddress.resolve("10.0.0.1", List.of("1.1.1.1", "198.51.100.1, 10.1.1.1"), TRUSTED))
                .isEqualTo("198.51.100.1");
    }

    @Test
    void allTrustedChainYieldsItsLeftMostEntry() {
        assertThat(ClientAddress.resolve("10.0.0.1", List.of("10.3.3.3, 10.2.2.2"), TRUSTED)).isEqualTo("10.3.3.3");
    }

    @Test
    void malformedEntryStopsTheWalkAtTheLastTrustedHop() {
        assertThat(ClientAddress.resolve("10.0.0.1", List.of("198.51.100.1, garbage, 10.1.1.1"), TRUSTED))
                .isEqualTo("10.1.1.1");
        assertThat(ClientAddress.resolve("10.0.0.1", List.of("198.51.100.1, unknown"), TRUSTED)).isEqualTo("10.0.0.1");
        assertThat(ClientAddress.resolve("10.0.0.1", List.of("198.51.100.1,"), TRUSTED)).isEqualTo("10.0.0.1");
        assertThat(ClientAddress.resolve("10.0.0.1", List.of("example.com"), TRUSTED)).isEqualTo("10.0.0.1");
        assertThat(ClientAddress.resolve("10.0.0.1", List.of("10.0.0.0/8"), TRUSTED)).isEqualTo("10.0.0.1");
        assertThat(ClientAddress.resolve("10.0.0.1", List.of("256.1.1.1"), TRUSTED)).isEqualTo("10.0.0.1");
    }

    @Test
    void ipv6PeersAndEntriesResolveToCanonicalForm() {
        assertThat(ClientAddress.resolve("fd00::1", List.of("2001:db8::7, fd12::2"), TRUSTED))
                .isEqualTo("2001:db8:0:0:0:0:0:7");
        assertThat(ClientAddress.resolve("[fd00::1]", List.of("[2001:DB8::7]:443"), TRUSTED))
                .isEqualTo("2001:db8:0:0:0:0:0:7");
        assertThat(ClientAddress.resolve("2001:db8::9", List.of("198.51.100.1"), TRUSTED))
                .isEqualTo("2001:db8:0:0:0:0:0:9");
        assertThat(ClientAddress.resolve("fe80::1%eth0", List.of(), TRUSTED)).isEqualTo("fe80:0:0:0:0:0:0:1");
    }

    @Test
    void mixedFamiliesAndMappedAddressesAreMatchedByFamily() {
        assertThat(ClientAddress.resolve("::ffff:10.0.0.1", List.of("198.51.100.1"), TRUSTED)).isEqualTo("198.51.100.1");
        assertThat(ClientAddress.resolve("fd00::1", List.of("198.51.100.1, 10.1.1.1"), TRUSTED))
                .isEqualTo("198.51.100.1");
    }

    @Test
    void portsOnEntriesAreDropped() {
        assertThat(ClientAddress.resolve("10.0.0.1", List.of("198.51.100.1:5678"), TRUSTED)).isEqualTo("198.51.100.1");
        assertThat(ClientAddress.resolve("10.0.0.1", List.of("198.51.100.1:port"), TRUSTED)).isEqualTo("10.0.0.1");
    }

    @Test
    void peerThatIsNotAnIpLiteralIsReturnedUnchanged() {
        assertThat(ClientAddress.resolve("some-socket", List.of("198.51.100.1"), TRUSTED)).isEqualTo("some-socket");
    }

    @Test
    void onlyCanonicalDottedQuadsTakeTheFastPath() {
        assertThat(ClientAddress.isPlainIpv4("127.0.0.1")).isTrue();
        assertThat(ClientAddress.isPlainIpv4("255.255.255.255")).isTrue();
        assertThat(ClientAddress.isPlainIpv4("256.0.0.1")).isFalse();
        assertThat(ClientAddress.isPlainIpv4("01.2.3.4")).isFalse();
        assertThat(ClientAddress.isPlainIpv4("1.2.3")).isFalse();
        assertThat(ClientAddress.isPlainIpv4("1.2.3.4.5")).isFalse();
        assertThat(ClientAddress.isPlainIpv4("1..3.4")).isFalse();
        assertThat(ClientAddress.isPlainIpv4("::1")).isFalse();
        assertThat(ClientAddress.isPlainIpv4("")).isFalse();
        assertThat(ClientAddress.resolve("10.0.0.7", List.of("192.0.2.1"), List.of())).isEqualTo("10.0.0.7");
    }
}
