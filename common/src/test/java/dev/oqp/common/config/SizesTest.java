package dev.oqp.common.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class SizesTest {

    @ParameterizedTest
    @CsvSource({"64KiB,65536", "50MiB,52428800", "1GiB,1073741824", "1TiB,1099511627776", "1024,1024",
            "10B,10", "1KB,1000", "2MB,2000000", "1GB,1000000000", "64kib,65536", "5 MiB,5242880", "0,0", "-1,-1"})
    void parsesBinaryAndDecimalUnitsAndBareBytes(String text, long bytes) {
        assertThat(Sizes.parse(text)).isEqualTo(bytes);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "abc", "1.5MiB", "5XB", "MiB"})
    void rejectsAnythingElseNamingTheSyntax(String text) {
        assertThatThrownBy(() -> Sizes.parse(text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageEndingWith("(expected: a size such as 64KiB, 50MiB, 1GiB, or whole bytes)");
    }

    @Test
    void rejectsOverflowInsteadOfWrapping() {
        assertThatThrownBy(() -> Sizes.parse("99999999999TiB"))
                .hasMessage("99999999999TiB (expected: a size that fits in 64 bits of bytes)");
    }

    @ParameterizedTest
    @CsvSource({"65536,64KiB", "52428800,50MiB", "1073741824,1GiB", "1000,1000", "0,0", "1536,1536", "3145728,3MiB"})
    void formatsInTheLargestExactBinaryUnit(long bytes, String text) {
        assertThat(Sizes.format(bytes)).isEqualTo(text);
        assertThat(Sizes.parse(text)).isEqualTo(bytes);
    }
}
