package dev.oqp.queue.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;

class HeaderClientsTest {
    private static final Set<String> CONFIGURED = Set.of("team", "webui");

    private static List<String> resolveAll(HeaderClients clients, int max, String... headers) {
        List<String> out = new ArrayList<>();
        for (String header : headers) {
            out.add(clients.resolve(header, CONFIGURED, max));
        }
        return out;
    }

    @Test
    void theFirstDistinctIdsGetAnIdentityAndLaterOnesArePooled() {
        HeaderClients clients = new HeaderClients();

        assertThat(resolveAll(clients, 2, "a", "b", "c", "a", "d", "b"))
                .containsExactly("a", "b", "other", "a", "other", "b");
        assertThat(clients.identities(2)).containsExactly("a", "b", "other");
    }

    @Test
    void idsTheConfigurationNamesAlwaysStandForThemselvesAndTakeNoPlace() {
        HeaderClients clients = new HeaderClients();

        assertThat(resolveAll(clients, 1, "team", "webui", "a", "team", "b")).containsExactly("team", "webui", "a", "team",
                "other");
        assertThat(clients.identities(1)).containsExactly("a", "other");
    }

    @Test
    void anythingButAPlainIdIsNobody() {
        HeaderClients clients = new HeaderClients();

        assertThat(resolveAll(clients, 5, null, "", "has space", "x".repeat(65), "ünï", "a/b", "a\"b"))
                .containsOnlyNulls();
        assertThat(resolveAll(clients, 5, "x".repeat(64), "A.b_c-9")).containsExactly("x".repeat(64), "A.b_c-9");
        assertThat(clients.identities(5)).hasSize(2);
    }

    @Test
    void zeroIgnoresTheHeaderEvenForConfiguredIds() {
        HeaderClients clients = new HeaderClients();

        assertThat(resolveAll(clients, 0, "a", "team")).containsOnlyNulls();
        assertThat(clients.identities(0)).isEmpty();
    }

    @Test
    void aSmallerBoundAfterAReloadPoolsTheIdsPastItAndALargerOneAdmitsMore() {
        HeaderClients clients = new HeaderClients();
        resolveAll(clients, 3, "a", "b", "c");

        assertThat(resolveAll(clients, 1, "a", "b", "c", "d")).containsExactly("a", "other", "other", "other");
        assertThat(resolveAll(clients, 4, "c", "d", "e")).containsExactly("c", "d", "other");
    }
}
