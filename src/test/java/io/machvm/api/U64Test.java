package io.machvm.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The u64 codec on its own (no server). */
class U64Test {

    @Test
    void formatsLowercaseHex() {
        assertThat(U64.format(0)).isEqualTo("0x0");
        assertThat(U64.format(0x100004000L)).isEqualTo("0x100004000");
        assertThat(U64.format(-1)).isEqualTo("0xffffffffffffffff");
        assertThat(U64.format(Long.MIN_VALUE)).isEqualTo("0x8000000000000000");
        assertThat(U64.format(0xabcL)).isEqualTo("0xabc");
    }

    @Test
    void parsesTheWholeRange() {
        assertThat(U64.parse("f", "0")).isZero();
        assertThat(U64.parse("f", "0x0")).isZero();
        assertThat(U64.parse("f", "18446744073709551615")).isEqualTo(-1L);
        assertThat(U64.parse("f", "0xffffffffffffffff")).isEqualTo(-1L);
        assertThat(U64.parse("f", "0XFFFFFFFFFFFFFFFF")).isEqualTo(-1L);
        assertThat(U64.parse("f", "0x00000000000000000001")).isEqualTo(1L);
        assertThat(U64.parse("f", "9223372036854775808")).isEqualTo(Long.MIN_VALUE);
        assertThat(U64.parseIntegerLiteral("f", "18446744073709551615")).isEqualTo(-1L);
        for (long v : new long[] {1, 0x3fff, 0x4000, Long.MAX_VALUE, 0xfedcba9876543210L}) {
            assertThat(U64.parse("f", U64.format(v))).isEqualTo(v);
            assertThat(U64.parse("f", Long.toUnsignedString(v))).isEqualTo(v);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "0x", "0X", "x1", "0x1g", "-1", "+1", "1.0", "1e3", "18446744073709551616",
        "0x10000000000000000", "99999999999999999999", " 1", "1 ", "0b1", "1_0", "\uff11", "0x\uff11", "٣"})
    void refusesEverythingElseNamingTheField(String text) {
        assertThatThrownBy(() -> U64.parse("destAddress", text)).isInstanceOf(ApiProblem.class)
                .hasMessageStartingWith("destAddress must").extracting(e -> ((ApiProblem) e).status()).isEqualTo(400);
    }

    @Test
    void refusesNegativeJsonIntegers() {
        assertThatThrownBy(() -> U64.parseIntegerLiteral("size", "-0")).hasMessageContaining("negative");
        assertThatThrownBy(() -> U64.parseIntegerLiteral("size", "-5")).hasMessageContaining("negative");
    }
}
