package io.machvm;

/** Test data shared by the suites: deterministic byte patterns and hex addresses. */
public final class TestBytes {
    private TestBytes() {
    }

    /** Deterministic bytes (xorshift), different for different seeds and never zero (so never the zero fill). */
    public static byte[] pattern(int length, int seed) {
        byte[] out = new byte[length];
        int x = seed * 0x9E3779B9 + 0x7F4A7C15;
        for (int i = 0; i < length; i++) {
            x ^= x << 13;
            x ^= x >>> 17;
            x ^= x << 5;
            out[i] = (byte) (x | 1);
        }
        return out;
    }

    /** {@code 0x…} as the API takes addresses. */
    public static String hex(long value) {
        return "0x" + Long.toHexString(value);
    }
}
