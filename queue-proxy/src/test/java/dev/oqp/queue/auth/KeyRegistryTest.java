package dev.oqp.queue.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import dev.oqp.common.config.AuthConfig;
import dev.oqp.common.config.KeyConfig;
import dev.oqp.common.config.RateLimitConfig;
import dev.oqp.common.config.Scope;
import dev.oqp.common.config.Tier;
import org.junit.jupiter.api.Test;

class KeyRegistryTest {

    private static final String LIBRECHAT = "librechat-secret-0123456789";
    private static final String OPS = "ops-secret-abcdefghijklmnop";

    private static final KeyRegistry REGISTRY = KeyRegistry.from(new AuthConfig(true, List.of(
            Keys.inline("librechat", LIBRECHAT),
            Keys.digestOnly("ops", OPS, Tier.HIGH, Scope.MANAGEMENT, 3, List.of("llama3*"))),
            RateLimitConfig.DEFAULT));

    @Test
    void knownKeyAuthenticatesAsItsClient() {
        assertThat(REGISTRY.enabled()).isTrue();
        assertThat(REGISTRY.authenticate(LIBRECHAT))
                .contains(new Client("librechat", Scope.INFERENCE, Tier.NORMAL, 0, List.of()));
    }

    @Test
    void keyConfiguredOnlyAsSha256MatchesTheRawToken() {
        assertThat(REGISTRY.authenticate(OPS))
                .contains(new Client("ops", Scope.MANAGEMENT, Tier.HIGH, 3, List.of("llama3*")));
    }

    @Test
    void unknownAbsentOrNearMissTokensAuthenticateNoOne() {
        assertThat(REGISTRY.authenticate(null)).isEmpty();
        assertThat(REGISTRY.authenticate("")).isEmpty();
        assertThat(REGISTRY.authenticate("not-a-key-at-all-0000")).isEmpty();
        assertThat(REGISTRY.authenticate(LIBRECHAT + "x")).isEmpty();
        assertThat(REGISTRY.authenticate(LIBRECHAT.substring(1))).isEmpty();
        assertThat(REGISTRY.authenticate(LIBRECHAT.toUpperCase())).isEmpty();
        assertThat(REGISTRY.authenticate(KeyConfig.sha256Hex(LIBRECHAT))).isEmpty();
    }

    @Test
    void authenticatedClientsAreNotAnonymous() {
        assertThat(REGISTRY.authenticate(LIBRECHAT)).get().extracting(Client::anonymous).isEqualTo(false);
    }

    @Test
    void disabledAuthMakesEveryoneTheAnonymousClientWithUncappedPriority() {
        KeyRegistry off = KeyRegistry.from(new AuthConfig(false, List.of(Keys.inline("a", LIBRECHAT)),
                RateLimitConfig.DEFAULT));
        assertThat(off.enabled()).isFalse();
        assertThat(off.authenticate(null)).containsSame(Client.ANONYMOUS);
        assertThat(off.authenticate("anything")).containsSame(Client.ANONYMOUS);
        assertThat(off.authenticate(LIBRECHAT)).containsSame(Client.ANONYMOUS);
        assertThat(Client.ANONYMOUS.anonymous()).isTrue();
        assertThat(Client.ANONYMOUS.clientId()).isEqualTo("anonymous");
        assertThat(Client.ANONYMOUS.scope()).isEqualTo(Scope.MANAGEMENT);
        assertThat(Client.ANONYMOUS.maxPriority()).isEqualTo(Tier.HIGH);
        assertThat(Client.ANONYMOUS.maxConcurrent()).isZero();
        assertThat(Client.ANONYMOUS.allowsModel("anything:latest")).isTrue();
    }

    @Test
    void toStringRevealsNeitherKeysNorDigests() {
        assertThat(REGISTRY.toString()).isEqualTo("KeyRegistry[enabled=true, keys=2]")
                .doesNotContain(KeyConfig.sha256Hex(LIBRECHAT));
    }

    @Test
    void bearerTokenIsTakenFromTheAuthorizationValueIgnoringSchemeCase() {
        assertThat(KeyRegistry.bearerToken("Bearer abc.DEF-123")).isEqualTo("abc.DEF-123");
        assertThat(KeyRegistry.bearerToken("bearer abc")).isEqualTo("abc");
        assertThat(KeyRegistry.bearerToken("BEARER abc")).isEqualTo("abc");
        assertThat(KeyRegistry.bearerToken("  Bearer \t  abc  ")).isEqualTo("abc");
    }

    @Test
    void bearerTokenIsNullForAnythingButOneBearerToken() {
        assertThat(KeyRegistry.bearerToken(null)).isNull();
        assertThat(KeyRegistry.bearerToken("")).isNull();
        assertThat(KeyRegistry.bearerToken("Bearer")).isNull();
        assertThat(KeyRegistry.bearerToken("Bearer ")).isNull();
        assertThat(KeyRegistry.bearerToken("Bearer    ")).isNull();
        assertThat(KeyRegistry.bearerToken("Bearerabc")).isNull();
        assertThat(KeyRegistry.bearerToken("Basic YWxhZGRpbjpvcGVuc2VzYW1l")).isNull();
        assertThat(KeyRegistry.bearerToken("abc")).isNull();
        assertThat(KeyRegistry.bearerToken("Bearer abc def")).isNull();
        assertThat(KeyRegistry.bearerToken("Bearer abc\tdef")).isNull();
        assertThat(KeyRegistry.bearerToken("Bearer abc\u0000def")).isNull();
        assertThat(KeyRegistry.bearerToken("Bearer abc\u007fdef")).isNull();
        assertThat(KeyRegistry.bearerToken("Bearer abc\u00a0def")).isNull();
    }
}
