package io.machvm.vm;

import io.machvm.store.Budget;
import io.machvm.store.PageStore;

/**
 * A copy object, XNU's {@code vm_map_copy_t}: what {@link CopyEngine#overwrite} writes over a destination. Either
 * pages, referenced as they were when captured (the source of {@code vm_copy} and {@code vm_read_overwrite}, the body
 * of a streamed {@code vm_write}), or bytes in memory, the kernel-buffer form in which {@code vm_write} hands over
 * data it already holds.
 */
final class Capture {
    final PageStore store;
    final PageTable table;
    /** Where the captured bytes are in {@link #table} (pages), or 0 (a buffer). */
    final long address;
    final long size;
    final int pageShift;
    /** Whether {@link #table} is the map's own page table (no references taken), not a copy of the range. */
    final boolean borrowed;
    /** The bytes of a buffer, from {@link #bufferOffset}; null for pages. */
    final byte[] buffer;
    final int bufferOffset;
    /** The budget the nodes of a captured table are charged to, and how many. */
    Budget nodeBudget;
    long chargedNodes;

    private Capture(PageStore store, PageTable table, long address, long size, int pageShift, boolean borrowed,
            byte[] buffer, int bufferOffset) {
        this.store = store;
        this.table = table;
        this.address = address;
        this.size = size;
        this.pageShift = pageShift;
        this.borrowed = borrowed;
        this.buffer = buffer;
        this.bufferOffset = bufferOffset;
    }

    /** The pages of {@code source}, into a table of their own; the capture holds a reference to each. */
    static Capture pages(PageStore store, VmRange source, int pageShift) {
        return new Capture(store, new PageTable(), source.start(), source.size(), pageShift, false, null, 0);
    }

    /**
     * {@code size} bytes in pages of their own, referenced in {@code table} from page 0, the first byte at
     * {@code firstOffset} of page 0; the capture takes the references over.
     */
    static Capture adopt(PageStore store, PageTable table, int firstOffset, long size, int pageShift) {
        return new Capture(store, table, firstOffset, size, pageShift, false, null, 0);
    }

    /** The pages of {@code source} in the map's own {@code table}, which the copy cannot change. */
    static Capture borrow(PageStore store, PageTable table, VmRange source, int pageShift) {
        return new Capture(store, table, source.start(), source.size(), pageShift, true, null, 0);
    }

    /** {@code length} bytes of {@code data} from {@code offset}, used in place: the caller must not change them. */
    static Capture buffer(byte[] data, int offset, int length) {
        return new Capture(null, null, 0, length, 0, false, data, offset);
    }

    boolean isBuffer() {
        return buffer != null;
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
        if (borrowed || isBuffer()) {
            return;
        }
        if (nodeBudget != null) {
            nodeBudget.release(chargedNodes);
            chargedNodes = 0;
        }
        IntList handles = new IntList((int) Math.min(table.population(), 1 << 20));
        table.forEach(firstPage(), endPage(), (p, h) -> handles.add(h));
        store.releaseAll(handles.array(), handles.size());
    }
}
