package io.machvm.service;

import io.machvm.store.Budget;

/**
 * What all tasks of a node hold together, the roots of every tenant's and task's budgets: map entries, page-table
 * nodes, and resident bytes (bounded by the page store itself, so this level only sums what tasks charge).
 */
public record NodeBudgets(Budget mapEntries, Budget pageTableNodes, Budget residentBytes) {

    public static NodeBudgets of(HeapLimits limits) {
        return new NodeBudgets(Budget.root(HeapLimits.MAX_MAP_ENTRIES, limits.maxMapEntries()),
                Budget.root(HeapLimits.MAX_PAGE_TABLE_BYTES, HeapLimits.nodes(limits.maxPageTableBytes())),
                Budget.root("machvm.store.capacity", Budget.UNLIMITED));
    }
}
