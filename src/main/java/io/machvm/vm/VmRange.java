package io.machvm.vm;

/**
 * A checked range of a map, {@code [start, end)}: {@code start < end} unsigned, so the end has not wrapped past 2^64.
 * A call makes its range from the caller's address and size with {@link VmSanitize} (page-aligned for the calls that
 * work on whole pages, the exact bytes for transfers); map code makes one from a range it already holds (the map's
 * bounds, a hole, the pages of an image). Map operations take it instead of a raw address and size, as XNU's
 * {@code vm_map_*} take the offsets {@code vm_sanitize_*} returned.
 */
record VmRange(long start, long end) {
    VmRange {
        if (Long.compareUnsigned(start, end) >= 0) {
            throw new IllegalArgumentException("empty or inverted range [" + VmMap.hex(start) + ", "
                    + VmMap.hex(end) + ")");
        }
    }

    /** {@code [0x…, 0x…)}, as details print a range. */
    @Override
    public String toString() {
        return "[" + VmMap.hex(start) + ", " + VmMap.hex(end) + ")";
    }

    long size() {
        return end - start;
    }

    /** The first page the range touches. */
    long firstPage(int pageShift) {
        return start >>> pageShift;
    }

    /** The page after the last one the range touches. */
    long endPage(int pageShift) {
        return ((end - 1) >>> pageShift) + 1;
    }
}
