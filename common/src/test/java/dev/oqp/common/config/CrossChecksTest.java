package dev.oqp.common.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;

class CrossChecksTest {

    private final Node.Context ctx = new Node.Context(Map.of());

    @Test
    void aPortClaimedTwiceNamesTheFirstClaim() {
        CrossChecks checks = new CrossChecks(ctx, Target.QUEUE_PROXY);
        checks.claim(8080, "services[0].listen");
        checks.claim(8081, "services[1].listen");
        checks.claim(8080, "sidecar.metrics_port");
        assertThat(ctx.problems).containsExactly("sidecar.metrics_port: port 8080 is already used by services[0].listen");
    }

    @Test
    void identitiesAreJudgedOnlyByTheQueueProxyWithAuthEnabled() {
        CrossChecks.ServiceIdentity none = new CrossChecks.ServiceIdentity("services[0]", "services[0].client",
                Map.of(), null, false);
        CrossChecks.AuthFacts on = new CrossChecks.AuthFacts(true, Set.of("a"), Set.of(), true);
        for (Target target : Target.values()) {
            CrossChecks checks = new CrossChecks(ctx, target);
            checks.service(none);
            checks.auth(on);
            checks.serviceIdentities();
        }
        CrossChecks off = new CrossChecks(ctx, Target.QUEUE_PROXY);
        off.service(none);
        off.auth(new CrossChecks.AuthFacts(false, Set.of("a"), Set.of(), true));
        off.serviceIdentities();
        assertThat(ctx.problems).hasSize(1);
        assertThat(ctx.problems.get(0)).startsWith("services[0]: no client identity");
    }
}
