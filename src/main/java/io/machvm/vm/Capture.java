package io.machvm.vm;

import io.machvm.store.Budget;
import io.machvm.store.PageStore;

/** The source pages of a copy, referenced so that the copy reads them as they were when captured. */
final class Capture {
    final PageStore store;
    final PageTable table;
    final long address;
    final long size;
    final int pageShift;
    /** Whether {@link #table} is the map's own page table (no references taken), not a copy of the range. */
    final boolean borrowed;
    /** The budget the nodes of a captured table are charged to, and how many. */
    Budget nodeBudget;
    long chargedNodes;

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
        if (nodeBudget != null) {
            nodeBudget.release(chargedNodes);
            chargedNodes = 0;
        }
        IntList handles = new IntList((int) Math.min(table.population(), 1 << 20));
        table.forEach(firstPage(), endPage(), (p, h) -> handles.add(h));
        store.releaseAll(handles.array(), handles.size());
    }
}
