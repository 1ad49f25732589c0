package io.machvm.vm;

import static io.machvm.vm.KernReturn.KERN_INVALID_ADDRESS;
import static io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT;
import static io.machvm.vm.KernReturn.KERN_NO_SPACE;
import static io.machvm.vm.KernReturn.KERN_PROTECTION_FAILURE;
import static io.machvm.vm.KernReturn.MACH_SEND_INVALID_DEST;

import java.util.Map;
import java.util.TreeMap;

/**
 * A deliberately naive model of one task, written straight from SEMANTICS.md: a sorted map from page address to a
 * page (its bytes, or null for zeros, and its protection, max protection and inheritance). No entries, no sharing, no
 * cleverness: every rule is a loop over pages. It throws {@link KernException} like {@link VmMap}.
 *
 * <p>With {@link #apply} false a call only validates (answers what the real map must answer up to the Mach checks).
 */
final class ReferenceVm {
    static final int READ = VmProt.READ;
    static final int WRITE = VmProt.WRITE;
    static final int EXECUTE = VmProt.EXECUTE;

    static final class Page {
        byte[] data; // null: zeros
        int prot = READ | WRITE;
        int max = VmProt.ALL;
        VmInherit inheritance = VmInherit.COPY;
    }

    final Flavor flavor;
    final ErrorModel errors;
    final long pageSize;
    final long min;
    final long max;
    final long smallLimit;
    final TreeMap<Long, Page> pages = new TreeMap<>();
    boolean terminated;
    boolean apply = true;

    ReferenceVm(Flavor flavor, ErrorModel errors) {
        this.flavor = flavor;
        this.errors = errors;
        this.pageSize = flavor.pageSize();
        this.min = flavor.minAddress();
        this.max = flavor.maxAddress();
        this.smallLimit = flavor.smallTransferLimit();
    }

    // ------------------------------------------------------------------ helpers

    private static KernException kern(KernReturn code, String why) {
        return new KernException(code, "reference: " + why);
    }

    private static boolean lt(long a, long b) {
        return Long.compareUnsigned(a, b) < 0;
    }

    private static boolean gt(long a, long b) {
        return Long.compareUnsigned(a, b) > 0;
    }

    long trunc(long a) {
        return a - Long.remainderUnsigned(a, pageSize);
    }

    /** Rounds up to a page; 0 when it passes 2^64. */
    long round(long a) {
        long r = Long.remainderUnsigned(a, pageSize);
        return r == 0 ? a : a + (pageSize - r);
    }

    private void alive() {
        if (terminated) {
            throw kern(MACH_SEND_INVALID_DEST, "terminated");
        }
    }

    private void map(long start, long end) {
        for (long a = start; a != end; a += pageSize) {
            pages.put(a, new Page());
        }
    }

    private void unmap(long start, long end) {
        pages.subMap(start, true, end, false).clear();
    }

    // ------------------------------------------------------------------ calls

    long allocate(long address, long size, int flags) {
        alive();
        if ((flags & ~VmFlags.USER_ALLOCATE_MASK) != 0) {
            throw kern(KERN_INVALID_ARGUMENT, "flags");
        }
        if (size == 0) {
            return 0;
        }
        if ((flags & VmFlags.ANYWHERE) != 0) {
            long rounded = round(size);
            if (rounded == 0) {
                throw kern(KERN_INVALID_ARGUMENT, "size rounds to 0");
            }
            long cursor = min;
            for (long a : pages.keySet()) {
                if (a < cursor) {
                    continue;
                }
                if (Long.compareUnsigned(a - cursor, rounded) >= 0) {
                    break;
                }
                cursor = a + pageSize;
            }
            if (gt(rounded, max - cursor)) {
                throw kern(KERN_NO_SPACE, "no room");
            }
            if (apply) {
                map(cursor, cursor + rounded);
            }
            return cursor;
        }
        long start = trunc(address);
        long end = start + size;
        if (lt(end, start) || round(end) == 0) {
            throw round(size) != 0 ? kern(KERN_INVALID_ADDRESS, "wraps") : kern(KERN_INVALID_ARGUMENT, "size");
        }
        end = round(end);
        if (lt(start, min) || gt(end, max)) {
            throw kern(KERN_INVALID_ADDRESS, "outside the map");
        }
        boolean overlaps = !pages.subMap(start, true, end, false).isEmpty();
        if (overlaps && (flags & VmFlags.OVERWRITE) == 0) {
            throw kern(KERN_NO_SPACE, "overlap");
        }
        if (apply) {
            unmap(start, end);
            map(start, end);
        }
        return start;
    }

    void deallocate(long address, long size) {
        alive();
        if (size == 0) {
            return;
        }
        long rawEnd = address + size;
        if (lt(rawEnd, address) || round(rawEnd) == 0) {
            throw kern(KERN_INVALID_ARGUMENT, "wraps");
        }
        long start = trunc(address);
        long end = round(rawEnd);
        if (lt(start, min) || gt(end, max)) {
            return;
        }
        if (apply) {
            unmap(start, end);
        }
    }

    /** The pages of a protect/inherit range after its argument checks: {start, end}. */
    private long[] attributeRange(long address, long size) {
        long rawEnd = address + size;
        if (lt(rawEnd, address)) {
            throw kern(KERN_INVALID_ARGUMENT, "wraps");
        }
        long end = round(rawEnd);
        if (end == 0) {
            throw trunc(address) == 0 ? kern(KERN_INVALID_ADDRESS, "end wraps") : kern(KERN_INVALID_ARGUMENT, "end");
        }
        long start = trunc(address);
        if (!lt(start, max)) {
            throw kern(KERN_INVALID_ADDRESS, "start >= max");
        }
        return new long[] {start, end};
    }

    void protect(long address, long size, boolean setMaximum, int protection) {
        alive();
        if (size == 0) {
            return;
        }
        if ((protection & ~VmProt.PROTECT_MASK) != 0) {
            throw kern(KERN_INVALID_ARGUMENT, "protection bits");
        }
        long[] range = attributeRange(address, size);
        int newProt = protection & VmProt.ALL;
        boolean copy = (protection & VmProt.COPY) != 0;
        for (long a = range[0]; lt(a, range[1]); a += pageSize) {
            Page page = pages.get(a);
            if (page == null) {
                throw kern(KERN_INVALID_ADDRESS, "unmapped page " + Long.toHexString(a));
            }
            int allowed = page.max | (copy ? WRITE : 0);
            if (setMaximum && flavor == Flavor.X86_64) {
                allowed |= newProt & EXECUTE;
            }
            if ((newProt & ~allowed) != 0) {
                throw kern(KERN_PROTECTION_FAILURE, "beyond max");
            }
            if (flavor == Flavor.ARM64 && (newProt & (WRITE | EXECUTE)) == (WRITE | EXECUTE)) {
                throw kern(KERN_PROTECTION_FAILURE, "W+X");
            }
        }
        if (!apply) {
            return;
        }
        for (Page page : pages.subMap(range[0], true, range[1], false).values()) {
            if (copy) {
                page.max |= WRITE;
            }
            if (setMaximum) {
                page.max = newProt;
                page.prot &= newProt;
            } else {
                page.prot = newProt;
            }
        }
    }

    void inherit(long address, long size, VmInherit inheritance) {
        alive();
        if (inheritance == null) {
            throw kern(KERN_INVALID_ARGUMENT, "inheritance");
        }
        if (size == 0) {
            return;
        }
        long[] range = attributeRange(address, size);
        for (long a = range[0]; lt(a, range[1]); a += pageSize) {
            if (!pages.containsKey(a)) {
                throw kern(KERN_INVALID_ADDRESS, "unmapped page " + Long.toHexString(a));
            }
        }
        if (apply) {
            for (Page page : pages.subMap(range[0], true, range[1], false).values()) {
                page.inheritance = inheritance;
            }
        }
    }

    /** Every page of a non-empty, non-wrapping byte range is mapped with {@code access}; first problem wins. */
    private void checkAccess(long address, long size, int access, ErrorModel model, long limit) {
        long last = trunc(address + size - 1);
        for (long a = trunc(address); ; a += pageSize) {
            Page page = pages.get(a);
            if (page == null || lt(a, min) || !lt(a, max)) {
                throw kern(KERN_INVALID_ADDRESS, "unmapped page " + Long.toHexString(a));
            }
            if ((page.prot & access) != access) {
                throw kern(model == ErrorModel.XNU && !gt(size, limit) ? KERN_INVALID_ADDRESS : KERN_PROTECTION_FAILURE,
                        "page " + Long.toHexString(a) + " lacks " + access);
            }
            if (a == last) {
                return;
            }
        }
    }

    void checkSource(long address, long size) {
        if (lt(address + size, address)) {
            throw kern(KERN_INVALID_ADDRESS, "source wraps");
        }
        checkAccess(address, size, READ, errors, smallLimit);
    }

    /** Destination rules; {@code decider} is the task whose transfer path decides the protection code. */
    void checkDestination(long address, long size, ReferenceVm decider) {
        if (lt(address + size, address)) {
            throw kern(KERN_INVALID_ADDRESS, "destination wraps");
        }
        checkAccess(address, size, WRITE, decider.errors, decider.smallLimit);
    }

    byte[] read(long address, long size) {
        alive();
        if (size == 0) {
            return new byte[0];
        }
        if (gt(size, 0xFFFF_FFFFL)) {
            throw kern(KERN_INVALID_ARGUMENT, "size above 32 bits");
        }
        checkSource(address, size);
        return bytes(address, (int) size);
    }

    void write(long address, byte[] data) {
        alive();
        if (data.length == 0) {
            return;
        }
        checkDestination(address, data.length, this);
        if (apply) {
            store(address, data);
        }
    }

    void copy(long source, long size, long dest) {
        alive();
        if (size == 0) {
            return;
        }
        checkSource(source, size);
        checkDestination(dest, size, this);
        if (apply) {
            store(dest, bytes(source, (int) size));
        }
    }

    static long readOverwrite(ReferenceVm source, long address, long size, ReferenceVm dest, long destAddress) {
        source.alive();
        if (size == 0) {
            dest.alive();
            return 0;
        }
        source.checkSource(address, size);
        dest.alive();
        dest.checkDestination(destAddress, size, source);
        if (dest.apply) {
            dest.store(destAddress, source.bytes(address, (int) size));
        }
        return size;
    }

    /** {address, size, prot, max, inheritance} of the page containing trunc(address) or the next one above. */
    long region(long address) {
        alive();
        long at = trunc(address);
        if (lt(at, max)) {
            Map.Entry<Long, Page> e = pages.ceilingEntry(at);
            if (e != null) {
                return e.getKey();
            }
        }
        throw kern(KERN_INVALID_ADDRESS, "no region");
    }

    void terminate() {
        terminated = true;
        pages.clear();
    }

    // ------------------------------------------------------------------ bytes

    byte[] bytes(long address, int size) {
        byte[] out = new byte[size];
        int done = 0;
        while (done < size) {
            long a = address + done;
            long base = trunc(a);
            int offset = (int) (a - base);
            int n = (int) Math.min(size - done, pageSize - offset);
            byte[] data = pages.get(base).data;
            if (data != null) {
                System.arraycopy(data, offset, out, done, n);
            }
            done += n;
        }
        return out;
    }

    private void store(long address, byte[] src) {
        int done = 0;
        while (done < src.length) {
            long a = address + done;
            long base = trunc(a);
            int offset = (int) (a - base);
            int n = (int) Math.min(src.length - done, pageSize - offset);
            Page page = pages.get(base);
            if (page.data == null) {
                page.data = new byte[(int) pageSize];
            }
            System.arraycopy(src, done, page.data, offset, n);
            done += n;
        }
    }
}
