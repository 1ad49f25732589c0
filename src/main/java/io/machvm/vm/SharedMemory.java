package io.machvm.vm;

import io.machvm.store.PageStore;

/**
 * Memory that several tasks see at once (fork with inheritance share): one page table that every sharer reads
 * and writes in place. Guarded by the lock the sharers have in common.
 */
final class SharedMemory {
    private static final java.util.concurrent.atomic.AtomicLong LAST_ID = new java.util.concurrent.atomic.AtomicLong();
    /** Names the memory in checkpoints ({@link CheckpointImage.Range#memoryId}); unique in this process. */
    final long id = LAST_ID.incrementAndGet();
    final PageTable pages = new PageTable();
    final PageBits dirty = new PageBits();
    /** Shared ranges, in any map, that refer to this memory; its pages go with the last. */
    int ranges;
    /** Charged to the budgets of the map that created it (the fork parent), for as long as it lives. */
    final Charge nodeCharge;
    final Charge byteCharge;
    final int pageSize;

    SharedMemory(MapBudgets owner, int pageSize) {
        this.nodeCharge = new Charge(owner.pageTableNodes(), "page-table nodes");
        this.byteCharge = new Charge(owner.residentBytes(), "bytes");
        this.pageSize = pageSize;
    }

    void settle() {
        nodeCharge.settle(pages.nodes() + dirty.words().nodes());
        byteCharge.settle(pages.population() * pageSize);
    }

    /** {@link #settle} past the budgets' limits: for a restored memory, which must not be refused. */
    void settleAnyway() {
        nodeCharge.settleAnyway(pages.nodes() + dirty.words().nodes());
        byteCharge.settleAnyway(pages.population() * pageSize);
    }

    /** The part of a {@link PageGrowth} in this memory. */
    static final class Growth {
        final SharedMemory memory;
        final PageTable.Growth pages;
        final PageTable.Growth dirty;
        long newPages;

        Growth(SharedMemory memory) {
            this.memory = memory;
            this.pages = memory.pages.growth();
            this.dirty = memory.dirty.words().growth();
        }

        void page(long index) {
            pages.add(index);
            dirty.add(index >>> 5);
            if (memory.pages.get(index) == PageStore.NO_PAGE) {
                newPages++;
            }
        }

        void reserve() {
            memory.nodeCharge.raise(pages.count() + dirty.count());
            memory.byteCharge.raise(newPages * memory.pageSize);
        }
    }
}
