package io.machvm.vm;

import static io.machvm.vm.KernReturn.KERN_INVALID_ADDRESS;
import static io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT;
import static io.machvm.vm.KernReturn.KERN_NO_SPACE;
import static io.machvm.vm.KernReturn.KERN_PROTECTION_FAILURE;
import static io.machvm.vm.KernReturn.KERN_RESOURCE_SHORTAGE;
import static io.machvm.vm.KernReturn.MACH_SEND_INVALID_DEST;

import io.machvm.store.Budget;
import io.machvm.store.PageStore;
import io.machvm.store.StoreExhaustedException;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
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
    static final int STREAM_CHUNK = 64 * 1024;
    private static final long MAX_READ_SIZE = 0xFFFF_FFFFL;
    static final int[] NO_HANDLES = new int[0];

    final PageStore store;
    final Flavor flavor;
    final ErrorModel errors;
    final int pageSize;
    final int pageShift;
    final long pageMask;
    final long minAddress;
    final long maxAddress;

    /** This map's lock; maps that share memory (fork with inheritance share) share one lock. */
    final ReentrantReadWriteLock lock;
    final TreeMap<Long, VmEntry> entries = new TreeMap<>();
    /** This map's private pages. Pages of shared ranges live in their {@link SharedMemory} instead. */
    final PageTable pages = new PageTable();
    /** Private pages written since the last {@link #clearDirty()} (value 1). */
    final PageBits dirty = new PageBits();
    /** Page ranges backed by memory shared with other tasks, by first page; null while there are none. */
    TreeMap<Long, SharedRange> sharedRanges;
    long virtualBytes;
    long nextObjectId = 1;
    /** The unmapped ranges of [minAddress, maxAddress), for first-fit allocation in O(log holes). */
    final HoleIndex holes = new HoleIndex();
    private boolean terminated;
    /** What this map may hold: see {@link MapBudgets}. */
    final MapBudgets budgets;
    /** Entries, nodes of {@link #pages} and {@link #dirty}, and bytes of private pages this map has charged. */
    final Charge entryCharge;
    final Charge nodeCharge;
    final Charge byteCharge;
    /** Streamed writes in progress; their pages are freed when the map terminates. */
    private final Set<Upload> uploads = ConcurrentHashMap.newKeySet();
    /** Writes and copies into this map. */
    final CopyEngine copier = new CopyEngine(this);

    /** A map whose budgets never refuse. */
    public VmMap(PageStore store, Flavor flavor, ErrorModel errors) {
        this(store, flavor, errors, MapBudgets.unlimited());
    }

    /** A map drawing its entries, page-table nodes and resident bytes from {@code budgets}. */
    public VmMap(PageStore store, Flavor flavor, ErrorModel errors, MapBudgets budgets) {
        this(store, flavor, errors, budgets, new ReentrantReadWriteLock());
    }

    VmMap(PageStore store, Flavor flavor, ErrorModel errors, MapBudgets budgets,
            ReentrantReadWriteLock lock) {
        this.lock = lock;
        this.budgets = budgets;
        this.entryCharge = new Charge(budgets.entries(), "map entries");
        this.nodeCharge = new Charge(budgets.pageTableNodes(), "page-table nodes");
        this.byteCharge = new Charge(budgets.residentBytes(), "bytes");
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
                entryCharge.raise(1);
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
            boolean overlaps = overlapsAny(start, end);
            if (overlaps && (flags & VmFlags.OVERWRITE) == 0) {
                throw new KernException(KERN_NO_SPACE, "range [" + hex(start) + ", " + hex(end)
                        + ") overlaps existing memory");
            }
            entryCharge.raise(1 + (overlaps ? entriesAddedByRemoving(start, end) : 0));
            if (overlaps) {
                removeRange(start, end);
            }
            insertNew(start, end);
            return start;
        } finally {
            settle();
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
            entryCharge.raise(entriesAddedByRemoving(start, end));
            removeRange(start, end);
        } finally {
            settle();
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
            for (Upload upload : uploads) {
                upload.cancel();
            }
            settle();
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
            entryCharge.raise(entriesAddedBySplitting(start, end));
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
            settle();
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
            entryCharge.raise(entriesAddedBySplitting(start, end));
            for (VmEntry e : splitRange(start, end)) {
                e.inheritance = inheritance;
            }
            simplify(start, end);
        } finally {
            settle();
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

    void checkWritable(long address, long size) {
        checkWritable(address, size, this);
    }

    /**
     * Destination rules of a transfer made by a call on {@code caller}: its flavor's S and its error model chose the
     * transfer path (XNU decides it when copying the source in), and the path decides the protection code.
     */
    void checkWritable(long address, long size, VmMap caller) {
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
            copier.writeLocked(address, data, offset, length);
        } finally {
            settle();
            lock.writeLock().unlock();
        }
    }

    public void write(long address, byte[] data) {
        write(address, data, 0, data.length);
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
                throw copier.transferLimit(declaredLength, maxLength);
            }
        }
        Upload upload = openUpload();
        try {
            long total = copier.streamIntoFreshPages(address, source, declaredLength, maxLength, upload);
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
                IntList fresh = upload.pages();
                int count = fresh.size();
                PageGrowth growth = new PageGrowth(this);
                growth.range(firstPage, firstPage + count);
                upload.uncharge(); // the map's charge takes the pages over
                growth.reserve();
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
                settle();
                lock.writeLock().unlock();
            }
            store.releaseAll(replaced, replaced.length);
            return total;
        } finally {
            upload.close();
        }
    }

    /** Registers a streamed write on a live map, so that terminating the map frees the pages it holds. */
    private Upload openUpload() {
        lock.readLock().lock();
        try {
            ensureAlive();
            return new Upload(store, budgets.residentBytes(), pageSize, uploads);
        } finally {
            lock.readLock().unlock();
        }
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
                    : copier.capture(source, size);
            try {
                return copier.applyCopy(capture, dest);
            } finally {
                capture.release();
            }
        } finally {
            settle();
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
                capture = source.copier.capture(address, size);
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
                long shared = dest.copier.applyCopy(capture, destAddress);
                if (sharedBytes != null) {
                    sharedBytes.accept(shared);
                }
            }
            return size;
        } finally {
            dest.settle();
            dest.lock.writeLock().unlock();
            if (capture != null) {
                capture.release();
            }
        }
    }

    // ================================================================ entries

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

    /** Entries that {@link #splitRange} of {@code [start, end)} adds: one for each end inside an entry. */
    private int entriesAddedBySplitting(long start, long end) {
        VmEntry first = entryContaining(start);
        VmEntry last = below(end, maxAddress) ? entryContaining(end) : null;
        return (first != null && first.start != start ? 1 : 0) + (last != null && last.start != end ? 1 : 0);
    }

    /** Entries that {@link #removeRange} of {@code [start, end)} adds: one when a single entry holds it inside. */
    private int entriesAddedByRemoving(long start, long end) {
        VmEntry e = entryContaining(start);
        return e != null && e.start != start && Long.compareUnsigned(e.end, end) > 0 ? 1 : 0;
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
    void simplify(long start, long end) {
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

    /** Settles every charge of this map and of the memory it shares to what they hold now. */
    void settle() {
        entryCharge.settle(entries.size());
        nodeCharge.settle(pages.nodes() + dirty.words().nodes());
        byteCharge.settle(pages.population() * pageSize);
        if (sharedRanges != null) {
            for (SharedRange r : sharedRanges.values()) {
                r.memory.settle();
            }
        }
    }

    SharedRange sharedRangeAt(long page) {
        Map.Entry<Long, SharedRange> floor = sharedRanges.floorEntry(page);
        return floor != null && floor.getValue().endPage > page ? floor.getValue() : null;
    }

    /** The handle of a page, private or shared. */
    int pageAt(long page) {
        if (sharedRanges == null) {
            return pages.get(page);
        }
        SharedRange r = sharedRangeAt(page);
        return r == null ? pages.get(page) : r.memory.pages.get(r.indexOf(page));
    }

    /** Installs new content for a page, marking it dirty; returns the handle it replaces. */
    int replacePage(long page, int handle) {
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

    void markDirty(long page) {
        if (sharedRanges != null) {
            SharedRange r = sharedRangeAt(page);
            if (r != null) {
                r.memory.dirty.add(r.indexOf(page));
                return;
            }
        }
        dirty.add(page);
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
    List<SharedRange> sharedRangesIn(long fromPage, long toPage) {
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
    void forEachPage(long fromPage, long toPage, PageTable.PageVisitor visitor) {
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

    void releaseMemory(SharedMemory memory) {
        IntList released = new IntList(64);
        memory.pages.forEach(0, PageTable.MAX_PAGES, (q, h) -> {
            released.add(h);
            memory.pages.set(q, PageStore.NO_PAGE);
        });
        store.releaseAll(released.array(), released.size());
        memory.dirty.removeRange(0, PageTable.MAX_PAGES);
        memory.settle();
    }

    /** Moves the private pages of {@code [fromPage, toPage)} not yet shared into new shared memory. */
    void shareRange(long fromPage, long toPage) {
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
        SharedMemory memory = new SharedMemory(budgets, pageSize);
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
     * nothing. Costs O(entries + resident pages); no byte is copied. The child's budgets never refuse.
     */
    public VmMap fork() {
        return fork(MapBudgets.unlimited());
    }

    /**
     * Forks this task as {@link #fork()}, the child drawing from {@code childBudgets}.
     *
     * @param childBudgets what the child draws from; its share of them is taken before anything changes
     * @throws KernException {@code KERN_RESOURCE_SHORTAGE} when the child's budgets cannot hold a copy of this map;
     *                       then nothing changed. A failure while the child is built (even an {@link Error}) gives
     *                       back every page reference the child took.
     */
    public VmMap fork(MapBudgets childBudgets) {
        return MapFork.fork(this, childBudgets);
    }

    /** Adds an entry to a map being built (fork, restore): the range must be free. */
    void adoptEntry(VmEntry e) {
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
        return MapImages.exportImage(this, name, clearDirty);
    }

    // ================================================================ page dispositions (dirty pages)

    /** {@code VM_PAGE_QUERY_PAGE_PRESENT}: the page has storage (it is not zero-fill). */
    public static final int PAGE_PRESENT = PageDisposition.PRESENT;
    /** {@code VM_PAGE_QUERY_PAGE_DIRTY}: written since the last snapshot or {@link #clearDirty()}. */
    public static final int PAGE_DIRTY = PageDisposition.DIRTY;
    /** {@code VM_PAGE_QUERY_PAGE_COPIED}: the page is shared, copy-on-write or with another task. */
    public static final int PAGE_SHARED = PageDisposition.SHARED;
    /** The most pages one {@link #pageDispositions} answers. */
    public static final long MAX_QUERY_PAGES = PageDisposition.MAX_QUERY_PAGES;

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
            settle();
            lock.writeLock().unlock();
        }
    }

    void clearDirtyLocked() {
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
            MapCheckpoint checkpoint = new MapCheckpoint(this);
            checkpoint.charge();
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
            settle();
            lock.writeLock().unlock();
        }
    }

    // ================================================================ helpers

    void ensureAlive() {
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
