package io.machvm.service;

import io.machvm.vm.RegionInfo;
import io.machvm.vm.VmInherit;

/**
 * A Mach call on one task as a value, its arguments bound and present (the call itself judges them): what
 * {@link VmService#call} makes, and what a {@link Batch} is made of. {@code R} is what the call answers.
 */
public sealed interface MachCall<R> {
    /** {@code vm_allocate}; answers the {@link Allocation}. */
    record Allocate(long address, long size, int flags) implements MachCall<Allocation> {
    }

    /** {@code vm_deallocate}. */
    record Deallocate(long address, long size) implements MachCall<Void> {
    }

    /** {@code vm_protect}. */
    record Protect(long address, long size, boolean setMaximum, int protection) implements MachCall<Void> {
    }

    /** {@code vm_inherit}; a null inheritance is one Mach does not know, which the call refuses. */
    record Inherit(long address, long size, VmInherit inheritance) implements MachCall<Void> {
    }

    /** {@code vm_write} of bytes in memory, which the call uses in place: the caller must not change them. */
    record Write(long address, byte[] data) implements MachCall<Void> {
    }

    /** {@code vm_read} into an array; answers the bytes. */
    record Read(long address, long size) implements MachCall<byte[]> {
    }

    /** {@code vm_copy} within the task. */
    record Copy(long source, long size, long dest) implements MachCall<Void> {
    }

    /** {@code vm_read_overwrite} into {@code destTask} (null: the same task); answers {@code outsize}. */
    record ReadOverwrite(long address, long size, String destTask, long destAddress) implements MachCall<Long> {
    }

    /** {@code vm_region}; answers the region at or above the address. */
    record Region(long address) implements MachCall<RegionInfo> {
    }

    /** What {@code vm_allocate} answers: the address mapped (0 for size 0) and the size rounded to whole pages. */
    record Allocation(long address, long size) {
    }
}
