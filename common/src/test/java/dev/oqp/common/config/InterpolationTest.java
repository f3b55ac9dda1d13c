package dev.oqp.common.config;

import static dev.oqp.common.config.Yaml.proxy;
import static dev.oqp.common.config.Yaml.proxyProblems;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;

import org.junit.jupiter.api.Test;

class InterpolationTest {

    private static String header(String value) {
        return "services:\n  - name: svc\n    listen: 11437\n    headers:\n      X-Test: '" + value + "'\n";
    }

    private static String injected(String value, Map<String, String> env) throws ConfigException {
        return proxy(header(value), env).services().get(0).headers().get("X-Test");
    }

    @Test
    void setVariableIsSubstituted() throws ConfigException {
        assertThat(injected("Bearer ${KEY}", Map.of("KEY", "abc"))).isEqualTo("Bearer abc");
    }

    @Test
    void unsetVariableIsAProblemNamingIt() {
        assertThat(proxyProblems(header("Bearer ${LIBRECHAT_KEY}")))
                .containsExactly("services[0].headers.X-Test: environment variable LIBRECHAT_KEY is not set");
    }

    @Test
    void emptyVariableIsAProblemNamingIt() {
        assertThat(proxyProblems(header("${KEY}"), Map.of("KEY", "")))
                .containsExactly("services[0].headers.X-Test: environment variable KEY is empty");
    }

    @Test
    void defaultIsUsedWhenUnsetOrEmptyButNotWhenSet() throws ConfigException {
        assertThat(injected("${KEY:-fallback}", Map.of())).isEqualTo("fallback");
        assertThat(injected("${KEY:-fallback}", Map.of("KEY", ""))).isEqualTo("fallback");
        assertThat(injected("${KEY:-fallback}", Map.of("KEY", "set"))).isEqualTo("set");
        assertThat(injected("${KEY:-}", Map.of())).isEmpty();
    }

    @Test
    void doubleDollarIsALiteralDollar() throws ConfigException {
        assertThat(injected("a$$b$${KEY}", Map.of("KEY", "x"))).isEqualTo("a$b${KEY}");
    }

    @Test
    void substitutedValueIsNeverInterpolatedAgain() throws ConfigException {
        String tricky = "p$$w/o&r${OTHER}d$";
        assertThat(injected("${KEY}", Map.of("KEY", tricky, "OTHER", "no"))).isEqualTo(tricky);
    }

    @Test
    void dollarFollowedByAnythingElseIsKept() throws ConfigException {
        assertThat(injected("cost $5 and $HOME and $", Map.of("HOME", "/root"))).isEqualTo("cost $5 and $HOME and $");
    }

    @Test
    void unterminatedReferenceIsAProblem() {
        assertThat(proxyProblems(header("Bearer ${KEY")))
                .containsExactly("services[0].headers.X-Test: unterminated ${ at character 8 (expected: ${VAR} or ${VAR:-default})");
    }

    @Test
    void invalidVariableNameIsAProblem() {
        assertThat(proxyProblems(header("${1KEY}")))
                .containsExactly("services[0].headers.X-Test: invalid variable name \"1KEY\" in ${1KEY} "
                        + "(expected: letters, digits and _, not starting with a digit)");
        assertThat(proxyProblems(header("${KEY-x}")))
                .containsExactly("services[0].headers.X-Test: invalid variable name \"KEY-x\" in ${KEY-x} "
                        + "(expected: letters, digits and _, not starting with a digit)");
    }

    @Test
    void everyProblemInOneValueIsReported() {
        assertThat(proxyProblems(header("${A}${B}"))).containsExactly(
                "services[0].headers.X-Test: environment variable A is not set",
                "services[0].headers.X-Test: environment variable B is not set");
    }

    @Test
    void interpolationHappensBeforeTypeConversion() throws ConfigException {
        OqpConfig config = proxy("""
                services:
                  - name: svc
                    listen: ${PORT:-11437}
                    allow_public: ${PUBLIC:-false}
                    timeout: ${TIMEOUT}
                """, Map.of("TIMEOUT", "5m", "PUBLIC", "true"));
        assertThat(config.services().get(0).listen()).isEqualTo(11437);
        assertThat(config.services().get(0).allowPublic()).isTrue();
        assertThat(config.services().get(0).timeout()).hasMinutes(5);
    }

    @Test
    void keysAreNotInterpolated() {
        assertThat(proxyProblems("proxy:\n  ${X}: 1\n"))
                .containsExactly("proxy.${X}: unknown key (expected one of: host, port, allow_public, max_concurrent, "
                        + "max_body, drain_timeout, trusted_proxies, allow_model_management)");
    }

    @Test
    void valuesInListsAreInterpolated() throws ConfigException {
        assertThat(proxy("proxy:\n  trusted_proxies: ['${NET}']\n", Map.of("NET", "10.0.0.0/8")).proxy().trustedProxies())
                .extracting(Cidr::toString).containsExactly("10.0.0.0/8");
    }
}
