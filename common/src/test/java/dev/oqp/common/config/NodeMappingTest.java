package dev.oqp.common.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** {@link Node#mapping}: the enum is the list of accepted keys, and every accepted key must be read. */
class NodeMappingTest {

    enum Key { FIRST_KEY, SECOND }

    private final Node.Context ctx = new Node.Context(Map.of());

    private Node node(String yaml) throws IOException {
        return new Node(ctx, YamlTree.read(yaml), "section");
    }

    @Test
    void acceptsTheLowercaseConstantsAndNamesThemInOrderForAnUnknownKey() throws IOException {
        Node.Mapping<Key> m = node("first_key: 1\nSECOND: 2\nthird: 3").mapping(Key.class);
        assertThat(m.get(Key.FIRST_KEY).integer(0, 9)).isEqualTo(1);
        assertThat(m.has(Key.SECOND)).isFalse();
        assertThat(ctx.problems).containsExactly(
                "section.SECOND: unknown key (expected one of: first_key, second)",
                "section.third: unknown key (expected one of: first_key, second)");
        assertThat(m.get(Key.SECOND).path).isEqualTo("section.second");
    }

    @Test
    void aKeyNeverReadIsALoaderBug() throws IOException {
        node("first_key: 1").mapping(Key.class).get(Key.FIRST_KEY);
        assertThatThrownBy(ctx::requireEveryKeyBound).isInstanceOf(IllegalStateException.class)
                .hasMessage("keys accepted but never bound: section.second");
    }

    @Test
    void anAbsentMapMustBeReadToo() throws IOException {
        node("").mapping(Key.class).has(Key.SECOND);
        assertThatThrownBy(ctx::requireEveryKeyBound).hasMessage("keys accepted but never bound: section.first_key");
    }

    @Test
    void aValueThatIsNotAMapHasNoKeysToRead() throws IOException {
        node("[1, 2]").mapping(Key.class);
        ctx.requireEveryKeyBound();
        assertThat(ctx.problems).containsExactly("section: expected a map, got a list");
    }

    @Test
    void everyKeyReadPasses() throws IOException {
        Node.Mapping<Key> m = node("second: x").mapping(Key.class);
        m.get(Key.FIRST_KEY);
        m.has(Key.SECOND);
        ctx.requireEveryKeyBound();
        assertThat(ctx.problems).isEmpty();
    }
}
