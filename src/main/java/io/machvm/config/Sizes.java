package io.machvm.config;

/** Byte counts written the way {@code DataSize} settings are: the largest unit that divides them exactly. */
public final class Sizes {
    private static final String[] UNITS = {"B", "KB", "MB", "GB", "TB"};

    private Sizes() {
    }

    /** {@code 3221225472} → {@code 3GB}; {@code 1536} → {@code 1536B} (no fractions). */
    public static String format(long bytes) {
        int unit = 0;
        long value = bytes;
        while (unit < UNITS.length - 1 && value != 0 && value % 1024 == 0) {
            value /= 1024;
            unit++;
        }
        return value + UNITS[unit];
    }
}
