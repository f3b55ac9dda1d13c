package dev.oqp.common.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

class CommandLineTest {
    private static final List<String> ENV = List.of("OQP_CONFIG", "CONFIG_PATH");

    @Test
    void configFromFlagWinsOverEnvironment() throws Exception {
        CommandLine cl = CommandLine.parse(new String[] {"--config", "a.yaml", "--check-config"},
                Map.of("OQP_CONFIG", "b.yaml"), ENV);
        assertThat(cl.config()).isEqualTo(Path.of("a.yaml"));
        assertThat(cl.checkConfig()).isTrue();
        assertThat(CommandLine.parse(new String[] {"--config=c.yaml"}, Map.of(), ENV).config()).isEqualTo(Path.of("c.yaml"));
    }

    @Test
    void environmentVariablesAreTriedInOrderSkippingBlankOnes() throws Exception {
        assertThat(CommandLine.parse(new String[0], Map.of("OQP_CONFIG", " ", "CONFIG_PATH", "d.yaml"), ENV).config())
                .isEqualTo(Path.of("d.yaml"));
        assertThat(CommandLine.parse(new String[0], Map.of(), ENV).config()).isNull();
    }

    @Test
    void badArgumentsAreUsageErrors() {
        assertThatThrownBy(() -> CommandLine.parse(new String[] {"--config"}, Map.of(), ENV))
                .hasMessage("--config needs a file name");
        assertThatThrownBy(() -> CommandLine.parse(new String[] {"--verbose"}, Map.of(), ENV))
                .hasMessage("unknown argument: --verbose");
    }
}
