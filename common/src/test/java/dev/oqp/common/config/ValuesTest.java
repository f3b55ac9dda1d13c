package dev.oqp.common.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;

class ValuesTest {

    private final Node.Context ctx = new Node.Context(Map.of("SECRET", "a\nb"));

    private Node node(String yaml) throws IOException {
        return new Node(ctx, YamlTree.read("v: " + yaml).get("v"), "v");
    }

    @Test
    void uniqueIdReportsTheFirstPathOfADuplicate() throws IOException {
        Map<String, String> seen = new LinkedHashMap<>(Map.of("a", "x[0].name"));
        assertThat(Values.uniqueId(node("a"), seen, "host name")).isEqualTo("a");
        assertThat(Values.uniqueId(node("b c"), seen, "host name")).isNull();
        assertThat(Values.uniqueId(new Node(ctx, null, "w"), seen, "host name")).isNull();
        assertThat(ctx.problems).containsExactly("v: duplicate host name \"a\" (also x[0].name)",
                "v: b c (expected: 1-64 characters of A-Z a-z 0-9 . _ -)", "w: required");
    }

    @Test
    void bindAddressFallsBackWhenAbsentAndNeedsTheAllowKeyOffLoopback() throws IOException {
        assertThat(Values.bindAddress(new Node(ctx, null, "b"), false, "allow_public", "127.0.0.1"))
                .isEqualTo("127.0.0.1");
        assertThat(Values.bindAddress(node("'::1'"), false, "allow_public", "127.0.0.1")).isEqualTo("::1");
        assertThat(Values.bindAddress(node("0.0.0.0"), true, "allow_public", "127.0.0.1")).isEqualTo("0.0.0.0");
        assertThat(ctx.problems).isEmpty();
        Values.bindAddress(node("0.0.0.0"), false, "metrics_allow_public", "127.0.0.1");
        assertThat(ctx.problems).containsExactly("v: 0.0.0.0 is not a loopback address"
                + " (expected: metrics_allow_public: true to accept connections from other machines)");
    }

    @Test
    void headersKeepFileOrderAndNeverEchoARefusedValue() throws IOException {
        Map<String, String> headers = Values.headers(node(
                "{X-B: '1', Host: h, x-b: '2', 'bad name': v, X-Null: null, X-Env: '${SECRET}', Authorization: k}"));
        assertThat(headers).containsExactly(Map.entry("X-B", "1"), Map.entry("Authorization", "k"));
        assertThat(ctx.problems).containsExactly(
                "v.Host: this header cannot be injected (it is managed by the proxy)",
                "v.x-b: duplicate header (also v.X-B)",
                "v.bad name: not a valid header name (expected: RFC 9110 token characters)",
                "v.X-Null: expected a string, got null",
                "v.X-Env: value contains a control character such as CR, LF or NUL (expected: printable text)");
        assertThat(Values.authorization(Map.of("AUTHORIZATION", "k"))).isEqualTo("k");
        assertThat(Values.authorization(headers)).isEqualTo("k");
        assertThat(Values.authorization(Map.of())).isNull();
    }
}
