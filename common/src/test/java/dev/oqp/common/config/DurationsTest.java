package dev.oqp.common.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class DurationsTest {

    @ParameterizedTest
    @CsvSource({"250ms,250", "30s,30000", "5m,300000", "1h30m,5400000", "2h,7200000", "1d,86400000",
            "30,30000", "0,0", "1m30s500ms,90500", "-5s,-5000", "-1,-1000"})
    void parsesEveryUnitAndBareSeconds(String text, long millis) {
        assertThat(Durations.parse(text)).isEqualTo(Duration.ofMillis(millis));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "abc", "5x", "1.5s", "30s5m", "m", "5 m", "1h1h"})
    void rejectsAnythingElseNamingTheSyntax(String text) {
        assertThatThrownBy(() -> Durations.parse(text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageEndingWith("(expected: a duration such as 250ms, 30s, 5m, 1h30m, or whole seconds)");
    }

    @Test
    void rejectsOverflowInsteadOfWrapping() {
        assertThatThrownBy(() -> Durations.parse("99999999999999999d"))
                .hasMessage("99999999999999999d (expected: a duration that fits in 64 bits of milliseconds)");
    }

    @ParameterizedTest
    @CsvSource({"0,0s", "250,250ms", "30000,30s", "5400000,1h30m", "86400000,24h", "90500,1m30s500ms", "-5000,-5s"})
    void formatsLargestUnitsFirstAndParsesBack(long millis, String text) {
        assertThat(Durations.format(Duration.ofMillis(millis))).isEqualTo(text);
        assertThat(Durations.parse(text)).isEqualTo(Duration.ofMillis(millis));
    }
}
