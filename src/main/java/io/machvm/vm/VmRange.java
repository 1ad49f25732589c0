package io.machvm.vm;

/**
 * A sanitized range of a map: page-aligned, {@code start < end} unsigned, the end not wrapped ({@link VmSanitize}).
 * Map operations take it instead of a raw address and size.
 */
record VmRange(long start, long end) {
    VmRange {
        if (Long.compareUnsigned(start, end) >= 0) {
            throw new IllegalArgumentException("empty or inverted range [" + VmMap.hex(start) + ", "
                    + VmMap.hex(end) + ")");
        }
    }

    long size() {
        return end - start;
    }
}
