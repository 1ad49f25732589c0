package io.machvm.service;

import io.machvm.store.Budget;
import io.machvm.vm.MapBudgets;

/**
 * What the tasks of a node may hold on the heap: map entries and page-table nodes in all, and each task's share.
 * {@link Budget#UNLIMITED} where there is no limit.
 */
public record HeapLimits(long maxMapEntries, long maxMapEntriesPerTask, long maxPageTableBytes,
        long maxPageTableBytesPerTask) {
    /** The settings that hold these limits, named in a refusal. */
    public static final String MAX_MAP_ENTRIES = "machvm.limits.max-map-entries";
    public static final String MAX_MAP_ENTRIES_PER_TASK = "machvm.limits.max-map-entries-per-task";
    public static final String MAX_PAGE_TABLE_BYTES = "machvm.limits.max-page-table-bytes";
    public static final String MAX_PAGE_TABLE_BYTES_PER_TASK = "machvm.limits.max-page-table-bytes-per-task";

    public HeapLimits {
        if (maxMapEntries < 1 || maxMapEntriesPerTask < 1 || maxPageTableBytes < 1 || maxPageTableBytesPerTask < 1) {
            throw new IllegalArgumentException("limits must be positive");
        }
    }

    /** No limit at all (tools and tests). */
    public static HeapLimits unlimited() {
        return new HeapLimits(Budget.UNLIMITED, Budget.UNLIMITED, Budget.UNLIMITED, Budget.UNLIMITED);
    }

    /**
     * The defaults for a JVM with {@code maxHeapBytes} of heap: a quarter of it for map entries and a quarter for page
     * tables, each task at most a quarter of either, so that no request, and no one task, can exhaust the heap.
     */
    public static HeapLimits forHeap(long maxHeapBytes) {
        long quarter = maxHeapBytes / 4;
        long entries = Math.max(1024, quarter / MapBudgets.MAP_ENTRY_BYTES);
        long tableBytes = Math.max(64 * MapBudgets.PAGE_TABLE_NODE_BYTES, quarter);
        return new HeapLimits(entries, Math.max(256, entries / 4), tableBytes,
                Math.max(16 * MapBudgets.PAGE_TABLE_NODE_BYTES, tableBytes / 4));
    }

    /** Page-table bytes as a count of nodes (at least one). */
    static long nodes(long tableBytes) {
        return tableBytes == Budget.UNLIMITED ? Budget.UNLIMITED
                : Math.max(1, tableBytes / MapBudgets.PAGE_TABLE_NODE_BYTES);
    }
}
