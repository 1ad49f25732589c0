package io.machvm.vm;

import static io.machvm.vm.KernReturn.KERN_INVALID_ADDRESS;
import static io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT;

import java.util.EnumMap;
import java.util.Map;

/**
 * Sanitizing of a call's address and size, as XNU's {@code vm_sanitize.c}: one function computes the page-rounded
 * range and finds whether it overflows; what a call then answers is its historical compatibility code, looked up by
 * the call in {@link #COMPAT} (as {@code vm_sanitize_error_compat.c} keys its rewrites by the caller).
 */
final class VmSanitize {
    /** The calls that sanitize an address and a size. */
    enum Caller {
        /** {@code vm_allocate} at a fixed address: the range starts at the truncated address. */
        VM_ALLOCATE_FIXED,
        VM_DEALLOCATE,
        /** {@code vm_protect} and {@code vm_inherit}, which answer alike here. */
        VM_MAP_ATTRIBUTES,
        VM_PAGE_RANGE_QUERY
    }

    /** How a range failed: its byte end wraps past 2^64, or its end rounds up to 0. */
    enum Overflow {
        WRAPS, ROUNDS_TO_ZERO
    }

    /** A call's answer to an overflowing range: XNU's historical code with its detail. */
    @FunctionalInterface
    interface Compat {
        KernException refuse(Overflow overflow, long address, long size, long rawEnd, int pageSize);
    }

    /** The largest {@code vm_read}: its size is a 32-bit {@code mach_msg_type_number_t}. */
    static final long MAX_READ_SIZE = 0xFFFF_FFFFL;

    private static final Map<Caller, Compat> COMPAT = new EnumMap<>(Caller.class);

    static {
        // vm_allocate(VM_FLAGS_FIXED) historically answered KERN_INVALID_ADDRESS instead of KERN_INVALID_ARGUMENT
        // for a range that overflows unless the size itself rounds to 0.
        COMPAT.put(Caller.VM_ALLOCATE_FIXED, (overflow, address, size, rawEnd, pageSize) -> roundUp(size, pageSize) != 0
                ? new KernException(KERN_INVALID_ADDRESS, wraps("range", address, size))
                : new KernException(KERN_INVALID_ARGUMENT, "size " + VmMap.hex(size) + " overflows when rounded to "
                        + pageSize + "-byte pages"));
        COMPAT.put(Caller.VM_DEALLOCATE, (overflow, address, size, rawEnd, pageSize) -> overflow == Overflow.WRAPS
                ? new KernException(KERN_INVALID_ARGUMENT, wraps("range", address, size))
                : new KernException(KERN_INVALID_ARGUMENT, roundsToZero(rawEnd, pageSize)));
        // vm_protect historically answered KERN_INVALID_ADDRESS for a range whose page-aligned form does not
        // overflow (it starts at page 0 and its end rounds to 0); KERN_INVALID_ARGUMENT otherwise.
        COMPAT.put(Caller.VM_MAP_ATTRIBUTES, (overflow, address, size, rawEnd, pageSize) -> {
            if (overflow == Overflow.WRAPS) {
                return new KernException(KERN_INVALID_ARGUMENT, wraps("range", address, size));
            }
            return (address & -pageSize) == 0
                    ? new KernException(KERN_INVALID_ADDRESS, "range at " + VmMap.hex(address) + " of "
                            + VmMap.hex(size) + " bytes ends past the top of the address space")
                    : new KernException(KERN_INVALID_ARGUMENT, roundsToZero(rawEnd, pageSize));
        });
        COMPAT.put(Caller.VM_PAGE_RANGE_QUERY, (overflow, address, size, rawEnd, pageSize) ->
                new KernException(KERN_INVALID_ARGUMENT, wraps("range", address, size)));
    }

    private VmSanitize() {
    }

    /**
     * The page-rounded range of {@code [address, address + size)} for {@code caller}, {@code size > 0}.
     *
     * @throws KernException the caller's compatibility code when the range overflows
     */
    static VmRange addrSize(Caller caller, long address, long size, int pageSize) {
        long start = address & -pageSize;
        long base = caller == Caller.VM_ALLOCATE_FIXED ? start : address;
        long rawEnd = base + size;
        long end = roundUp(rawEnd, pageSize);
        if (Long.compareUnsigned(rawEnd, base) < 0) {
            throw COMPAT.get(caller).refuse(Overflow.WRAPS, address, size, rawEnd, pageSize);
        }
        if (end == 0) {
            throw COMPAT.get(caller).refuse(Overflow.ROUNDS_TO_ZERO, address, size, rawEnd, pageSize);
        }
        return new VmRange(start, end);
    }

    /**
     * The size of {@code vm_allocate} anywhere, {@code size > 0}, rounded to whole pages.
     *
     * @throws KernException {@code KERN_INVALID_ARGUMENT} when rounding overflows
     */
    static long anywhereSize(long size, int pageSize) {
        long rounded = roundUp(size, pageSize);
        if (rounded == 0) {
            throw new KernException(KERN_INVALID_ARGUMENT, "size " + VmMap.hex(size) + " overflows when rounded to "
                    + pageSize + "-byte pages");
        }
        return rounded;
    }

    /**
     * The byte range of a transfer's source or destination, {@code size > 0}: one that wraps is
     * {@code KERN_INVALID_ADDRESS}, as {@code vm_map_copyin} and {@code vm_map_copy_overwrite} historically answer.
     */
    static VmRange copyRange(String role, long address, long size) {
        if (Long.compareUnsigned(address + size, address) < 0) {
            throw new KernException(KERN_INVALID_ADDRESS, wraps(role + " range", address, size));
        }
        return new VmRange(address, address + size);
    }

    /** The source of a {@code vm_read} ({@link #copyRange}), whose size is 32 bits in XNU's interface. */
    static VmRange readRange(long address, long size) {
        if (Long.compareUnsigned(size, MAX_READ_SIZE) > 0) {
            throw new KernException(KERN_INVALID_ARGUMENT, "size " + VmMap.hex(size)
                    + " exceeds the 32-bit limit of vm_read (0xffffffff)");
        }
        return copyRange("source", address, size);
    }

    static long roundUp(long value, int pageSize) {
        return (value + pageSize - 1) & -pageSize;
    }

    private static String wraps(String what, long address, long size) {
        return what + " at " + VmMap.hex(address) + " of " + VmMap.hex(size) + " bytes wraps around the address space";
    }

    private static String roundsToZero(long rawEnd, int pageSize) {
        return "end " + VmMap.hex(rawEnd) + " wraps to 0 when rounded to " + pageSize + "-byte pages";
    }

    /** The sanitized range of a protect or inherit call, which must start below the map maximum. */
    static VmRange attributeRange(long address, long size, int pageSize, long maxAddress) {
        VmRange range = addrSize(Caller.VM_MAP_ATTRIBUTES, address, size, pageSize);
        if (Long.compareUnsigned(range.start(), maxAddress) >= 0) {
            throw new KernException(KERN_INVALID_ADDRESS, "address " + VmMap.hex(address) + " is at or above the map "
                    + "maximum " + VmMap.hex(maxAddress));
        }
        return range;
    }

    /**
     * The page-aligned range of {@code mach_vm_page_range_query}, {@code size > 0}, which covers at most
     * {@link PageDisposition#MAX_QUERY_PAGES} pages.
     */
    static VmRange pageQueryRange(long address, long size, int pageSize) {
        VmRange range = addrSize(Caller.VM_PAGE_RANGE_QUERY, address, size, pageSize);
        long count = Long.divideUnsigned(range.size(), pageSize);
        if (count > PageDisposition.MAX_QUERY_PAGES) {
            throw new KernException(KERN_INVALID_ARGUMENT, "a query covers at most " + PageDisposition.MAX_QUERY_PAGES
                    + " pages, not " + count);
        }
        return range;
    }

    /** A protect or inherit call's range has a hole at {@code address}. */
    static KernException unmapped(long address) {
        return new KernException(KERN_INVALID_ADDRESS, "address " + VmMap.hex(address) + " is not mapped");
    }
}
