package io.machvm.vm;

import static io.machvm.vm.KernReturn.KERN_INVALID_ADDRESS;
import static io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT;
import static io.machvm.vm.KernReturn.KERN_NO_SPACE;
import static io.machvm.vm.KernReturn.KERN_PROTECTION_FAILURE;
import static io.machvm.vm.KernReturn.MACH_SEND_INVALID_DEST;

import io.machvm.store.PageStore;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
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
    static final int[] NO_HANDLES = new int[0];

    final PageStore store;
    final Flavor flavor;
    final ErrorModel errors;
    final int pageSize;
    final int pageShift;
    final long pageMask;
    final long minAddress;
    final long maxAddress;
    /** {@code [minAddress, maxAddress)}. */
    final VmRange bounds;

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
    final Set<Upload> uploads = ConcurrentHashMap.newKeySet();
    /** Writes and copies into this map. */
    final CopyEngine copier = new CopyEngine(this);
    /** Where this map's pages live. */
    final MapPages pager = new MapPages(this);
    /** Lookup, clipping and simplification of this map's entries. */
    final MapEntries entryList = new MapEntries(this);
    /** The one guard of this map's calls that change it: see {@link #changing()}. */
    private final Change change = new Change();

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
        this.bounds = new VmRange(minAddress, maxAddress);
        holes.add(minAddress, bounds.size());
    }

    public Flavor flavor() {
        return flavor;
    }

    public ErrorModel errors() {
        return errors;
    }

    // ================================================================ vm_allocate / vm_deallocate

    /**
     * {@code vm_allocate}: maps zero-filled memory ({@code rw-}, max {@code rwx}, inheritance copy).
     *
     * @return the address of the new memory (0 for size 0)
     */
    public long allocate(long address, long size, int flags) {
        return update(() -> {
            if ((flags & ~VmFlags.USER_ALLOCATE_MASK) != 0) {
                throw new KernException(KERN_INVALID_ARGUMENT, "flags " + hex(flags & 0xFFFF_FFFFL)
                        + " have bits outside VM_FLAGS_USER_ALLOCATE (0xff07509f)");
            }
            if (size == 0) {
                return 0L;
            }
            if ((flags & VmFlags.ANYWHERE) != 0) {
                long roundedSize = VmSanitize.anywhereSize(size, pageSize);
                VmRange placed = entryList.findSpace(roundedSize);
                if (placed == null) {
                    throw new KernException(KERN_NO_SPACE, "no free range of " + hex(roundedSize) + " bytes in "
                            + bounds);
                }
                entryCharge.raise(1);
                entryList.insertNew(placed);
                return placed.start();
            }
            VmRange range = VmSanitize.addrSize(VmSanitize.Caller.VM_ALLOCATE_FIXED, address, size, pageSize);
            if (below(range.start(), minAddress) || above(range.end(), maxAddress)) {
                throw new KernException(KERN_INVALID_ADDRESS, "range " + range + " is outside the map " + bounds);
            }
            boolean overlaps = entryList.overlapsAny(range);
            if (overlaps && (flags & VmFlags.OVERWRITE) == 0) {
                throw new KernException(KERN_NO_SPACE, "range " + range + " overlaps existing memory");
            }
            entryCharge.raise(1 + (overlaps ? entryList.entriesAddedByRemoving(range) : 0));
            if (overlaps) {
                entryList.removeRange(range);
            }
            entryList.insertNew(range);
            return range.start();
        });
    }

    /** {@code vm_deallocate}: unmaps {@code [trunc(address), round(address + size))}; holes are fine. */
    public void deallocate(long address, long size) {
        updateVoid(() -> {
            if (size == 0) {
                return;
            }
            VmRange range = VmSanitize.addrSize(VmSanitize.Caller.VM_DEALLOCATE, address, size, pageSize);
            if (below(range.start(), minAddress) || above(range.end(), maxAddress)) {
                return; // outside the map: nothing to remove, as XNU
            }
            entryCharge.raise(entryList.entriesAddedByRemoving(range));
            entryList.removeRange(range);
        });
    }

    /** Unmaps every entry and releases every page; later calls fail with {@code MACH_SEND_INVALID_DEST}. */
    public void terminate() {
        try (Change call = changingEvenIfTerminated()) {
            if (terminated) {
                call.settlesNothing();
                return;
            }
            terminated = true;
            entries.clear();
            virtualBytes = 0;
            pager.releasePages(0, PageTable.MAX_PAGES);
            for (Upload upload : uploads) {
                upload.cancel();
            }
        }
    }

    // ================================================================ vm_protect / vm_inherit

    /** {@code vm_protect}: sets the current or (with {@code setMaximum}) the maximum protection of whole pages. */
    public void protect(long address, long size, boolean setMaximum, int protection) {
        updateVoid(() -> {
            if (size == 0) {
                return;
            }
            if ((protection & ~VmProt.PROTECT_MASK) != 0) {
                throw new KernException(KERN_INVALID_ARGUMENT, "protection " + hex(protection & 0xFFFF_FFFFL)
                        + " has bits outside READ|WRITE|EXECUTE|COPY (0x17)");
            }
            VmRange range = VmSanitize.attributeRange(address, size, pageSize, maxAddress);
            int newProt = protection & VmProt.ALL;
            boolean copy = (protection & VmProt.COPY) != 0;
            // First pass: every problem is found before anything changes.
            entryList.checkMapped(range, e -> {
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
            });
            // Second pass.
            entryCharge.raise(entryList.entriesAddedBySplitting(range));
            for (VmEntry e : entryList.splitRange(range)) {
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
            entryList.simplify(range);
        });
    }

    /** {@code vm_inherit}: sets what a forked child receives of whole pages. */
    public void inherit(long address, long size, VmInherit inheritance) {
        updateVoid(() -> {
            if (inheritance == null) {
                throw new KernException(KERN_INVALID_ARGUMENT, "inheritance must be share (0), copy (1) or none (2)");
            }
            if (size == 0) {
                return;
            }
            VmRange range = VmSanitize.attributeRange(address, size, pageSize, maxAddress);
            entryList.checkMapped(range);
            entryCharge.raise(entryList.entriesAddedBySplitting(range));
            for (VmEntry e : entryList.splitRange(range)) {
                e.inheritance = inheritance;
            }
            entryList.simplify(range);
        });
    }


    // ================================================================ vm_region

    /** {@code vm_region}: the entry containing {@code trunc(address)}, or the next one above it. */
    public RegionInfo region(long address) {
        return query(() -> {
            VmEntry e = entryList.entryAtOrAbove(trunc(address));
            if (e == null) {
                throw new KernException(KERN_INVALID_ADDRESS, "no region at or above " + hex(address));
            }
            return e.info();
        });
    }

    /** Every entry in address order (the region walk). */
    public List<RegionInfo> regions() {
        return query(() -> entryList.regions(entries.values(), Integer.MAX_VALUE));
    }

    /**
     * A chunk of the region walk: up to {@code max} entries in address order, the first of them the first entry that
     * starts at or above {@code address}. The chunk is consistent at one instant (it is taken under the read lock);
     * a walk that continues from the end of the chunk's last entry sees each chunk at its own instant, as a Mach tool
     * calling {@code vm_region} repeatedly does.
     */
    public List<RegionInfo> regions(long address, int max) {
        if (max <= 0) {
            throw new IllegalArgumentException("max must be positive: " + max);
        }
        return query(() -> entryList.regions(entries.tailMap(address, true).values(), max));
    }

    public int regionCount() {
        return observe(() -> {
            return entries.size();
        });
    }

    public long virtualBytes() {
        return observe(() -> {
            return virtualBytes;
        });
    }

    public long residentPages() {
        return observe(pager::residentPages);
    }

    /** The store this map's pages live in. */
    public PageStore store() {
        return store;
    }

    // ================================================================ vm_read

    /** {@code vm_read} into a new array; for transfers the caller knows to be small. */
    public byte[] read(long address, long size) {
        return query(() -> {
            if (size == 0) {
                return new byte[0];
            }
            VmRange source = VmSanitize.readRange(address, size);
            copier.checkReadable(source);
            if (size > Integer.MAX_VALUE - 16) {
                throw new IllegalArgumentException("read of " + size + " bytes does not fit in an array");
            }
            byte[] out = new byte[(int) size];
            copier.copyOut(source, out, 0);
            return out;
        });
    }

    /** {@code vm_read} into {@code dst[dstOffset, dstOffset + length)}: the checks of {@link #read(long, long)}. */
    public void read(long address, byte[] dst, int dstOffset, int length) {
        java.util.Objects.checkFromIndexSize(dstOffset, length, dst.length);
        query(() -> {
            if (length > 0) {
                VmRange source = VmSanitize.readRange(address, length);
                copier.checkReadable(source);
                copier.copyOut(source, dst, dstOffset);
            }
            return null;
        });
    }

    /**
     * {@code vm_read} as a snapshot: references the pages of the range so that the caller can stream them after the
     * lock is released; later writes to the task do not change it. The caller must close it.
     */
    public PageSnapshot snapshot(long address, long size) {
        return query(() -> {
            if (size == 0) {
                return new PageSnapshot(store, NO_HANDLES, 0, 0);
            }
            VmRange source = VmSanitize.readRange(address, size);
            copier.checkReadable(source);
            return copier.snapshot(source);
        });
    }

    // ================================================================ vm_write

    /** {@code vm_write} of bytes already in memory: validated, then written in place (copy-on-write where shared). */
    public void write(long address, byte[] data, int offset, int length) {
        // The skeleton without a lambda: the write into a page already private and dirty allocates nothing and, having
        // grown nothing, settles nothing.
        try (Change call = changing()) {
            if (length == 0) {
                call.settlesNothing();
                return;
            }
            VmRange dest = VmSanitize.copyRange("destination", address, length);
            copier.checkWritable(dest, this);
            if (copier.writeInPlace(dest, data, offset, length)) {
                call.settlesNothing();
                return;
            }
            copier.overwrite(Capture.buffer(data, offset, length), dest);
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
        return Upload.write(this, address, source, declaredLength, maxLength);
    }

    // ================================================================ vm_copy / vm_read_overwrite

    /**
     * {@code vm_copy} within this task: as if the source were read first (memmove), shared copy-on-write.
     *
     * @return the bytes that were shared copy-on-write rather than moved
     */
    public long copy(long source, long size, long dest) {
        return update(() -> {
            if (size == 0) {
                return 0L;
            }
            VmRange from = VmSanitize.copyRange("source", source, size);
            copier.checkReadable(from);
            VmRange to = VmSanitize.copyRange("destination", dest, size);
            copier.checkWritable(to, this);
            if (source == dest) {
                return 0L;
            }
            Capture capture = copier.copyin(from, to);
            try {
                return copier.overwrite(capture, to);
            } finally {
                capture.release();
            }
        });
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
        return CopyEngine.readOverwrite(source, address, size, dest, destAddress, sharedBytes);
    }

    // ================================================================ budgets

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

    // ================================================================ snapshot images

    /**
     * Takes a {@link TaskImage} of this task: its entries and its resident pages, referenced so that the image can be
     * written after the lock is released. With {@code clearDirty} the dirty set is cleared at the same instant, so
     * the next dirty query lists exactly what changed after this image. The caller must close the image.
     */
    public TaskImage exportImage(String name, boolean clearDirty) {
        return MapImages.exportImage(this, name, clearDirty);
    }

    // ================================================================ durable checkpoints

    /** Takes this task's state for an incremental checkpoint and hands it to {@code writer}: see {@link Checkpoints}. */
    public <X extends Exception> void checkpoint(boolean full, java.util.function.LongPredicate knownMemory,
            Checkpoints.Writer<X> writer) throws X {
        Checkpoints.take(this, full, knownMemory, writer);
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
        return query(() -> {
            if (size == 0) {
                return new int[0];
            }
            return pager.dispositions(VmSanitize.pageQueryRange(address, size, pageSize));
        });
    }

    /** Forgets which pages were written: the basis of the next incremental snapshot. */
    public void clearDirty() {
        updateVoid(pager::clearDirty);
    }

    // ================================================================ atomic groups of calls

    /**
     * Runs {@code body} (calls on this map) as one atomic step: other calls on the map wait, and when the body
     * throws, the map is put back exactly as it was before it started. Costs O(entries + resident pages) up front.
     */
    public <T> T atomically(java.util.function.Supplier<T> body) {
        return update(() -> MapCheckpoint.around(this, body));
    }

    // ================================================================ the operation skeleton

    /** A call's body, run under the map's lock. */
    @FunctionalInterface
    interface Body<T> {
        T run();
    }

    /** A call's body that answers nothing. */
    @FunctionalInterface
    interface Action {
        void run();
    }

    /**
     * The skeleton of the calls that change the map: the write lock, the check that the task is alive, the body (which
     * sanitizes its arguments, validates the whole range and only then changes anything), and, whatever the body did,
     * the budgets settled to what the map holds.
     */
    <T> T update(Body<T> body) {
        try (Change call = changing()) {
            return body.run();
        }
    }

    /**
     * One call that changes the map, as a resource: {@link #changing()} takes the write lock, and closing it settles
     * the budgets to what the map holds and unlocks. Written as {@code try (Change call = changing()) { ... }} it is
     * {@link #update}'s skeleton without a lambda, for the calls that must not allocate ({@code vm_write}). One per
     * map, reused by every call: the lock is reentrant, and a call's only state here is {@link #settlesNothing}, which
     * the close resets.
     */
    final class Change implements AutoCloseable {
        private boolean settlesNothing;

        private Change() {
        }

        /**
         * Tells the close that the budgets stay as they are: nothing they count grew (a write in place), or what the
         * call raised is a reservation for what comes next ({@link MapImages#reserveForRestore}).
         */
        void settlesNothing() {
            settlesNothing = true;
        }

        @Override
        public void close() {
            if (!settlesNothing) {
                settle();
            }
            settlesNothing = false;
            lock.writeLock().unlock();
        }
    }

    /**
     * Begins a call that changes the map: the write lock and the check that the task is alive.
     *
     * @throws KernException {@code MACH_SEND_INVALID_DEST}, with the lock released, when the task has been terminated
     */
    Change changing() {
        Change call = changingEvenIfTerminated();
        try {
            ensureAlive();
        } catch (KernException dead) {
            call.close();
            throw dead;
        }
        return call;
    }

    /** Begins a call that changes the map whether or not the task is alive ({@link #terminate}, a restore). */
    Change changingEvenIfTerminated() {
        lock.writeLock().lock();
        return change;
    }

    private void updateVoid(Action body) {
        update(() -> {
            body.run();
            return null;
        });
    }

    /** The skeleton of a call that only reads the map: the read lock and the check that the task is alive. */
    <T> T query(Body<T> body) {
        return observe(() -> {
            ensureAlive();
            return body.run();
        });
    }

    /** Reads under the read lock, dead or alive (statistics). */
    private <T> T observe(Body<T> body) {
        lock.readLock().lock();
        try {
            return body.run();
        } finally {
            lock.readLock().unlock();
        }
    }

    // ================================================================ helpers

    void ensureAlive() {
        if (terminated) {
            throw new KernException(MACH_SEND_INVALID_DEST, "the task has been terminated");
        }
    }

    void ensureAliveLocked() {
        query(() -> null);
    }

    long trunc(long address) {
        return address & ~pageMask;
    }

    /** Rounds up to a page boundary; 0 when that wraps past 2^64. */
    long round(long address) {
        return (address + pageMask) & ~pageMask;
    }

    static boolean below(long a, long b) {
        return Long.compareUnsigned(a, b) < 0;
    }

    static boolean above(long a, long b) {
        return Long.compareUnsigned(a, b) > 0;
    }

    static String hex(long value) {
        return "0x" + Long.toHexString(value);
    }
}
