package io.machvm.vm;

import io.machvm.store.Budget;
import io.machvm.store.PageStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Everything a map is, with its pages referenced, so that an atomic group of calls can put it back
 * ({@link VmMap#atomically}). Made and used under the map's write lock.
 */
final class MapCheckpoint {
    private final VmMap map;
    final List<VmEntry> savedEntries = new ArrayList<>();
    final long savedVirtualBytes;
    final long savedNextObjectId;
    final PageTable savedPages = new PageTable();
    /** The words of the dirty set ({@link PageBits#words()}). */
    final PageTable savedDirty = new PageTable();
    final List<SharedRange> savedRanges = new ArrayList<>();
    final Map<SharedMemory, PageTable[]> savedMemories = new java.util.IdentityHashMap<>();
    final Map<SharedMemory, Integer> savedRangeCounts = new java.util.IdentityHashMap<>();
    /** Nodes of the saved tables, charged to the map's page-table budget while the checkpoint lives. */
    long chargedNodes;

    /**
     * Runs {@code body} under the map's write lock, already held, as one atomic step: when it throws, the map is put
     * back exactly as it was before it started.
     *
     * @throws KernException {@code KERN_RESOURCE_SHORTAGE} when the map's budget cannot hold the checkpoint; then the
     *                       body did not run
     */
    static <T> T around(VmMap map, java.util.function.Supplier<T> body) {
        MapCheckpoint checkpoint = new MapCheckpoint(map);
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
    }

    private MapCheckpoint(VmMap map) {
        this.map = map;
        this.savedVirtualBytes = map.virtualBytes;
        this.savedNextObjectId = map.nextObjectId;
        for (VmEntry e : map.entries.values()) {
            savedEntries.add(new VmEntry(e.start, e.end, e.protection, e.maxProtection, e.inheritance, e.objectId,
                    e.offset, e.shared));
        }
        retainInto(map.pages, savedPages);
        map.dirty.words().forEach(0, PageTable.MAX_PAGES, (w, bits) -> savedDirty.set(w, bits));
        if (map.sharedRanges != null) {
            for (SharedRange r : map.sharedRanges.values()) {
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

    /**
     * Charges the saved tables to the map's page-table budget.
     *
     * @throws KernException {@code KERN_RESOURCE_SHORTAGE} when it refuses; the checkpoint is discarded then
     */
    void charge() {
        long nodes = savedPages.nodes() + savedDirty.nodes();
        for (PageTable[] saved : savedMemories.values()) {
            nodes += saved[0].nodes() + saved[1].nodes();
        }
        Budget refused = map.budgets.pageTableNodes().tryAcquire(nodes);
        if (refused != null) {
            discard();
            throw Charge.shortage(refused, nodes, "page-table nodes");
        }
        chargedNodes = nodes;
    }

    private void uncharge() {
        map.budgets.pageTableNodes().release(chargedNodes);
        chargedNodes = 0;
    }

    private void retainInto(PageTable from, PageTable to) {
        from.forEach(0, PageTable.MAX_PAGES, (p, h) -> {
            map.store.retain(h);
            to.set(p, h);
        });
    }

    /** Puts the map back: the saved references replace the current pages. */
    void restore() {
        swapIn(map.pages, savedPages, true);
        swapIn(map.dirty.words(), savedDirty, false);
        for (Map.Entry<SharedMemory, PageTable[]> m : savedMemories.entrySet()) {
            swapIn(m.getKey().pages, m.getValue()[0], true);
            swapIn(m.getKey().dirty.words(), m.getValue()[1], false);
            m.getKey().ranges = savedRangeCounts.get(m.getKey());
        }
        if (map.sharedRanges != null) {
            for (SharedRange r : map.sharedRanges.values()) {
                if (!savedMemories.containsKey(r.memory) && --r.memory.ranges == 0) {
                    map.pager.releaseMemory(r.memory); // not possible today: memory is only created by fork
                }
            }
        }
        map.sharedRanges = null;
        for (SharedRange r : savedRanges) {
            if (map.sharedRanges == null) {
                map.sharedRanges = new TreeMap<>();
            }
            map.sharedRanges.put(r.startPage, r);
        }
        map.entries.clear();
        map.virtualBytes = 0;
        map.holes.clear();
        map.holes.add(map.minAddress, map.maxAddress - map.minAddress);
        for (VmEntry e : savedEntries) {
            map.entryList.adoptEntry(e);
        }
        map.virtualBytes = savedVirtualBytes;
        map.nextObjectId = savedNextObjectId;
        uncharge();
        for (SharedMemory m : savedMemories.keySet()) {
            m.settle();
        }
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
            map.store.releaseAll(released.array(), released.size());
        }
    }

    /** The body succeeded: drop the saved references. */
    void discard() {
        uncharge();
        releaseTable(savedPages);
        for (PageTable[] saved : savedMemories.values()) {
            releaseTable(saved[0]);
        }
    }

    private void releaseTable(PageTable table) {
        IntList released = new IntList(64);
        table.forEach(0, PageTable.MAX_PAGES, (p, h) -> released.add(h));
        map.store.releaseAll(released.array(), released.size());
    }
}
