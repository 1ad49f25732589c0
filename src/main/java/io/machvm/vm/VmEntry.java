package io.machvm.vm;

/**
 * One entry of a {@link VmMap}: {@code [start, end)} with its protections and inheritance, as a window at
 * {@code offset} onto anonymous memory object {@code objectId}. Entries of one object whose windows touch and whose
 * attributes agree are merged back together (XNU's {@code vm_map_simplify}).
 */
final class VmEntry {
    final long start;
    long end;
    int protection;
    int maxProtection;
    VmInherit inheritance;
    final long objectId;
    final long offset;
    boolean shared;

    VmEntry(long start, long end, int protection, int maxProtection, VmInherit inheritance, long objectId,
            long offset, boolean shared) {
        this.start = start;
        this.end = end;
        this.protection = protection;
        this.maxProtection = maxProtection;
        this.inheritance = inheritance;
        this.objectId = objectId;
        this.offset = offset;
        this.shared = shared;
    }

    long size() {
        return end - start;
    }

    /** Splits off and returns {@code [at, end)}; this entry becomes {@code [start, at)}. */
    VmEntry splitAt(long at) {
        VmEntry right = new VmEntry(at, end, protection, maxProtection, inheritance, objectId,
                offset + (at - start), shared);
        end = at;
        return right;
    }

    /** Whether {@code next}, which starts where this ends, can be merged into this entry. */
    boolean canAbsorb(VmEntry next) {
        return end == next.start && objectId == next.objectId && offset + size() == next.offset
                && protection == next.protection && maxProtection == next.maxProtection
                && inheritance == next.inheritance && shared == next.shared;
    }

    RegionInfo info() {
        return new RegionInfo(start, size(), protection, maxProtection, inheritance, shared, offset);
    }
}
