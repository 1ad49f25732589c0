package io.machvm.store;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.BitSet;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Off-heap pages of one size in direct {@link ByteBuffer} slabs, named by {@code int} handles and shared by
 * reference count (copy-on-write). Handle {@link #NO_PAGE} is the zero-fill page: it has no storage and reads as
 * zeros. Slabs are allocated lazily from a {@link StoreCapacity}. A slab that holds no page is kept for reuse while
 * the store has at least as many slabs in use (so a large rewrite, which fills fresh pages before it frees the old
 * ones, does not give slabs back only to allocate and zero them again), and given back otherwise: direct memory
 * follows the resident set down to nothing. A store that needs capacity another store keeps in empty slabs makes it
 * give them back first.
 *
 * <p>Thread-safe. Reference counts are atomic; slot allocation and release take one short lock per batch.
 */
public final class PageStore {
    /** The handle of the zero-fill page. */
    public static final int NO_PAGE = 0;

    private static final VarHandle REFS = MethodHandles.arrayElementVarHandle(int[].class);

    private final int pageSize;
    private final int pageShift;
    private final int slotBits;
    private final int slotMask;
    private final long slabBytes;
    private final StoreCapacity capacity;
    /**
     * Slabs by index. Replaced by a longer copy (under {@link #lock}) when every index is taken: a store that shares
     * its capacity can end up with more, smaller slabs than capacity / slab size.
     */
    private volatile AtomicReferenceArray<Slab> slabs;
    private final ReentrantLock lock = new ReentrantLock();
    /** Slabs that have a free or never-used slot; guarded by {@link #lock}. */
    private final BitSet slabsWithRoom = new BitSet();
    /** Free plus never-used slots in existing slabs; guarded by {@link #lock}. */
    private long slotsWithRoom;
    private final AtomicLong residentPages = new AtomicLong();
    /** Shared by every store in the process, so that a content id names one page whichever store holds it. */
    private static final AtomicLong LAST_CONTENT_ID = new AtomicLong();
    /** Bytes of one slot's content id. */
    private static final int CONTENT_ID_BYTES = Long.BYTES;
    private final AtomicLong sharedPages = new AtomicLong();
    private final AtomicLong slabCount = new AtomicLong();
    /** Slabs that hold no page, kept for reuse; guarded by {@link #lock}. */
    private final BitSet emptySlabs = new BitSet();
    private int emptySlabCount;
    private long emptySlabBytes;
    private final ByteBuffer zeroPage;

    private static final class Slab {
        final ByteBuffer bytes;
        final long sizeBytes;
        final int slots;
        final int[] refs;
        /**
         * Each slot's content id ({@link #contentId}), {@value #CONTENT_ID_BYTES} bytes a slot, off the heap like the
         * pages themselves; written by the page's exclusive writer.
         */
        final ByteBuffer contentIds;
        final int[] freeSlots;
        int freeTop;
        int neverUsed;
        int used;

        Slab(ByteBuffer bytes, ByteBuffer contentIds, long sizeBytes, int slots) {
            this.bytes = bytes;
            this.sizeBytes = sizeBytes;
            this.slots = slots;
            this.refs = new int[slots];
            this.contentIds = contentIds;
            this.freeSlots = new int[slots];
            this.neverUsed = 0;
        }

        int room() {
            return freeTop + (slots - neverUsed);
        }
    }

    /**
     * @param pageSize  bytes per page, a power of two
     * @param slabBytes bytes per slab, a power-of-two multiple of the page size
     * @param capacity  the budget slabs are drawn from (shared with other stores)
     */
    public PageStore(int pageSize, long slabBytes, StoreCapacity capacity) {
        if (pageSize < 512 || Integer.bitCount(pageSize) != 1) {
            throw new IllegalArgumentException("page size must be a power of two >= 512: " + pageSize);
        }
        if (slabBytes < pageSize || Long.bitCount(slabBytes) != 1 || slabBytes > (1L << 30)) {
            throw new IllegalArgumentException(
                    "slab size must be a power of two between the page size and 1 GiB: " + slabBytes);
        }
        this.pageSize = pageSize;
        this.pageShift = Integer.numberOfTrailingZeros(pageSize);
        this.slabBytes = slabBytes;
        this.slotBits = Long.numberOfTrailingZeros(slabBytes) - pageShift;
        this.slotMask = (1 << slotBits) - 1;
        this.capacity = capacity;
        long maxSlabs = (capacity.capacityBytes() + slabBytes - 1) / slabBytes;
        // Handles are positive ints: handle = (slab << slotBits | slot) + 1.
        if (maxSlabs > (Integer.MAX_VALUE >> slotBits)) {
            throw new IllegalArgumentException("capacity " + capacity.capacityBytes()
                    + " needs more than 2^31 pages of " + pageSize + " bytes");
        }
        this.slabs = new AtomicReferenceArray<>((int) maxSlabs);
        this.zeroPage = ByteBuffer.allocateDirect(pageSize);
        capacity.register(this);
    }

    public int pageSize() {
        return pageSize;
    }

    public StoreCapacity capacity() {
        return capacity;
    }

    /** Pages with at least one reference. */
    public long residentPages() {
        return residentPages.get();
    }

    /** Pages with two or more references (shared copy-on-write). */
    public long sharedPages() {
        return sharedPages.get();
    }

    /**
     * Pages that could still be handed out: free slots in this store's slabs, plus what the budget still allows,
     * counting the empty slabs other stores keep (they give them back on demand).
     */
    public long freePages() {
        lock.lock();
        try {
            return roomLocked(true);
        } finally {
            lock.unlock();
        }
    }

    private long roomLocked(boolean withOthersEmptySlabs) {
        long budget = capacity.remainingBytes();
        if (withOthersEmptySlabs) {
            budget += capacity.emptySlabBytes() - emptySlabBytes;
        }
        return slotsWithRoom + budget / pageSize;
    }

    /** Slabs currently allocated, empty ones kept for reuse included. */
    public long slabCount() {
        return slabCount.get();
    }

    /** Slabs that hold no page and are kept for reuse. */
    public int emptySlabCount() {
        lock.lock();
        try {
            return emptySlabCount;
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- allocation

    /** Allocates one page holding zeros, with reference count 1. */
    public int allocateZeroed() {
        int[] one = new int[1];
        allocate(one, 0, 1, true);
        return one[0];
    }

    /**
     * Allocates {@code count} pages into {@code out[offset..]}, each with reference count 1; all or nothing.
     *
     * @param zeroed whether the pages must read as zeros (otherwise their content is unspecified and the caller
     *               overwrites all of it)
     * @throws StoreExhaustedException when the capacity cannot supply them; nothing is then allocated
     */
    public void allocate(int[] out, int offset, int count, boolean zeroed) {
        if (count == 0) {
            return;
        }
        for (boolean reclaimed = false; ; reclaimed = true) {
            lock.lock();
            try {
                if (roomLocked(true) < count) {
                    throw exhausted(count);
                }
                if (roomLocked(false) >= count && takeLocked(out, offset, count, zeroed)) {
                    break;
                }
                if (reclaimed) {
                    throw exhausted(count); // what other stores gave back was taken meanwhile
                }
            } finally {
                lock.unlock();
            }
            // Not under this store's lock: another store may be asking this one at the same time.
            capacity.reclaimEmptySlabs(this);
        }
        residentPages.addAndGet(count);
    }

    /** Takes {@code count} slots, or none (returning false) when a new slab cannot be had. */
    private boolean takeLocked(int[] out, int offset, int count, boolean zeroed) {
        int taken = 0;
        while (taken < count) {
            int slabIndex = slabsWithRoom.nextSetBit(0);
            if (slabIndex < 0) {
                slabIndex = newSlab();
                if (slabIndex < 0) {
                    break;
                }
            }
            Slab slab = slabs.get(slabIndex);
            if (emptySlabs.get(slabIndex)) {
                markInUse(slabIndex, slab);
            }
            while (taken < count && slab.room() > 0) {
                int slot;
                boolean clean;
                if (slab.freeTop > 0) {
                    slot = slab.freeSlots[--slab.freeTop];
                    clean = false;
                } else {
                    slot = slab.neverUsed++;
                    clean = true;
                }
                slab.used++;
                slotsWithRoom--;
                REFS.setRelease(slab.refs, slot, 1);
                slab.contentIds.putLong(slot * CONTENT_ID_BYTES, LAST_CONTENT_ID.incrementAndGet());
                if (zeroed && !clean) {
                    slab.bytes.put(slot << pageShift, zeroPage, 0, pageSize);
                }
                out[offset + taken++] = ((slabIndex << slotBits) | slot) + 1;
            }
            if (slab.room() == 0) {
                slabsWithRoom.clear(slabIndex);
            }
        }
        if (taken < count) {
            for (int i = 0; i < taken; i++) {
                freeLocked(out[offset + i]);
            }
            return false;
        }
        return true;
    }

    private StoreExhaustedException exhausted(int count) {
        return new StoreExhaustedException("page store exhausted: " + count + " more page(s) of " + pageSize
                + " bytes do not fit in the capacity of " + capacity.capacityBytes() + " bytes");
    }

    /** Creates a slab at the lowest free index; returns its index, or -1 when the budget or direct memory is out. */
    private int newSlab() {
        int index = freeSlabIndex();
        if (index < 0) {
            return -1;
        }
        long grant = capacity.reserveUpTo(slabBytes, pageSize);
        if (grant == 0) {
            return -1;
        }
        int slots = (int) (grant >> pageShift);
        ByteBuffer bytes;
        ByteBuffer contentIds;
        try {
            bytes = ByteBuffer.allocateDirect((int) grant);
            contentIds = ByteBuffer.allocateDirect(slots * CONTENT_ID_BYTES).order(ByteOrder.nativeOrder());
        } catch (OutOfMemoryError directMemoryExhausted) {
            capacity.release(grant);
            return -1;
        }
        slabs.set(index, new Slab(bytes, contentIds, grant, slots));
        slabsWithRoom.set(index);
        slotsWithRoom += slots;
        slabCount.incrementAndGet();
        return index;
    }

    /** The lowest slab index not in use, growing the table if needed; -1 when handles cannot name another slab. */
    private int freeSlabIndex() {
        AtomicReferenceArray<Slab> table = slabs;
        for (int i = 0; i < table.length(); i++) {
            if (table.get(i) == null) {
                return i;
            }
        }
        int length = (int) Math.min(2L * table.length(), Integer.MAX_VALUE >> slotBits);
        if (length <= table.length()) {
            return -1;
        }
        AtomicReferenceArray<Slab> grown = new AtomicReferenceArray<>(length);
        for (int i = 0; i < table.length(); i++) {
            grown.set(i, table.get(i));
        }
        slabs = grown;
        return table.length();
    }

    // ---------------------------------------------------------------- reference counts

    /** Adds a reference to {@code handle} (no-op for the zero page). */
    public void retain(int handle) {
        if (handle == NO_PAGE) {
            return;
        }
        if (changeReference(handle, 1, "retain") == 1) {
            sharedPages.incrementAndGet();
        }
    }

    /** Drops a reference to {@code handle}; the page is freed with its last reference. */
    public void release(int handle) {
        if (handle == NO_PAGE) {
            return;
        }
        if (dropReference(handle)) {
            lock.lock();
            try {
                freeLocked(handle);
            } finally {
                lock.unlock();
            }
            residentPages.decrementAndGet();
        }
    }

    /**
     * Adds a reference to each of {@code handles[0..count)} (the zero page is skipped): {@link #retain} in bulk, the
     * shared-page count changed once. A free page is refused before its count changes; the handles before it keep
     * their new reference. The array is left as it is.
     */
    public void retainAll(int[] handles, int count) {
        retainAll(handles, 0, count);
    }

    /** {@link #retainAll(int[], int)} of {@code handles[offset..offset + count)}. */
    public void retainAll(int[] handles, int offset, int count) {
        java.util.Objects.checkFromIndexSize(offset, count, handles.length);
        long newlyShared = 0;
        try {
            for (int i = offset; i < offset + count; i++) {
                int handle = handles[i];
                if (handle != NO_PAGE && changeReference(handle, 1, "retain") == 1) {
                    newlyShared++;
                }
            }
        } finally {
            sharedPages.addAndGet(newlyShared);
        }
    }

    /**
     * Drops one reference from each of {@code handles[0..count)}, taking the allocation lock at most once. A free
     * page is refused before its count changes; the handles before it stay released (and freed with their last
     * reference). The array is left as it is.
     */
    public void releaseAll(int[] handles, int count) {
        releaseAll(handles, 0, count);
    }

    /** {@link #releaseAll(int[], int)} of {@code handles[offset..offset + count)}. */
    public void releaseAll(int[] handles, int offset, int count) {
        java.util.Objects.checkFromIndexSize(offset, count, handles.length);
        int[] freed = null;
        int freedCount = 0;
        long unshared = 0;
        try {
            for (int i = offset; i < offset + count; i++) {
                int handle = handles[i];
                if (handle == NO_PAGE) {
                    continue;
                }
                int before = changeReference(handle, -1, "release");
                if (before == 2) {
                    unshared++;
                } else if (before == 1) {
                    if (freed == null) {
                        freed = new int[offset + count - i];
                    }
                    freed[freedCount++] = handle;
                }
            }
        } finally {
            sharedPages.addAndGet(-unshared);
            if (freedCount > 0) {
                freeAll(freed, freedCount);
            }
        }
    }

    /**
     * Returns pages whose last reference was dropped (their counts are 0 already) to their slabs, under one
     * acquisition of the lock, a slab looked up once per run of handles in it.
     */
    private void freeAll(int[] handles, int count) {
        lock.lock();
        try {
            AtomicReferenceArray<Slab> table = slabs;
            Slab slab = null;
            int slabIndex = -1;
            for (int i = 0; i < count; i++) {
                int h = handles[i] - 1;
                if (h >>> slotBits != slabIndex) {
                    slabIndex = h >>> slotBits;
                    slab = table.get(slabIndex);
                    slabsWithRoom.set(slabIndex);
                }
                slab.freeSlots[slab.freeTop++] = h & slotMask;
                if (--slab.used == 0) {
                    emptied(slabIndex, slab);
                }
            }
            slotsWithRoom += count;
        } finally {
            lock.unlock();
        }
        residentPages.addAndGet(-count);
    }

    /**
     * Returns true when the reference dropped was the last one. A page with no reference is refused before its count
     * changes, so a bad release cannot leave a count below zero.
     */
    private boolean dropReference(int handle) {
        int before = changeReference(handle, -1, "release");
        if (before == 2) {
            sharedPages.decrementAndGet();
        }
        return before == 1;
    }

    /**
     * Adds {@code delta} to the reference count of a page that has one, and returns the count before; a page with
     * no reference is refused before its count changes.
     */
    private int changeReference(int handle, int delta, String what) {
        int h = handle - 1;
        int[] refs = slabs.get(h >>> slotBits).refs;
        int slot = h & slotMask;
        int before;
        do {
            before = (int) REFS.getVolatile(refs, slot);
            if (before <= 0) {
                throw new IllegalStateException(what + " of free page handle " + handle);
            }
        } while (!REFS.compareAndSet(refs, slot, before, before + delta));
        return before;
    }

    private void freeLocked(int handle) {
        int h = handle - 1;
        int slabIndex = h >>> slotBits;
        Slab slab = slabs.get(slabIndex);
        REFS.setRelease(slab.refs, h & slotMask, 0);
        slab.freeSlots[slab.freeTop++] = h & slotMask;
        slab.used--;
        slotsWithRoom++;
        slabsWithRoom.set(slabIndex);
        if (slab.used == 0) {
            emptied(slabIndex, slab);
        }
    }

    /** Keeps a slab that just gave back its last page for reuse, or gives empty slabs back to the capacity. */
    private void emptied(int slabIndex, Slab slab) {
        emptySlabs.set(slabIndex);
        emptySlabCount++;
        emptySlabBytes += slab.sizeBytes;
        capacity.emptySlabBytesChanged(slab.sizeBytes);
        // Keep no more empty slabs than slabs in use: all of them go back when the last page does.
        while (emptySlabCount > 0 && emptySlabCount > slabCount.get() - emptySlabCount) {
            dropEmptySlab(emptySlabs.previousSetBit(Integer.MAX_VALUE));
        }
    }

    private void markInUse(int slabIndex, Slab slab) {
        emptySlabs.clear(slabIndex);
        emptySlabCount--;
        emptySlabBytes -= slab.sizeBytes;
        capacity.emptySlabBytesChanged(-slab.sizeBytes);
    }

    /** Gives an empty slab's memory back to the budget. */
    private void dropEmptySlab(int slabIndex) {
        Slab slab = slabs.get(slabIndex);
        markInUse(slabIndex, slab);
        slabs.set(slabIndex, null);
        slabsWithRoom.clear(slabIndex);
        slotsWithRoom -= slab.room();
        capacity.release(slab.sizeBytes);
        slabCount.decrementAndGet();
    }

    /** Gives every empty slab back to the budget. */
    void releaseEmptySlabs() {
        lock.lock();
        try {
            for (int i = emptySlabs.nextSetBit(0); i >= 0; i = emptySlabs.nextSetBit(0)) {
                dropEmptySlab(i);
            }
        } finally {
            lock.unlock();
        }
    }

    /** The current reference count of {@code handle} (0 for the zero page). */
    public int referenceCount(int handle) {
        if (handle == NO_PAGE) {
            return 0;
        }
        int h = handle - 1;
        return (int) REFS.getAcquire(slabs.get(h >>> slotBits).refs, h & slotMask);
    }

    /** Whether writing {@code handle} in place would be seen through another reference. */
    public boolean isShared(int handle) {
        return referenceCount(handle) > 1;
    }

    // ---------------------------------------------------------------- bytes

    private ByteBuffer slabOf(int handle) {
        return slabs.get((handle - 1) >>> slotBits).bytes;
    }

    /**
     * The id of a page's current content: a number drawn when the page is allocated and drawn again whenever its
     * bytes change, never reused in this process (stores of different page sizes draw from one sequence). Two references with one content id hold the same bytes in
     * the same page, so a checkpoint stores those bytes once and knows the page is shared (a page is only written
     * while one reference holds it). Read it under the lock that guards the page's writer.
     */
    public long contentId(int handle) {
        int h = handle - 1;
        return slabs.get(h >>> slotBits).contentIds.getLong((h & slotMask) * CONTENT_ID_BYTES);
    }

    private void changed(int handle) {
        int h = handle - 1;
        slabs.get(h >>> slotBits).contentIds.putLong((h & slotMask) * CONTENT_ID_BYTES,
                LAST_CONTENT_ID.incrementAndGet());
    }

    private int offsetOf(int handle) {
        return ((handle - 1) & slotMask) << pageShift;
    }

    /** The offset of {@code [pageOffset, pageOffset + length)} in the slab of a page, checked to lie in the page. */
    private int offsetOf(int handle, int pageOffset, int length) {
        java.util.Objects.checkFromIndexSize(pageOffset, length, pageSize);
        return offsetOf(handle) + pageOffset;
    }

    /** Copies {@code length} bytes at {@code pageOffset} of a page (zeros for the zero page) into {@code dst}. */
    public void read(int handle, int pageOffset, byte[] dst, int dstOffset, int length) {
        if (handle == NO_PAGE) {
            java.util.Arrays.fill(dst, dstOffset, dstOffset + length, (byte) 0);
        } else {
            slabOf(handle).get(offsetOf(handle, pageOffset, length), dst, dstOffset, length);
        }
    }

    /** Stores {@code length} bytes of {@code src} at {@code pageOffset} of a page the caller owns exclusively. */
    public void write(int handle, int pageOffset, byte[] src, int srcOffset, int length) {
        changed(handle);
        slabOf(handle).put(offsetOf(handle, pageOffset, length), src, srcOffset, length);
    }

    /** Stores the remaining bytes of {@code src} at {@code pageOffset} of a page the caller owns exclusively. */
    public void write(int handle, int pageOffset, ByteBuffer src) {
        int length = src.remaining();
        changed(handle);
        slabOf(handle).put(offsetOf(handle, pageOffset, length), src, src.position(), length);
        src.position(src.position() + length);
    }

    /** Copies bytes between pages ({@code srcHandle} may be the zero page); the pages may be the same. */
    public void copy(int srcHandle, int srcOffset, int dstHandle, int dstOffset, int length) {
        java.util.Objects.checkFromIndexSize(srcOffset, length, pageSize);
        ByteBuffer source = srcHandle == NO_PAGE ? zeroPage : slabOf(srcHandle);
        int sourceOffset = srcHandle == NO_PAGE ? 0 : offsetOf(srcHandle) + srcOffset;
        if (srcHandle == dstHandle && srcHandle != NO_PAGE) {
            // Bulk put between overlapping regions of one buffer is specified as if through a temporary copy.
            source = source.duplicate();
        }
        changed(dstHandle);
        slabOf(dstHandle).put(offsetOf(dstHandle, dstOffset, length), source, sourceOffset, length);
    }

    /** Copies bytes from a page of {@code source} (possibly another store, or the zero page) into a page of this one. */
    public void copyFrom(PageStore source, int srcHandle, int srcOffset, int dstHandle, int dstOffset, int length) {
        if (source == this) {
            copy(srcHandle, srcOffset, dstHandle, dstOffset, length);
        } else if (srcHandle == NO_PAGE) {
            zero(dstHandle, dstOffset, length);
        } else {
            changed(dstHandle);
            slabOf(dstHandle).put(offsetOf(dstHandle, dstOffset, length), source.slabOf(srcHandle),
                    source.offsetOf(srcHandle, srcOffset, length), length);
        }
    }

    /** Fills {@code length} bytes at {@code pageOffset} of a page the caller owns exclusively with zeros. */
    public void zero(int handle, int pageOffset, int length) {
        changed(handle);
        slabOf(handle).put(offsetOf(handle, pageOffset, length), zeroPage, 0, length);
    }

    /** Writes {@code length} bytes at {@code pageOffset} of a page to {@code out}, through {@code scratch}. */
    public void writeTo(int handle, int pageOffset, int length, OutputStream out, byte[] scratch) throws IOException {
        while (length > 0) {
            int n = Math.min(length, scratch.length);
            read(handle, pageOffset, scratch, 0, n);
            out.write(scratch, 0, n);
            pageOffset += n;
            length -= n;
        }
    }

    /** A read-only view of one page's bytes (the zero page for {@link #NO_PAGE}); position 0, limit page size. */
    public ByteBuffer view(int handle) {
        if (handle == NO_PAGE) {
            return zeroPage.asReadOnlyBuffer();
        }
        int offset = offsetOf(handle);
        return slabOf(handle).slice(offset, pageSize).asReadOnlyBuffer();
    }
}
