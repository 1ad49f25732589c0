package io.machvm.vm;

import static io.machvm.vm.KernReturn.KERN_INVALID_ADDRESS;
import static io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT;
import static io.machvm.vm.KernReturn.KERN_NO_SPACE;
import static io.machvm.vm.KernReturn.KERN_PROTECTION_FAILURE;
import static io.machvm.vm.KernReturn.KERN_RESOURCE_SHORTAGE;
import static io.machvm.vm.KernReturn.MACH_SEND_INVALID_DEST;

import io.machvm.store.PageStore;
import io.machvm.store.StoreExhaustedException;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The address space of one task: its sorted map entries and its page table over a {@link PageStore}, with the Mach
 * VM calls as methods. Each call sanitizes its arguments first, in the order that gives XNU's error precedence
 * (SEMANTICS.md), validates the whole range, and only then changes anything: a call that throws
 * {@link KernException} has changed nothing.
 *
 * <p>Thread-safe: one read/write lock per map; calls on one map are linearizable.
 */
public final class VmMap {
    /** Bytes a streaming write moves per read from its source. */
    private static final int STREAM_CHUNK = 64 * 1024;
    private static final long MAX_READ_SIZE = 0xFFFF_FFFFL;
    private static final int[] NO_HANDLES = new int[0];

    private final PageStore store;
    private final Flavor flavor;
    private final ErrorModel errors;
    private final int pageSize;
    private final int pageShift;
    private final long pageMask;
    private final long minAddress;
    private final long maxAddress;

    /** This map's lock; maps that share memory (fork with inheritance share) share one lock. */
    private final ReentrantReadWriteLock lock;
    private final TreeMap<Long, VmEntry> entries = new TreeMap<>();
    /** This map's private pages. Pages of shared ranges live in their {@link SharedMemory} instead. */
    private final PageTable pages = new PageTable();
    /** Private pages written since the last {@link #clearDirty()} (value 1). */
    private final PageBits dirty = new PageBits();
    /** Page ranges backed by memory shared with other tasks, by first page; null while there are none. */
    private TreeMap<Long, SharedRange> sharedRanges;
    private long virtualBytes;
    private long nextObjectId = 1;
    /** The unmapped ranges of [minAddress, maxAddress), for first-fit allocation in O(log holes). */
    private final HoleIndex holes = new HoleIndex();
    private boolean terminated;

    public VmMap(PageStore store, Flavor flavor, ErrorModel errors) {
        this(store, flavor, errors, new ReentrantReadWriteLock());
    }

    private VmMap(PageStore store, Flavor flavor, ErrorModel errors, ReentrantReadWriteLock lock) {
        this.lock = lock;
        if (store.pageSize() != flavor.pageSize()) {
            throw new IllegalArgumentException("store pages of " + store.pageSize() + " bytes cannot back a "
                    + flavor.wireName() + " map of " + flavor.pageSize() + "-byte pages");
        }
        this.store = store;
        this.flavor = flavor;
        this.errors = errors;
        this.pageSize = flavor.pageSize();
        this.pageShift = flavor.pageShift();
        this.pageMask = pageSize - 1L;
        this.minAddress = flavor.minAddress();
        this.maxAddress = flavor.maxAddress();
        holes.add(minAddress, maxAddress - minAddress);
    }

    public Flavor flavor() {
        return flavor;
    }

    public ErrorModel errors() {
        return errors;
    }

    public PageStore store() {
        return store;
    }

    // ================================================================ vm_allocate / vm_deallocate

    /**
     * {@code vm_allocate}: maps zero-filled memory ({@code rw-}, max {@code rwx}, inheritance copy).
     *
     * @return the address of the new memory (0 for size 0)
     */
    public long allocate(long address, long size, int flags) {
        lock.writeLock().lock();
        try {
            ensureAlive();
            if ((flags & ~VmFlags.USER_ALLOCATE_MASK) != 0) {
                throw new KernException(KERN_INVALID_ARGUMENT, "flags " + hex(flags & 0xFFFF_FFFFL)
                        + " have bits outside VM_FLAGS_USER_ALLOCATE (0xff07509f)");
            }
            if (size == 0) {
                return 0;
            }
            if ((flags & VmFlags.ANYWHERE) != 0) {
                long roundedSize = round(size);
                if (roundedSize == 0) {
                    throw new KernException(KERN_INVALID_ARGUMENT, "size " + hex(size) + " overflows when rounded to "
                            + pageSize + "-byte pages");
                }
                long start = findSpace(roundedSize);
                if (start == -1) {
                    throw new KernException(KERN_NO_SPACE, "no free range of " + hex(roundedSize) + " bytes in ["
                            + hex(minAddress) + ", " + hex(maxAddress) + ")");
                }
                insertNew(start, start + roundedSize);
                return start;
            }
            long start = trunc(address);
            long rawEnd = start + size;
            long end = round(rawEnd);
            if (below(rawEnd, start) || end == 0) {
                throw round(size) != 0
                        ? new KernException(KERN_INVALID_ADDRESS, "range at " + hex(address) + " of " + hex(size)
                                + " bytes wraps around the address space")
                        : new KernException(KERN_INVALID_ARGUMENT, "size " + hex(size) + " overflows when rounded to "
                                + pageSize + "-byte pages");
            }
            if (below(start, minAddress) || above(end, maxAddress)) {
                throw new KernException(KERN_INVALID_ADDRESS, "range [" + hex(start) + ", " + hex(end)
                        + ") is outside the map [" + hex(minAddress) + ", " + hex(maxAddress) + ")");
            }
            if (overlapsAny(start, end)) {
                if ((flags & VmFlags.OVERWRITE) == 0) {
                    throw new KernException(KERN_NO_SPACE, "range [" + hex(start) + ", " + hex(end)
                            + ") overlaps existing memory");
                }
                removeRange(start, end);
            }
            insertNew(start, end);
            return start;
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** {@code vm_deallocate}: unmaps {@code [trunc(address), round(address + size))}; holes are fine. */
    public void deallocate(long address, long size) {
        lock.writeLock().lock();
        try {
            ensureAlive();
            if (size == 0) {
                return;
            }
            long rawEnd = address + size;
            if (below(rawEnd, address)) {
                throw new KernException(KERN_INVALID_ARGUMENT, "range at " + hex(address) + " of " + hex(size)
                        + " bytes wraps around the address space");
            }
            long end = round(rawEnd);
            if (end == 0) {
                throw new KernException(KERN_INVALID_ARGUMENT, "end " + hex(rawEnd) + " wraps to 0 when rounded to "
                        + pageSize + "-byte pages");
            }
            long start = trunc(address);
            if (below(start, minAddress) || above(end, maxAddress)) {
                return; // outside the map: nothing to remove, as XNU
            }
            removeRange(start, end);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Unmaps every entry and releases every page; later calls fail with {@code MACH_SEND_INVALID_DEST}. */
    public void terminate() {
        lock.writeLock().lock();
        try {
            if (terminated) {
                return;
            }
            terminated = true;
            entries.clear();
            virtualBytes = 0;
            releasePages(0, PageTable.MAX_PAGES);
        } finally {
            lock.writeLock().unlock();
        }
    }

    public boolean isTerminated() {
        lock.readLock().lock();
        try {
            return terminated;
        } finally {
            lock.readLock().unlock();
        }
    }

    // ================================================================ vm_protect / vm_inherit

    /** {@code vm_protect}: sets the current or (with {@code setMaximum}) the maximum protection of whole pages. */
    public void protect(long address, long size, boolean setMaximum, int protection) {
        lock.writeLock().lock();
        try {
            ensureAlive();
            if (size == 0) {
                return;
            }
            if ((protection & ~VmProt.PROTECT_MASK) != 0) {
                throw new KernException(KERN_INVALID_ARGUMENT, "protection " + hex(protection & 0xFFFF_FFFFL)
                        + " has bits outside READ|WRITE|EXECUTE|COPY (0x17)");
            }
            long start = trunc(address);
            long end = attributeRangeEnd(address, size);
            int newProt = protection & VmProt.ALL;
            boolean copy = (protection & VmProt.COPY) != 0;
            // First pass: every problem is found before anything changes.
            long cursor = start;
            for (VmEntry e : entriesFrom(start, end)) {
                if (above(e.start, cursor)) { // the first entry may begin before start
                    throw unmappedForAttributes(cursor);
                }
                int max = e.maxProtection | (copy ? VmProt.WRITE : 0);
                if (setMaximum && flavor.writeExecuteAllowed()) {
                    max |= newProt & VmProt.EXECUTE; // no code signing: execute may be added to max
                }
                if ((newProt & max) != newProt) {
                    throw new KernException(KERN_PROTECTION_FAILURE, "protection " + VmProt.format(newProt)
                            + " exceeds the maximum " + VmProt.format(e.maxProtection) + " of [" + hex(e.start) + ", "
                            + hex(e.end) + ")");
                }
                if (!flavor.writeExecuteAllowed() && (newProt & (VmProt.WRITE | VmProt.EXECUTE))
                        == (VmProt.WRITE | VmProt.EXECUTE)) {
                    throw new KernException(KERN_PROTECTION_FAILURE, "an " + flavor.wireName()
                            + " task cannot map memory writable and executable at once (W^X)");
                }
                cursor = e.end;
            }
            if (below(cursor, end)) {
                throw unmappedForAttributes(cursor);
            }
            // Second pass.
            for (VmEntry e : splitRange(start, end)) {
                if (copy) {
                    e.maxProtection |= VmProt.WRITE;
                }
                if (setMaximum) {
                    e.maxProtection = newProt;
                    e.protection &= newProt;
                } else {
                    e.protection = newProt;
                }
            }
            simplify(start, end);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** {@code vm_inherit}: sets what a forked child receives of whole pages. */
    public void inherit(long address, long size, VmInherit inheritance) {
        lock.writeLock().lock();
        try {
            ensureAlive();
            if (inheritance == null) {
                throw new KernException(KERN_INVALID_ARGUMENT, "inheritance must be share (0), copy (1) or none (2)");
            }
            if (size == 0) {
                return;
            }
            long start = trunc(address);
            long end = attributeRangeEnd(address, size);
            long cursor = start;
            for (VmEntry e : entriesFrom(start, end)) {
                if (above(e.start, cursor)) { // the first entry may begin before start
                    throw unmappedForAttributes(cursor);
                }
                cursor = e.end;
            }
            if (below(cursor, end)) {
                throw unmappedForAttributes(cursor);
            }
            for (VmEntry e : splitRange(start, end)) {
                e.inheritance = inheritance;
            }
            simplify(start, end);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** The page-rounded end of a protect/inherit range, with XNU's argument checks. */
    private long attributeRangeEnd(long address, long size) {
        long rawEnd = address + size;
        if (below(rawEnd, address)) {
            throw new KernException(KERN_INVALID_ARGUMENT, "range at " + hex(address) + " of " + hex(size)
                    + " bytes wraps around the address space");
        }
        long end = round(rawEnd);
        if (end == 0) {
            throw trunc(address) == 0
                    ? new KernException(KERN_INVALID_ADDRESS, "range at " + hex(address) + " of " + hex(size)
                            + " bytes ends past the top of the address space")
                    : new KernException(KERN_INVALID_ARGUMENT, "end " + hex(rawEnd) + " wraps to 0 when rounded to "
                            + pageSize + "-byte pages");
        }
        if (!below(trunc(address), maxAddress)) {
            throw new KernException(KERN_INVALID_ADDRESS, "address " + hex(address) + " is at or above the map "
                    + "maximum " + hex(maxAddress));
        }
        return end;
    }

    private KernException unmappedForAttributes(long address) {
        return new KernException(KERN_INVALID_ADDRESS, "address " + hex(address) + " is not mapped");
    }

    // ================================================================ vm_region

    /** {@code vm_region}: the entry containing {@code trunc(address)}, or the next one above it. */
    public RegionInfo region(long address) {
        lock.readLock().lock();
        try {
            ensureAlive();
            long at = trunc(address);
            if (below(at, maxAddress)) {
                Map.Entry<Long, VmEntry> floor = entries.floorEntry(at);
                if (floor != null && floor.getValue().end > at) {
                    return floor.getValue().info();
                }
                Map.Entry<Long, VmEntry> next = entries.higherEntry(at);
                if (next != null) {
                    return next.getValue().info();
                }
            }
            throw new KernException(KERN_INVALID_ADDRESS, "no region at or above " + hex(address));
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Every entry in address order (the region walk). */
    public List<RegionInfo> regions() {
        lock.readLock().lock();
        try {
            ensureAlive();
            List<RegionInfo> out = new ArrayList<>(entries.size());
            for (VmEntry e : entries.values()) {
                out.add(e.info());
            }
            return out;
        } finally {
            lock.readLock().unlock();
        }
    }

    public int regionCount() {
        lock.readLock().lock();
        try {
            return entries.size();
        } finally {
            lock.readLock().unlock();
        }
    }

    public long virtualBytes() {
        lock.readLock().lock();
        try {
            return virtualBytes;
        } finally {
            lock.readLock().unlock();
        }
    }

    public long residentPages() {
        lock.readLock().lock();
        try {
            long resident = pages.population();
            if (sharedRanges != null) {
                long[] count = {0};
                for (SharedRange r : sharedRanges.values()) {
                    r.memory.pages.forEach(r.indexOf(r.startPage), r.indexOf(r.endPage), (q, h) -> count[0]++);
                }
                resident += count[0];
            }
            return resident;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** The handle of every resident page, in address order (for accounting checks). */
    public int[] residentHandles() {
        lock.readLock().lock();
        try {
            IntList out = new IntList((int) Math.min(pages.population(), Integer.MAX_VALUE - 8));
            pages.forEach(0, PageTable.MAX_PAGES, (p, h) -> out.add(h));
            if (sharedRanges != null) {
                for (SharedRange r : sharedRanges.values()) {
                    r.memory.pages.forEach(r.indexOf(r.startPage), r.indexOf(r.endPage), (q, h) -> out.add(h));
                }
            }
            return java.util.Arrays.copyOf(out.array(), out.size());
        } finally {
            lock.readLock().unlock();
        }
    }

    // ================================================================ vm_read

    /** {@code vm_read} into a new array; for transfers the caller knows to be small. */
    public byte[] read(long address, long size) {
        lock.readLock().lock();
        try {
            ensureAlive();
            checkReadable(address, size, true);
            if (size > Integer.MAX_VALUE - 16) {
                throw new IllegalArgumentException("read of " + size + " bytes does not fit in an array");
            }
            byte[] out = new byte[(int) size];
            copyOut(address, out, 0, (int) size);
            return out;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** {@code vm_read} into {@code dst[dstOffset, dstOffset + length)}: the checks of {@link #read(long, long)}, no allocation. */
    public void read(long address, byte[] dst, int dstOffset, int length) {
        java.util.Objects.checkFromIndexSize(dstOffset, length, dst.length);
        lock.readLock().lock();
        try {
            ensureAlive();
            checkReadable(address, length, true);
            copyOut(address, dst, dstOffset, length);
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * {@code vm_read} as a snapshot: references the pages of the range so that the caller can stream them after the
     * lock is released; later writes to the task do not change it. The caller must close it.
     */
    public PageSnapshot snapshot(long address, long size) {
        lock.readLock().lock();
        try {
            ensureAlive();
            checkReadable(address, size, true);
            if (size == 0) {
                return new PageSnapshot(store, NO_HANDLES, 0, 0);
            }
            long firstPage = address >>> pageShift;
            int count = (int) (((address + size - 1) >>> pageShift) - firstPage + 1);
            int[] handles = new int[count];
            for (int i = 0; i < count; i++) {
                int h = pageAt(firstPage + i);
                store.retain(h);
                handles[i] = h;
            }
            return new PageSnapshot(store, handles, (int) (address & pageMask), size);
        } finally {
            lock.readLock().unlock();
        }
    }

    private void checkReadable(long address, long size, boolean readLimit) {
        if (size == 0) {
            return;
        }
        if (readLimit && Long.compareUnsigned(size, MAX_READ_SIZE) > 0) {
            throw new KernException(KERN_INVALID_ARGUMENT, "size " + hex(size)
                    + " exceeds the 32-bit limit of vm_read (0xffffffff)");
        }
        if (below(address + size, address)) {
            throw new KernException(KERN_INVALID_ADDRESS, "source range at " + hex(address) + " of " + hex(size)
                    + " bytes wraps around the address space");
        }
        checkAccess(address, size, VmProt.READ, "source", this);
    }

    private void checkWritable(long address, long size) {
        checkWritable(address, size, this);
    }

    /**
     * Destination rules of a transfer made by a call on {@code caller}: its flavor's S and its error model chose the
     * transfer path (XNU decides it when copying the source in), and the path decides the protection code.
     */
    private void checkWritable(long address, long size, VmMap caller) {
        if (below(address + size, address)) {
            throw new KernException(KERN_INVALID_ADDRESS, "destination range at " + hex(address) + " of "
                    + hex(size) + " bytes wraps around the address space");
        }
        checkAccess(address, size, VmProt.WRITE, "destination", caller);
    }

    /**
     * Checks that every page of {@code [address, address + size)} is mapped with {@code access}; the first problem in
     * address order wins. {@code size > 0} and the byte range does not wrap. {@code caller}'s transfer path decides
     * the protection code.
     */
    private void checkAccess(long address, long size, int access, String role, VmMap caller) {
        long cursor = trunc(address);
        long end = round(address + size); // 0 when rounding wraps: then the range ends past the map anyway
        while (end == 0 || below(cursor, end)) {
            VmEntry e = below(cursor, minAddress) || !below(cursor, maxAddress) ? null : entryContaining(cursor);
            if (e == null) {
                throw new KernException(KERN_INVALID_ADDRESS, role + " range at " + hex(address) + " of " + hex(size)
                        + " bytes: " + hex(cursor) + " is not mapped");
            }
            if ((e.protection & access) != access) {
                KernReturn kern = caller.errors == ErrorModel.XNU
                        && Long.compareUnsigned(size, caller.flavor.smallTransferLimit()) <= 0
                        ? KERN_INVALID_ADDRESS
                        : KERN_PROTECTION_FAILURE;
                throw new KernException(kern, role + " range at " + hex(address) + " of " + hex(size) + " bytes: ["
                        + hex(e.start) + ", " + hex(e.end) + ") is " + VmProt.format(e.protection) + ", not "
                        + (access == VmProt.READ ? "readable" : "writable"));
            }
            cursor = e.end;
        }
    }

    private void copyOut(long address, byte[] out, int outOffset, int length) {
        long at = address;
        int done = 0;
        while (done < length) {
            int pageOffset = (int) (at & pageMask);
            int n = Math.min(length - done, pageSize - pageOffset);
            store.read(pageAt(at >>> pageShift), pageOffset, out, outOffset + done, n);
            done += n;
            at += n;
        }
    }

    // ================================================================ vm_write

    /** {@code vm_write} of bytes already in memory: validated, then written in place (copy-on-write where shared). */
    public void write(long address, byte[] data, int offset, int length) {
        lock.writeLock().lock();
        try {
            ensureAlive();
            if (length == 0) {
                return;
            }
            checkWritable(address, length);
            writeLocked(address, data, offset, length);
        } finally {
            lock.writeLock().unlock();
        }
    }

    public void write(long address, byte[] data) {
        write(address, data, 0, data.length);
    }

    private void writeLocked(long address, byte[] data, int offset, int length) {
        long firstPage = address >>> pageShift;
        long lastPage = (address + length - 1) >>> pageShift;
        if (firstPage == lastPage) {
            int h = pageAt(firstPage);
            if (h != PageStore.NO_PAGE && !store.isShared(h)) { // one page, ours alone: written in place
                markDirty(firstPage);
                store.write(h, (int) (address & pageMask), data, offset, length);
                return;
            }
        }
        int needed = 0;
        for (long p = firstPage; p <= lastPage; p++) {
            int h = pageAt(p);
            if (h == PageStore.NO_PAGE || store.isShared(h)) {
                needed++;
            }
        }
        int[] fresh = allocatePages(needed, false);
        int nextFresh = 0;
        IntList replaced = null;
        long at = address;
        int done = 0;
        for (long p = firstPage; p <= lastPage; p++) {
            int lo = (int) (at & pageMask);
            int n = Math.min(length - done, pageSize - lo);
            int hi = lo + n;
            int h = pageAt(p);
            markDirty(p);
            if (h == PageStore.NO_PAGE || store.isShared(h)) {
                int target = fresh[nextFresh++];
                fillOutside(target, lo, hi, h);
                replacePage(p, target);
                if (h != PageStore.NO_PAGE) {
                    if (replaced == null) {
                        replaced = new IntList(needed);
                    }
                    replaced.add(h);
                }
                h = target;
            }
            store.write(h, lo, data, offset + done, n);
            done += n;
            at += n;
        }
        if (replaced != null) {
            store.releaseAll(replaced.array(), replaced.size());
        }
        if (nextFresh < fresh.length) {
            // A snapshot closed (without our lock) since the count: a page it shared was written in place instead.
            store.releaseAll(java.util.Arrays.copyOfRange(fresh, nextFresh, fresh.length), fresh.length - nextFresh);
        }
    }

    /** Fills a fresh page outside {@code [lo, hi)} from {@code oldHandle} (zeros for the zero page). */
    private void fillOutside(int fresh, int lo, int hi, int oldHandle) {
        if (lo > 0) {
            store.copy(oldHandle, 0, fresh, 0, lo);
        }
        if (hi < pageSize) {
            store.copy(oldHandle, hi, fresh, hi, pageSize - hi);
        }
    }

    /**
     * {@code vm_write} streamed from {@code source} into fresh pages, swapped in atomically at the end: a source that
     * fails or ends early leaves the task unchanged, and the body is never held whole in heap memory.
     *
     * @param declaredLength the number of bytes the source will deliver, or -1 when unknown (then the range is
     *                       validated when the source ends)
     * @param maxLength      the service's transfer limit, checked after the Mach checks
     * @return the number of bytes written
     * @throws IOException when reading the source fails or it ends before {@code declaredLength}; nothing changed
     */
    public long write(long address, InputStream source, long declaredLength, long maxLength) throws IOException {
        if (declaredLength <= 0) {
            ensureAliveLocked(); // a dead task fails before a byte of the body is read
            if (declaredLength == 0) {
                return 0;
            }
        }
        if (declaredLength > 0) {
            lock.readLock().lock();
            try {
                ensureAlive();
                checkWritable(address, declaredLength); // fail fast, before a byte of the body is read
            } finally {
                lock.readLock().unlock();
            }
            if (declaredLength > maxLength) {
                throw transferLimit(declaredLength, maxLength);
            }
        }
        IntList fresh = new IntList(16);
        try {
            long total = streamIntoFreshPages(address, source, declaredLength, maxLength, fresh);
            if (total == 0) {
                ensureAliveLocked();
                return 0;
            }
            int[] replaced;
            lock.writeLock().lock();
            try {
                ensureAlive();
                checkWritable(address, total); // the map may have changed while the body streamed in
                long firstPage = address >>> pageShift;
                int count = fresh.size();
                int headOffset = (int) (address & pageMask);
                int tailEnd = (int) ((address + total) & pageMask);
                if (headOffset > 0) {
                    store.copy(pageAt(firstPage), 0, fresh.get(0), 0, headOffset);
                }
                if (tailEnd > 0) {
                    int last = fresh.get(count - 1);
                    store.copy(pageAt(firstPage + count - 1), tailEnd, last, tailEnd, pageSize - tailEnd);
                }
                replaced = new int[count];
                for (int i = 0; i < count; i++) {
                    replaced[i] = replacePage(firstPage + i, fresh.get(i));
                }
                fresh.clear(); // the map owns them now
            } finally {
                lock.writeLock().unlock();
            }
            store.releaseAll(replaced, replaced.length);
            return total;
        } finally {
            store.releaseAll(fresh.array(), fresh.size());
        }
    }

    private long streamIntoFreshPages(long address, InputStream source, long declaredLength, long maxLength,
            IntList fresh) throws IOException {
        byte[] chunk = new byte[(int) Math.min(STREAM_CHUNK, declaredLength > 0 ? declaredLength : STREAM_CHUNK)];
        int[] one = new int[1];
        long total = 0;
        int page = PageStore.NO_PAGE;
        int fill = (int) (address & pageMask);
        while (declaredLength < 0 || total < declaredLength) {
            int want = declaredLength < 0 ? chunk.length : (int) Math.min(chunk.length, declaredLength - total);
            int n = source.read(chunk, 0, want);
            if (n < 0) {
                if (declaredLength >= 0) {
                    throw new EOFException("body ended after " + total + " of " + declaredLength + " bytes");
                }
                break;
            }
            if (total + n > maxLength) {
                checkSeenSoFar(address, total + n, declaredLength);
                throw transferLimit(total + n, maxLength);
            }
            int pos = 0;
            while (pos < n) {
                if (page == PageStore.NO_PAGE || fill == pageSize) {
                    if (page != PageStore.NO_PAGE) {
                        fill = 0;
                    }
                    try {
                        store.allocate(one, 0, 1, false);
                    } catch (StoreExhaustedException e) {
                        checkSeenSoFar(address, total + n, declaredLength);
                        throw new KernException(KERN_RESOURCE_SHORTAGE, e.getMessage());
                    }
                    page = one[0];
                    fresh.add(page);
                }
                int k = Math.min(n - pos, pageSize - fill);
                store.write(page, fill, chunk, pos, k);
                fill += k;
                pos += k;
            }
            total += n;
        }
        return total;
    }

    /**
     * Before a service limit fails a body of unknown length, the Mach checks of the bytes that arrived come first (a
     * declared length was checked whole before the body was read).
     */
    private void checkSeenSoFar(long address, long seenBytes, long declaredLength) {
        if (declaredLength < 0) {
            lock.readLock().lock();
            try {
                ensureAlive();
                checkWritable(address, seenBytes);
            } finally {
                lock.readLock().unlock();
            }
        }
    }

    private static TransferLimitException transferLimit(long length, long maxLength) {
        return new TransferLimitException(maxLength, "transfer of " + length + " bytes exceeds the limit of "
                + maxLength + " bytes");
    }

    // ================================================================ vm_copy / vm_read_overwrite

    /**
     * {@code vm_copy} within this task: as if the source were read first (memmove), shared copy-on-write.
     *
     * @return the bytes that were shared copy-on-write rather than moved
     */
    public long copy(long source, long size, long dest) {
        lock.writeLock().lock();
        try {
            ensureAlive();
            if (size == 0) {
                return 0;
            }
            checkReadable(source, size, false);
            checkWritable(dest, size);
            if (source == dest) {
                return 0;
            }
            // Page ranges that do not overlap, all pages private to this map: the copy cannot change its own source,
            // so its pages are read straight from the page table instead of being captured (a reference taken and
            // dropped per page).
            boolean disjoint = ((source + size - 1) >>> pageShift) < (dest >>> pageShift)
                    || ((dest + size - 1) >>> pageShift) < (source >>> pageShift);
            Capture capture = disjoint && sharedRanges == null
                    ? new Capture(store, pages, source, size, pageShift)
                    : capture(source, size);
            try {
                return applyCopy(capture, dest);
            } finally {
                capture.release();
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * {@code vm_read_overwrite}: copies {@code size} bytes at {@code address} of {@code source} to {@code destAddress}
     * of {@code dest} (which may be the same task). Source problems are reported before destination problems.
     *
     * @return the number of bytes copied ({@code outsize})
     */
    public static long readOverwrite(VmMap source, long address, long size, VmMap dest, long destAddress) {
        return readOverwrite(source, address, size, dest, destAddress, null);
    }

    /**
     * {@code vm_read_overwrite}, telling {@code sharedBytes} (when not null) how many bytes were shared
     * copy-on-write rather than moved.
     */
    public static long readOverwrite(VmMap source, long address, long size, VmMap dest, long destAddress,
            java.util.function.LongConsumer sharedBytes) {
        if (source == dest) {
            long shared = source.copy(address, size, destAddress);
            if (sharedBytes != null) {
                sharedBytes.accept(shared);
            }
            return size;
        }
        Capture capture;
        source.lock.readLock().lock();
        try {
            source.ensureAlive();
            if (size == 0) {
                capture = null;
            } else {
                source.checkReadable(address, size, false);
                capture = source.capture(address, size);
            }
        } finally {
            source.lock.readLock().unlock();
        }
        // The source lock is released before the destination's is taken: no lock order, no deadlock.
        dest.lock.writeLock().lock();
        try {
            dest.ensureAlive();
            if (capture != null) {
                dest.checkWritable(destAddress, size, source);
                long shared = dest.applyCopy(capture, destAddress);
                if (sharedBytes != null) {
                    sharedBytes.accept(shared);
                }
            }
            return size;
        } finally {
            dest.lock.writeLock().unlock();
            if (capture != null) {
                capture.release();
            }
        }
    }

    /** The source pages of a copy, referenced so that the copy reads them as they were when captured. */
    private static final class Capture {
        final PageStore store;
        final PageTable table;
        final long address;
        final long size;
        final int pageShift;
        /** Whether {@link #table} is the map's own page table (no references taken), not a copy of the range. */
        final boolean borrowed;

        Capture(PageStore store, long address, long size, int pageShift) {
            this(store, new PageTable(), address, size, pageShift, false);
        }

        /** The pages of {@code [address, address + size)} in the map's own {@code table}, which the copy cannot change. */
        Capture(PageStore store, PageTable table, long address, long size, int pageShift) {
            this(store, table, address, size, pageShift, true);
        }

        private Capture(PageStore store, PageTable table, long address, long size, int pageShift, boolean borrowed) {
            this.store = store;
            this.table = table;
            this.address = address;
            this.size = size;
            this.pageShift = pageShift;
            this.borrowed = borrowed;
        }

        long firstPage() {
            return address >>> pageShift;
        }

        long endPage() {
            return ((address + size - 1) >>> pageShift) + 1;
        }

        int handleAt(long byteAddress) {
            return table.get(byteAddress >>> pageShift);
        }

        boolean anyResident(long fromByte, long toByte) {
            return table.anyResident(fromByte >>> pageShift, ((toByte - 1) >>> pageShift) + 1);
        }

        void release() {
            if (borrowed) {
                return;
            }
            IntList handles = new IntList((int) Math.min(table.population(), 1 << 20));
            table.forEach(firstPage(), endPage(), (p, h) -> handles.add(h));
            store.releaseAll(handles.array(), handles.size());
        }
    }

    private Capture capture(long address, long size) {
        Capture capture = new Capture(store, address, size, pageShift);
        forEachPage(address >>> pageShift, ((address + size - 1) >>> pageShift) + 1, (p, h) -> {
            store.retain(h);
            capture.table.set(p, h);
        });
        return capture;
    }

    /**
     * Writes a captured source range to {@code dest} (validated). Whole destination pages at the same in-page offset
     * as their source in the same store share the source page; everything else moves bytes. Only pages that are
     * resident on either side are visited, so a copy of untouched memory costs nothing per page.
     */
    private long applyCopy(Capture src, long dest) {
        long size = src.size;
        long delta = dest - src.address;
        boolean shareable = src.store == store && (delta & pageMask) == 0 && src.pageShift == pageShift;
        long firstPage = dest >>> pageShift;
        long lastPage = (dest + size - 1) >>> pageShift;
        if (shareable && src.borrowed && (dest & pageMask) == 0 && (size & pageMask) == 0) {
            return shareWholePages(src, firstPage, lastPage + 1, delta >> pageShift);
        }
        LongList candidates = new LongList();
        forEachPage(firstPage, lastPage + 1, (p, h) -> candidates.add(p));
        int srcShift = src.pageShift;
        src.table.forEach(src.firstPage(), src.endPage(), (s, h) -> {
            long lo = Math.max(s << srcShift, src.address) + delta;
            long hi = Math.min((s + 1) << srcShift, src.address + size) + delta;
            for (long p = lo >>> pageShift; p <= (hi - 1) >>> pageShift; p++) {
                candidates.add(p);
            }
        });
        candidates.sortDistinct();

        int needed = 0;
        for (int i = 0; i < candidates.size(); i++) {
            long p = candidates.get(i);
            int action = copyAction(src, p, dest, size, delta, shareable);
            if (action == COPY_BYTES) {
                int h = pageAt(p);
                if (h == PageStore.NO_PAGE || store.isShared(h)) {
                    needed++;
                }
            }
        }
        int[] fresh = allocatePages(needed, false);
        int nextFresh = 0;
        long sharedPages = 0;
        IntList replaced = new IntList(16);
        for (int i = 0; i < candidates.size(); i++) {
            long p = candidates.get(i);
            long pageBase = p << pageShift;
            int action = copyAction(src, p, dest, size, delta, shareable);
            if (action == SHARE) {
                int h = src.handleAt(pageBase - delta);
                store.retain(h);
                replaced.add(replacePage(p, h));
                sharedPages++;
            } else if (action == COPY_BYTES) {
                int lo = (int) (Math.max(dest, pageBase) - pageBase);
                int hi = (int) (Math.min(dest + size, pageBase + pageSize) - pageBase);
                int h = pageAt(p);
                markDirty(p);
                if (h == PageStore.NO_PAGE || store.isShared(h)) {
                    int target = fresh[nextFresh++];
                    fillOutside(target, lo, hi, h);
                    replacePage(p, target);
                    replaced.add(h);
                    h = target;
                }
                copyBytesFrom(src, pageBase + lo - delta, h, lo, hi - lo);
            }
        }
        store.releaseAll(replaced.array(), replaced.size());
        if (nextFresh < fresh.length) {
            store.releaseAll(java.util.Arrays.copyOfRange(fresh, nextFresh, fresh.length), fresh.length - nextFresh);
        }
        return sharedPages << pageShift;
    }

    /**
     * The copy-on-write copy of whole pages between disjoint page ranges of this map (no shared ranges): each
     * destination page takes its source page's handle (one reference more), and destination pages over unbacked
     * source pages become unbacked; all are marked dirty, as {@link #applyCopy} does. Visits only resident pages, in
     * order, without collecting, sorting or classifying them.
     *
     * @return the bytes shared
     */
    private long shareWholePages(Capture src, long firstPage, long endPage, long deltaPages) {
        IntList replaced = new IntList(16);
        long[] shared = {0};
        pages.forEach(firstPage, endPage, (p, h) -> {
            if (src.table.get(p - deltaPages) == PageStore.NO_PAGE) {
                replaced.add(replacePage(p, PageStore.NO_PAGE));
                shared[0]++;
            }
        });
        src.table.forEach(src.firstPage(), src.endPage(), (s, h) -> {
            store.retain(h);
            replaced.add(replacePage(s + deltaPages, h));
            shared[0]++;
        });
        store.releaseAll(replaced.array(), replaced.size());
        return shared[0] << pageShift;
    }

    private static final int SKIP = 0;
    private static final int SHARE = 1;
    private static final int COPY_BYTES = 2;

    private int copyAction(Capture src, long p, long dest, long size, long delta, boolean shareable) {
        long pageBase = p << pageShift;
        long lo = Math.max(dest, pageBase);
        long hi = Math.min(dest + size, pageBase + pageSize);
        if (shareable && lo == pageBase && hi == pageBase + pageSize) {
            return SHARE;
        }
        if (pageAt(p) == PageStore.NO_PAGE && !src.anyResident(lo - delta, hi - delta)) {
            return SKIP; // zeros onto zeros
        }
        return COPY_BYTES;
    }

    private void copyBytesFrom(Capture src, long srcAddress, int dstHandle, int dstOffset, int length) {
        int srcPageSize = 1 << src.pageShift;
        long srcMask = srcPageSize - 1L;
        while (length > 0) {
            int srcOffset = (int) (srcAddress & srcMask);
            int n = Math.min(length, srcPageSize - srcOffset);
            store.copyFrom(src.store, src.handleAt(srcAddress), srcOffset, dstHandle, dstOffset, n);
            srcAddress += n;
            dstOffset += n;
            length -= n;
        }
    }

    // ================================================================ entries

    private int[] allocatePages(int count, boolean zeroed) {
        if (count == 0) {
            return NO_HANDLES;
        }
        int[] out = new int[count];
        try {
            store.allocate(out, 0, count, zeroed);
        } catch (StoreExhaustedException e) {
            throw new KernException(KERN_RESOURCE_SHORTAGE, e.getMessage());
        }
        return out;
    }

    private VmEntry entryContaining(long address) {
        Map.Entry<Long, VmEntry> floor = entries.floorEntry(address);
        return floor != null && floor.getValue().end > address ? floor.getValue() : null;
    }

    /** The entries overlapping {@code [start, end)}, in address order, starting with the one containing start. */
    private Iterable<VmEntry> entriesFrom(long start, long end) {
        VmEntry first = entryContaining(start);
        if (first == null) {
            throw unmappedForAttributes(start);
        }
        // An end past the map (even past 2^63, where the signed keys compare negative) means "to the last entry".
        return entries.subMap(first.start, true, below(end, maxAddress) ? end : maxAddress, false).values();
    }

    private boolean overlapsAny(long start, long end) {
        Map.Entry<Long, VmEntry> lower = entries.lowerEntry(end);
        return lower != null && lower.getValue().end > start;
    }

    private void insertNew(long start, long end) {
        entries.put(start, new VmEntry(start, end, VmProt.READ | VmProt.WRITE, VmProt.ALL, VmInherit.COPY,
                nextObjectId++, 0, false));
        virtualBytes += end - start;
        long holeStart = holes.floorStart(start);
        long holeEnd = holeStart + holes.remove(holeStart);
        holes.add(holeStart, start - holeStart);
        holes.add(end, holeEnd - end);
    }

    /** First fit of {@code size} bytes upward from the map minimum; -1 when none. */
    private long findSpace(long size) {
        return holes.firstFit(size);
    }

    private void splitAt(long address) {
        VmEntry e = entryContaining(address);
        if (e != null && e.start != address) {
            VmEntry right = e.splitAt(address);
            entries.put(right.start, right);
        }
    }

    /** Splits entries at both ends and returns those inside {@code [start, end)}. */
    private Iterable<VmEntry> splitRange(long start, long end) {
        splitAt(start);
        splitAt(end);
        return entries.subMap(start, true, end, false).values();
    }

    /** Merges neighbours around {@code [start, end)} that are windows of one object with equal attributes. */
    private void simplify(long start, long end) {
        Long from = entries.lowerKey(start);
        Long to = entries.ceilingKey(end);
        NavigableMap<Long, VmEntry> window = entries.subMap(from == null ? start : from, true,
                to == null ? end : to, true);
        VmEntry previous = null;
        List<Long> absorbed = new ArrayList<>();
        for (VmEntry e : window.values()) {
            if (previous != null && previous.canAbsorb(e)) {
                previous.end = e.end;
                absorbed.add(e.start);
            } else {
                previous = e;
            }
        }
        for (Long key : absorbed) {
            entries.remove(key);
        }
    }

    private void removeRange(long start, long end) {
        NavigableMap<Long, VmEntry> inside = entries.subMap(start, true, end, false);
        splitAt(start);
        splitAt(end);
        for (VmEntry e : inside.values()) {
            virtualBytes -= e.size();
        }
        inside.clear();
        releasePages(start >>> pageShift, end >>> pageShift);
        // The range joins the holes around it into one.
        Map.Entry<Long, VmEntry> before = entries.lowerEntry(start);
        Map.Entry<Long, VmEntry> after = entries.ceilingEntry(end);
        long holeStart = before == null ? minAddress : before.getValue().end;
        long holeEnd = after == null ? maxAddress : after.getKey();
        LongList merged = new LongList();
        holes.forEach(holeStart, holeEnd, (hole, size) -> {
            merged.add(hole);
            return 0;
        });
        for (int i = 0; i < merged.size(); i++) {
            holes.remove(merged.get(i));
        }
        holes.add(holeStart, holeEnd - holeStart);
    }

    /** Drops the pages of {@code [fromPage, toPage)}: private ones are released, shared ranges are cut. */
    private void releasePages(long fromPage, long toPage) {
        IntList released = new IntList(64);
        pages.forEach(fromPage, toPage, (p, h) -> {
            released.add(h);
            pages.set(p, PageStore.NO_PAGE);
        });
        store.releaseAll(released.array(), released.size());
        dirty.removeRange(fromPage, toPage);
        if (sharedRanges != null) {
            dropSharedRanges(fromPage, toPage);
        }
    }

    // ================================================================ pages, wherever they live

    /** Pages {@code [startPage, endPage)} of this map live in {@code memory} from {@code memoryStartPage} on. */
    private static final class SharedRange {
        final long startPage;
        long endPage;
        final SharedMemory memory;
        final long memoryStartPage;

        SharedRange(long startPage, long endPage, SharedMemory memory, long memoryStartPage) {
            this.startPage = startPage;
            this.endPage = endPage;
            this.memory = memory;
            this.memoryStartPage = memoryStartPage;
        }

        long indexOf(long page) {
            return memoryStartPage + (page - startPage);
        }
    }

    /**
     * Memory that several tasks see at once (fork with inheritance share): one page table that every sharer reads
     * and writes in place. Guarded by the lock the sharers have in common.
     */
    private static final class SharedMemory {
        private static final java.util.concurrent.atomic.AtomicLong LAST_ID = new java.util.concurrent.atomic.AtomicLong();
        /** Names the memory in checkpoints; unique in this process. */
        final long id = LAST_ID.incrementAndGet();
        final PageTable pages = new PageTable();
        final PageBits dirty = new PageBits();
        /** Shared ranges, in any map, that refer to this memory; its pages go with the last. */
        int ranges;
    }

    private SharedRange sharedRangeAt(long page) {
        Map.Entry<Long, SharedRange> floor = sharedRanges.floorEntry(page);
        return floor != null && floor.getValue().endPage > page ? floor.getValue() : null;
    }

    /** The handle of a page, private or shared. */
    private int pageAt(long page) {
        if (sharedRanges == null) {
            return pages.get(page);
        }
        SharedRange r = sharedRangeAt(page);
        return r == null ? pages.get(page) : r.memory.pages.get(r.indexOf(page));
    }

    /** Installs new content for a page, marking it dirty; returns the handle it replaces. */
    private int replacePage(long page, int handle) {
        if (sharedRanges != null) {
            SharedRange r = sharedRangeAt(page);
            if (r != null) {
                r.memory.dirty.add(r.indexOf(page));
                return r.memory.pages.set(r.indexOf(page), handle);
            }
        }
        dirty.add(page);
        return pages.set(page, handle);
    }

    private void markDirty(long page) {
        if (sharedRanges != null) {
            SharedRange r = sharedRangeAt(page);
            if (r != null) {
                r.memory.dirty.add(r.indexOf(page));
                r.memory.pages.touch(r.indexOf(page));
                return;
            }
        }
        dirty.add(page);
        pages.touch(page);
    }

    private boolean isDirty(long page) {
        if (sharedRanges != null) {
            SharedRange r = sharedRangeAt(page);
            if (r != null) {
                return r.memory.dirty.contains(r.indexOf(page));
            }
        }
        return dirty.contains(page);
    }

    /** The shared ranges overlapping {@code [fromPage, toPage)}, in address order. */
    private List<SharedRange> sharedRangesIn(long fromPage, long toPage) {
        if (sharedRanges == null) {
            return List.of();
        }
        Long first = sharedRanges.floorKey(fromPage);
        List<SharedRange> out = new ArrayList<>();
        for (SharedRange r : sharedRanges.tailMap(first == null ? fromPage : first, true).values()) {
            if (r.startPage >= toPage) {
                break;
            }
            if (r.endPage > fromPage) {
                out.add(r);
            }
        }
        return out;
    }

    /** Visits every resident page of {@code [fromPage, toPage)}, private or shared (not in address order). */
    private void forEachPage(long fromPage, long toPage, PageTable.PageVisitor visitor) {
        pages.forEach(fromPage, toPage, visitor);
        for (SharedRange r : sharedRangesIn(fromPage, toPage)) {
            long lo = Math.max(fromPage, r.startPage);
            long hi = Math.min(toPage, r.endPage);
            long shift = r.startPage - r.memoryStartPage;
            r.memory.pages.forEach(r.indexOf(lo), r.indexOf(hi), (q, h) -> visitor.visit(q + shift, h));
        }
    }

    /** Cuts {@code [fromPage, toPage)} out of the shared ranges; memory whose last range goes is released. */
    private void dropSharedRanges(long fromPage, long toPage) {
        for (SharedRange r : sharedRangesIn(fromPage, toPage)) {
            long oldEnd = r.endPage;
            if (r.startPage >= fromPage) {
                sharedRanges.remove(r.startPage);
                if (oldEnd > toPage) {
                    sharedRanges.put(toPage, new SharedRange(toPage, oldEnd, r.memory, r.indexOf(toPage)));
                } else if (--r.memory.ranges == 0) {
                    releaseMemory(r.memory);
                }
            } else {
                r.endPage = fromPage;
                if (oldEnd > toPage) {
                    sharedRanges.put(toPage, new SharedRange(toPage, oldEnd, r.memory, r.indexOf(toPage)));
                    r.memory.ranges++;
                }
            }
        }
        if (sharedRanges.isEmpty()) {
            sharedRanges = null;
        }
    }

    private void releaseMemory(SharedMemory memory) {
        IntList released = new IntList(64);
        memory.pages.forEach(0, PageTable.MAX_PAGES, (q, h) -> {
            released.add(h);
            memory.pages.set(q, PageStore.NO_PAGE);
        });
        store.releaseAll(released.array(), released.size());
    }

    /** Moves the private pages of {@code [fromPage, toPage)} not yet shared into new shared memory. */
    private void shareRange(long fromPage, long toPage) {
        long cursor = fromPage;
        for (SharedRange r : sharedRangesIn(fromPage, toPage)) {
            if (r.startPage > cursor) {
                newSharedRange(cursor, r.startPage);
            }
            cursor = Math.max(cursor, r.endPage);
        }
        if (cursor < toPage) {
            newSharedRange(cursor, toPage);
        }
    }

    private void newSharedRange(long fromPage, long toPage) {
        SharedMemory memory = new SharedMemory();
        pages.forEach(fromPage, toPage, (p, h) -> {
            memory.pages.set(p - fromPage, h);
            pages.set(p, PageStore.NO_PAGE);
        });
        dirty.forEach(fromPage, toPage, p -> memory.dirty.add(p - fromPage));
        dirty.removeRange(fromPage, toPage);
        if (sharedRanges == null) {
            sharedRanges = new TreeMap<>();
        }
        memory.ranges = 1;
        sharedRanges.put(fromPage, new SharedRange(fromPage, toPage, memory, 0));
    }

    // ================================================================ fork

    /**
     * Forks this task: the child's map follows each entry's inheritance — {@code copy} gives it a private
     * copy-on-write copy, {@code share} memory that both tasks see (a write in one shows in the other), {@code none}
     * nothing. Costs O(entries + resident pages); no byte is copied.
     */
    public VmMap fork() {
        lock.writeLock().lock();
        try {
            ensureAlive();
            boolean sharing = false;
            for (VmEntry e : entries.values()) {
                sharing |= e.inheritance == VmInherit.SHARE;
            }
            // Tasks that share memory share a lock: one lock covers the memory they have in common.
            VmMap child = new VmMap(store, flavor, errors, sharing ? lock : new ReentrantReadWriteLock());
            child.nextObjectId = nextObjectId;
            for (VmEntry e : entries.values()) {
                long fromPage = e.start >>> pageShift;
                long toPage = e.end >>> pageShift;
                if (e.inheritance == VmInherit.COPY) {
                    child.adoptEntry(new VmEntry(e.start, e.end, e.protection, e.maxProtection, e.inheritance,
                            e.objectId, e.offset, false));
                    forEachPage(fromPage, toPage, (p, h) -> {
                        store.retain(h);
                        child.pages.set(p, h);
                    });
                } else if (e.inheritance == VmInherit.SHARE) {
                    shareRange(fromPage, toPage);
                    e.shared = true;
                    child.adoptEntry(new VmEntry(e.start, e.end, e.protection, e.maxProtection, e.inheritance,
                            e.objectId, e.offset, true));
                    for (SharedRange r : sharedRangesIn(fromPage, toPage)) {
                        long lo = Math.max(fromPage, r.startPage);
                        long hi = Math.min(toPage, r.endPage);
                        if (child.sharedRanges == null) {
                            child.sharedRanges = new TreeMap<>();
                        }
                        child.sharedRanges.put(lo, new SharedRange(lo, hi, r.memory, r.indexOf(lo)));
                        r.memory.ranges++;
                    }
                }
            }
            simplify(minAddress, maxAddress);
            child.simplify(minAddress, maxAddress);
            return child;
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Adds an entry to a map being built (fork, restore): the range must be free. */
    private void adoptEntry(VmEntry e) {
        entries.put(e.start, e);
        virtualBytes += e.size();
        long holeStart = holes.floorStart(e.start);
        long holeEnd = holeStart + holes.remove(holeStart);
        holes.add(holeStart, e.start - holeStart);
        holes.add(e.end, holeEnd - e.end);
    }

    // ================================================================ snapshot images

    /**
     * Takes a {@link TaskImage} of this task: its entries and its resident pages, referenced so that the image can be
     * written after the lock is released. With {@code clearDirty} the dirty set is cleared at the same instant, so
     * the next dirty query lists exactly what changed after this image. The caller must close the image.
     */
    public TaskImage exportImage(String name, boolean clearDirty) {
        lock.writeLock().lock();
        try {
            ensureAlive();
            List<RegionInfo> regions = new ArrayList<>(entries.size());
            for (VmEntry e : entries.values()) {
                regions.add(e.info());
            }
            LongList indexes = new LongList();
            forEachPage(0, PageTable.MAX_PAGES, (p, h) -> indexes.add(p));
            indexes.sortDistinct();
            long[] pageIndexes = new long[indexes.size()];
            int[] handles = new int[indexes.size()];
            for (int i = 0; i < pageIndexes.length; i++) {
                pageIndexes[i] = indexes.get(i);
                handles[i] = pageAt(pageIndexes[i]);
                store.retain(handles[i]);
            }
            if (clearDirty) {
                clearDirtyLocked();
            }
            return new TaskImage(store, flavor, errors, name, regions, pageIndexes, handles);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Fills a new, unpublished map from a validated image (whose page references it takes over). */
    void restore(List<VmEntry> restoredEntries, LongList pageIndexes, IntList handles) {
        for (VmEntry e : restoredEntries) {
            adoptEntry(e);
        }
        nextObjectId = restoredEntries.size() + 1L;
        for (int i = 0; i < pageIndexes.size(); i++) {
            pages.set(pageIndexes.get(i), handles.get(i));
        }
        simplify(minAddress, maxAddress);
    }

    // ================================================================ durable checkpoints

    /** Writes what {@link #checkpoint} took. */
    @FunctionalInterface
    public interface CheckpointWriter<X extends Exception> {
        void write(MapCheckpoint taken) throws X;
    }

    /**
     * Takes this task's state for an incremental checkpoint and hands it to {@code writer}: the pages changed since the
     * last call (all of them with {@code full}, or on the first call), and every page of each shared memory for which
     * {@code knownMemory} is false. The change set is separate from the dirty bits clients see and clear. Taken under
     * the write lock, which is then let go: the pages handed over are referenced (copy-on-write) so that writers go on
     * while they are written out; when the store lacks the room for the copies this could cause, the read lock is held
     * through the write instead, and writers wait rather than fail.
     *
     * @throws KernException {@code MACH_SEND_INVALID_DEST} when the task has been terminated
     */
    public <X extends Exception> void checkpoint(boolean full, java.util.function.LongPredicate knownMemory,
            CheckpointWriter<X> writer) throws X {
        lock.writeLock().lock();
        boolean writeHeld = true;
        boolean readHeld = false;
        int[] retained = null;
        int retainedCount = 0;
        try {
            ensureAlive();
            List<MapCheckpoint.Entry> taken = new ArrayList<>(entries.size());
            for (VmEntry e : entries.values()) {
                taken.add(new MapCheckpoint.Entry(e.start, e.end, e.protection, e.maxProtection, e.inheritance,
                        e.offset, e.shared));
            }
            List<MapCheckpoint.Range> ranges = new ArrayList<>();
            Map<Long, MapCheckpoint.Pages> memories = new java.util.LinkedHashMap<>();
            MapCheckpoint.Pages own = takePages(pages, full);
            long handles = own.count();
            if (sharedRanges != null) {
                for (SharedRange r : sharedRanges.values()) {
                    ranges.add(new MapCheckpoint.Range(r.startPage, r.endPage, r.memory.id, r.memoryStartPage));
                    if (!memories.containsKey(r.memory.id)) {
                        MapCheckpoint.Pages m = takePages(r.memory.pages, full || !knownMemory.test(r.memory.id));
                        if (m.full() || m.count() > 0) {
                            memories.put(r.memory.id, m);
                            handles += m.count();
                        }
                    }
                }
            }
            MapCheckpoint checkpoint = new MapCheckpoint(flavor, errors, taken, ranges, own, memories);
            if (store.freePages() >= 2 * handles) {
                retained = new int[(int) handles];
                for (MapCheckpoint.Pages p : allPages(checkpoint)) {
                    for (int i = 0; i < p.count(); i++) {
                        if (p.handles()[i] != PageStore.NO_PAGE) {
                            store.retain(p.handles()[i]);
                            retained[retainedCount++] = p.handles()[i];
                        }
                    }
                }
            } else {
                lock.readLock().lock();
                readHeld = true;
            }
            lock.writeLock().unlock();
            writeHeld = false;
            writer.write(checkpoint);
        } finally {
            if (writeHeld) {
                lock.writeLock().unlock();
            }
            if (readHeld) {
                lock.readLock().unlock();
            }
            if (retainedCount > 0) {
                store.releaseAll(retained, retainedCount);
            }
        }
    }

    private static List<MapCheckpoint.Pages> allPages(MapCheckpoint checkpoint) {
        List<MapCheckpoint.Pages> out = new ArrayList<>(1 + checkpoint.memories().size());
        out.add(checkpoint.pages());
        out.addAll(checkpoint.memories().values());
        return out;
    }

    private MapCheckpoint.Pages takePages(PageTable table, boolean full) {
        PageBits changed = table.takeChanges();
        LongList indexes = new LongList();
        IntList handles = new IntList(16);
        if (full || changed == null) {
            table.forEach(0, PageTable.MAX_PAGES, (p, h) -> {
                indexes.add(p);
                handles.add(h);
            });
            full = true;
        } else {
            changed.forEach(0, PageTable.MAX_PAGES, p -> {
                indexes.add(p);
                handles.add(table.get(p));
            });
        }
        int n = indexes.size();
        long[] ids = new long[n];
        long[] idx = new long[n];
        for (int i = 0; i < n; i++) {
            idx[i] = indexes.get(i);
            int h = handles.get(i);
            ids[i] = h == PageStore.NO_PAGE ? 0 : store.contentId(h);
        }
        return new MapCheckpoint.Pages(full, idx, java.util.Arrays.copyOf(handles.array(), n), ids, n);
    }

    /**
     * Builds maps from checkpointed state, all over {@code store}: maps whose ranges name a common shared memory see
     * one memory and share one lock, as after the fork that made them. Takes over one reference to each handle in
     * the maps' own pages and in {@code memories}; the maps come back in the order of {@code states}.
     */
    public static List<VmMap> restoreCheckpointed(PageStore store, List<MapCheckpoint> states,
            Map<Long, MapCheckpoint.Pages> memories) {
        // Maps that see a common memory share a lock: union by memory id.
        int[] parent = new int[states.size()];
        Map<Long, Integer> firstUser = new java.util.HashMap<>();
        for (int i = 0; i < parent.length; i++) {
            parent[i] = i;
        }
        for (int i = 0; i < states.size(); i++) {
            for (MapCheckpoint.Range r : states.get(i).ranges()) {
                Integer other = firstUser.putIfAbsent(r.memoryId(), i);
                if (other != null) {
                    parent[root(parent, i)] = root(parent, other);
                }
            }
        }
        Map<Integer, ReentrantReadWriteLock> locks = new java.util.HashMap<>();
        Map<Long, SharedMemory> shared = new java.util.HashMap<>();
        List<VmMap> out = new ArrayList<>(states.size());
        for (int i = 0; i < states.size(); i++) {
            MapCheckpoint state = states.get(i);
            VmMap map = new VmMap(store, state.flavor(), state.errors(),
                    locks.computeIfAbsent(root(parent, i), k -> new ReentrantReadWriteLock()));
            long objectId = 1;
            for (MapCheckpoint.Entry e : state.entries()) {
                map.adoptEntry(new VmEntry(e.start(), e.end(), e.protection(), e.maxProtection(), e.inheritance(),
                        objectId++, e.offset(), e.shared()));
            }
            map.nextObjectId = objectId;
            MapCheckpoint.Pages own = state.pages();
            for (int k = 0; k < own.count(); k++) {
                map.pages.set(own.indexes()[k], own.handles()[k]);
            }
            for (MapCheckpoint.Range r : state.ranges()) {
                SharedMemory memory = shared.computeIfAbsent(r.memoryId(), id -> {
                    SharedMemory m = new SharedMemory();
                    MapCheckpoint.Pages p = memories.get(id);
                    if (p != null) {
                        for (int k = 0; k < p.count(); k++) {
                            m.pages.set(p.indexes()[k], p.handles()[k]);
                        }
                    }
                    return m;
                });
                memory.ranges++;
                if (map.sharedRanges == null) {
                    map.sharedRanges = new TreeMap<>();
                }
                map.sharedRanges.put(r.startPage(), new SharedRange(r.startPage(), r.endPage(), memory,
                        r.memoryStartPage()));
            }
            map.simplify(map.minAddress, map.maxAddress);
            out.add(map);
        }
        // memories that no restored range names hold pages nobody sees
        for (Map.Entry<Long, MapCheckpoint.Pages> m : memories.entrySet()) {
            if (!shared.containsKey(m.getKey())) {
                store.releaseAll(m.getValue().handles().clone(), m.getValue().count());
            }
        }
        return out;
    }

    private static int root(int[] parent, int i) {
        while (parent[i] != i) {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        return i;
    }

    // ================================================================ page dispositions (dirty pages)

    /** {@code VM_PAGE_QUERY_PAGE_PRESENT}: the page has storage (it is not zero-fill). */
    public static final int PAGE_PRESENT = 0x1;
    /** {@code VM_PAGE_QUERY_PAGE_DIRTY}: written since the last snapshot or {@link #clearDirty()}. */
    public static final int PAGE_DIRTY = 0x8;
    /** {@code VM_PAGE_QUERY_PAGE_COPIED}: the page is shared, copy-on-write or with another task. */
    public static final int PAGE_SHARED = 0x20;
    /** The most pages one {@link #pageDispositions} answers. */
    public static final long MAX_QUERY_PAGES = 1 << 20;

    /**
     * {@code mach_vm_page_range_query}: the disposition of each page of {@code [trunc(address), round(address +
     * size))}; 0 for unmapped or untouched pages.
     */
    public int[] pageDispositions(long address, long size) {
        lock.readLock().lock();
        try {
            ensureAlive();
            if (size == 0) {
                return new int[0];
            }
            long rawEnd = address + size;
            long end = round(rawEnd);
            if (below(rawEnd, address) || end == 0) {
                throw new KernException(KERN_INVALID_ARGUMENT, "range at " + hex(address) + " of " + hex(size)
                        + " bytes wraps around the address space");
            }
            long firstPage = trunc(address) >>> pageShift;
            long count = (end >>> pageShift) - firstPage;
            if (count > MAX_QUERY_PAGES) {
                throw new KernException(KERN_INVALID_ARGUMENT, "a query covers at most " + MAX_QUERY_PAGES
                        + " pages, not " + count);
            }
            int[] out = new int[(int) count];
            for (int i = 0; i < count; i++) {
                long p = firstPage + i;
                VmEntry e = below(p << pageShift, maxAddress) ? entryContaining(p << pageShift) : null;
                if (e == null) {
                    continue;
                }
                int h = pageAt(p);
                int disposition = 0;
                if (h != PageStore.NO_PAGE) {
                    disposition |= PAGE_PRESENT;
                    if (store.isShared(h)) {
                        disposition |= PAGE_SHARED;
                    }
                }
                if (e.shared) {
                    disposition |= PAGE_SHARED;
                }
                if (isDirty(p)) {
                    disposition |= PAGE_DIRTY;
                }
                out[i] = disposition;
            }
            return out;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Forgets which pages were written: the basis of the next incremental snapshot. */
    public void clearDirty() {
        lock.writeLock().lock();
        try {
            ensureAlive();
            clearDirtyLocked();
        } finally {
            lock.writeLock().unlock();
        }
    }

    private void clearDirtyLocked() {
        dirty.removeRange(0, PageTable.MAX_PAGES);
        for (SharedRange r : sharedRangesIn(0, PageTable.MAX_PAGES)) {
            r.memory.dirty.removeRange(r.indexOf(r.startPage), r.indexOf(r.endPage));
        }
    }

    // ================================================================ atomic groups of calls

    /**
     * Runs {@code body} (calls on this map) as one atomic step: other calls on the map wait, and when the body
     * throws, the map is put back exactly as it was before it started. Costs O(entries + resident pages) up front.
     */
    public <T> T atomically(java.util.function.Supplier<T> body) {
        lock.writeLock().lock();
        try {
            ensureAlive();
            Checkpoint checkpoint = new Checkpoint();
            T result;
            try {
                result = body.get();
            } catch (RuntimeException | Error failure) {
                checkpoint.restore();
                throw failure;
            }
            checkpoint.discard();
            return result;
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Everything a map is, with its pages referenced, so that it can be put back. */
    private final class Checkpoint {
        final List<VmEntry> savedEntries = new ArrayList<>();
        final long savedVirtualBytes = virtualBytes;
        final long savedNextObjectId = nextObjectId;
        final PageTable savedPages = new PageTable();
        /** The words of the dirty set ({@link PageBits#words()}). */
        final PageTable savedDirty = new PageTable();
        final List<SharedRange> savedRanges = new ArrayList<>();
        final Map<SharedMemory, PageTable[]> savedMemories = new java.util.IdentityHashMap<>();
        final Map<SharedMemory, Integer> savedRangeCounts = new java.util.IdentityHashMap<>();

        Checkpoint() {
            for (VmEntry e : entries.values()) {
                savedEntries.add(new VmEntry(e.start, e.end, e.protection, e.maxProtection, e.inheritance, e.objectId,
                        e.offset, e.shared));
            }
            retainInto(pages, savedPages);
            dirty.words().forEach(0, PageTable.MAX_PAGES, (w, bits) -> savedDirty.set(w, bits));
            if (sharedRanges != null) {
                for (SharedRange r : sharedRanges.values()) {
                    savedRanges.add(new SharedRange(r.startPage, r.endPage, r.memory, r.memoryStartPage));
                    savedMemories.computeIfAbsent(r.memory, m -> {
                        PageTable memoryPages = new PageTable();
                        PageTable memoryDirty = new PageTable();
                        retainInto(m.pages, memoryPages);
                        m.dirty.words().forEach(0, PageTable.MAX_PAGES, (w, bits) -> memoryDirty.set(w, bits));
                        savedRangeCounts.put(m, m.ranges);
                        return new PageTable[] {memoryPages, memoryDirty};
                    });
                }
            }
        }

        private void retainInto(PageTable from, PageTable to) {
            from.forEach(0, PageTable.MAX_PAGES, (p, h) -> {
                store.retain(h);
                to.set(p, h);
            });
        }

        /** Puts the map back: the saved references replace the current pages. */
        void restore() {
            swapIn(pages, savedPages, true);
            swapIn(dirty.words(), savedDirty, false);
            for (Map.Entry<SharedMemory, PageTable[]> m : savedMemories.entrySet()) {
                swapIn(m.getKey().pages, m.getValue()[0], true);
                swapIn(m.getKey().dirty.words(), m.getValue()[1], false);
                m.getKey().ranges = savedRangeCounts.get(m.getKey());
            }
            if (sharedRanges != null) {
                for (SharedRange r : sharedRanges.values()) {
                    if (!savedMemories.containsKey(r.memory) && --r.memory.ranges == 0) {
                        releaseMemory(r.memory); // not possible today: memory is only created by fork
                    }
                }
            }
            sharedRanges = null;
            for (SharedRange r : savedRanges) {
                if (sharedRanges == null) {
                    sharedRanges = new TreeMap<>();
                }
                sharedRanges.put(r.startPage, r);
            }
            entries.clear();
            virtualBytes = 0;
            holes.clear();
            holes.add(minAddress, maxAddress - minAddress);
            for (VmEntry e : savedEntries) {
                adoptEntry(e);
            }
            virtualBytes = savedVirtualBytes;
            nextObjectId = savedNextObjectId;
        }

        /**
         * Replaces {@code live}'s contents by {@code saved}'s, which it takes over; with {@code handles}, the
         * entries are page references and the replaced ones are released.
         */
        private void swapIn(PageTable live, PageTable saved, boolean handles) {
            IntList released = new IntList(64);
            live.forEach(0, PageTable.MAX_PAGES, (p, h) -> {
                released.add(h);
                live.set(p, PageStore.NO_PAGE);
            });
            saved.forEach(0, PageTable.MAX_PAGES, (p, h) -> live.set(p, h));
            if (handles) {
                store.releaseAll(released.array(), released.size());
            }
        }

        /** The body succeeded: drop the saved references. */
        void discard() {
            releaseTable(savedPages);
            for (PageTable[] saved : savedMemories.values()) {
                releaseTable(saved[0]);
            }
        }

        private void releaseTable(PageTable table) {
            IntList released = new IntList(64);
            table.forEach(0, PageTable.MAX_PAGES, (p, h) -> released.add(h));
            store.releaseAll(released.array(), released.size());
        }
    }

    // ================================================================ helpers

    private void ensureAlive() {
        if (terminated) {
            throw new KernException(MACH_SEND_INVALID_DEST, "the task has been terminated");
        }
    }

    private void ensureAliveLocked() {
        lock.readLock().lock();
        try {
            ensureAlive();
        } finally {
            lock.readLock().unlock();
        }
    }

    private long trunc(long address) {
        return address & ~pageMask;
    }

    /** Rounds up to a page boundary; 0 when that wraps past 2^64. */
    private long round(long address) {
        return (address + pageMask) & ~pageMask;
    }

    private static boolean below(long a, long b) {
        return Long.compareUnsigned(a, b) < 0;
    }

    private static boolean above(long a, long b) {
        return Long.compareUnsigned(a, b) > 0;
    }

    static String hex(long value) {
        return "0x" + Long.toHexString(value);
    }
}
