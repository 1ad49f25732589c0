package io.machvm.vm;

import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * {@code fork}: a child map that follows each entry's inheritance ({@code vm_map_fork}). A call that changes the
 * parent ({@link VmMap#changing()}): the parent's budgets are settled when it ends.
 */
final class MapFork {
    private MapFork() {
    }

    /**
     * Forks {@code parent} as {@link VmMap#fork()} does, the child drawing from {@code childBudgets}.
     *
     * @param childBudgets what the child draws from; its share of them is taken before anything changes
     * @throws KernException {@code KERN_RESOURCE_SHORTAGE} when the child's budgets cannot hold a copy of this map;
     *                       then nothing changed. A failure while the child is built (even an {@link Error}) gives
     *                       back every page reference the child took.
     */
    static VmMap fork(VmMap parent, MapBudgets childBudgets) {
        try (VmMap.Change call = parent.changing()) {
            boolean sharing = false;
            for (VmEntry e : parent.entries.values()) {
                sharing |= e.inheritance == VmInherit.SHARE;
            }
            // Tasks that share memory share a lock: one lock covers the memory they have in common.
            VmMap child = new VmMap(parent.store, parent.flavor, parent.errors, childBudgets,
                    sharing ? parent.lock : new ReentrantReadWriteLock());
            // Bounds of the child: at most this map's entries, private page-table nodes and private pages.
            child.entryCharge.raise(parent.entries.size());
            try {
                child.nodeCharge.raise(parent.pages.nodes());
                child.byteCharge.raise(parent.pages.population() * parent.pageSize);
            } catch (KernException refused) {
                child.settle();
                throw refused;
            }
            try {
                forkInto(parent, child);
            } catch (RuntimeException | Error failure) {
                child.terminate(); // gives back the references it took
                throw failure;
            }
            child.settle();
            return child;
        }
    }

    private static void forkInto(VmMap parent, VmMap child) {
        {
            child.nextObjectId = parent.nextObjectId;
            for (VmEntry e : parent.entries.values()) {
                long fromPage = e.start >>> parent.pageShift;
                long toPage = e.end >>> parent.pageShift;
                if (e.inheritance == VmInherit.COPY) {
                    child.entryList.adoptEntry(new VmEntry(e.start, e.end, e.protection, e.maxProtection, e.inheritance,
                            e.objectId, e.offset, false));
                    parent.pager.forEachPage(fromPage, toPage, (p, h) -> {
                        parent.store.retain(h);
                        child.pages.set(p, h);
                    });
                } else if (e.inheritance == VmInherit.SHARE) {
                    parent.pager.shareRange(fromPage, toPage);
                    e.shared = true;
                    child.entryList.adoptEntry(new VmEntry(e.start, e.end, e.protection, e.maxProtection, e.inheritance,
                            e.objectId, e.offset, true));
                    for (SharedRange r : parent.pager.sharedRangesIn(fromPage, toPage)) {
                        long lo = Math.max(fromPage, r.startPage);
                        long hi = Math.min(toPage, r.endPage);
                        if (child.sharedRanges == null) {
                            child.sharedRanges = new TreeMap<>();
                        }
                        child.sharedRanges.put(lo, new SharedRange(lo, hi, r.memory, r.indexOf(lo)));
                        r.memory.ranges++;
                    }
                }
            }
            parent.entryList.simplify(parent.bounds);
            child.entryList.simplify(child.bounds);
        }
    }
}
