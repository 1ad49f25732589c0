package io.machvm.vm;

/**
 * One map entry as {@code vm_region} reports it: {@code [address, address + size)} with its current and maximum
 * protection, inheritance, whether its pages are shared with another task, and its offset in its memory object.
 */
public record RegionInfo(long address, long size, int protection, int maxProtection, VmInherit inheritance,
        boolean shared, long offset) {
}
