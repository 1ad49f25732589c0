package io.machvm.vm;

import io.machvm.store.Budget;

/**
 * The budgets one task's map draws from: its map entries, the nodes of its page tables (the heap its copy-on-write
 * references spread over, about {@link #PAGE_TABLE_NODE_BYTES} each), and the bytes of its resident pages (pages its
 * unfinished uploads hold included). Each may have parents (tenant, node): see {@link Budget}.
 */
public record MapBudgets(Budget entries, Budget pageTableNodes, Budget residentBytes) {
    /** Heap bytes of one page-table node, interior or leaf (1,024 slots with compressed references). */
    public static final long PAGE_TABLE_NODE_BYTES = 4128;
    /** Heap bytes a map entry holds, with its share of the sorted map and the free-range index. */
    public static final long MAP_ENTRY_BYTES = 160;

    public MapBudgets {
        if (entries == null || pageTableNodes == null || residentBytes == null) {
            throw new IllegalArgumentException("every budget is required");
        }
    }

    /** Budgets that never refuse (tools and tests that build maps without a service). */
    public static MapBudgets unlimited() {
        return new MapBudgets(Budget.root("entries", Budget.UNLIMITED), Budget.root("page-table nodes",
                Budget.UNLIMITED), Budget.root("resident bytes", Budget.UNLIMITED));
    }
}
