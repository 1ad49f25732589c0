package io.machvm.vm;

import io.machvm.store.PageStore;
import java.util.Map;

/**
 * A bound of what a change of pages may add to the heap and resident bytes of this map (and of memory it shares),
 * taken from their budgets by {@link #reserve} before anything changes; the change's {@link VmMap#settle()} then gives
 * back what it did not use.
 */
final class PageGrowth {
    private final VmMap map;
    private final PageTable.Growth privatePages;
    private final PageTable.Growth privateDirty;
    private long privateNewPages;
    private Map<SharedMemory, SharedMemory.Growth> shared;

    PageGrowth(VmMap map) {
        this.map = map;
        this.privatePages = map.pages.growth();
        this.privateDirty = map.dirty.words().growth();
    }

    /** Page {@code p} may get a new handle and be marked dirty. */
    void page(long p) {
        if (map.sharedRanges != null) {
            SharedRange r = map.pager.sharedRangeAt(p);
            if (r != null) {
                if (shared == null) {
                    shared = new java.util.IdentityHashMap<>();
                }
                shared.computeIfAbsent(r.memory, SharedMemory.Growth::new).page(r.indexOf(p));
                return;
            }
        }
        privatePages.add(p);
        privateDirty.add(p >>> 5);
        if (map.pages.get(p) == PageStore.NO_PAGE) {
            privateNewPages++;
        }
    }

    /** Every private page of {@code [fromPage, toPage)} may be marked dirty (and nothing else). */
    void dirtyRange(long fromPage, long toPage) {
        privateDirty.addRange(fromPage >>> 5, ((toPage - 1) >>> 5) + 1);
    }

    /**
     * Each private page of {@code [fromPage, toPage)} may take the handle of page {@code p - deltaPages} of this map's
     * own table, or lose its handle where that page has none, and be marked dirty (the copy-on-write copy of whole
     * pages between disjoint ranges). Counted a leaf at a time: the nodes the source's leaves need here, the dirty
     * words of the range, and as new pages what the source range holds more than the destination range.
     */
    void shareWithin(long fromPage, long toPage, long deltaPages) {
        long sourcePages = privatePages.addLeavesOf(map.pages, fromPage - deltaPages, toPage - deltaPages, deltaPages);
        dirtyRange(fromPage, toPage);
        if (sourcePages > 0) {
            privateNewPages += Math.max(0, sourcePages - map.pages.populationIn(fromPage, toPage));
        }
    }

    /** Every page of {@code [fromPage, toPage)} may get a new handle and be marked dirty. */
    void range(long fromPage, long toPage) {
        if (map.sharedRanges != null) {
            for (long p = fromPage; p < toPage; p++) {
                page(p);
            }
            return;
        }
        privatePages.addRange(fromPage, toPage);
        privateDirty.addRange(fromPage >>> 5, ((toPage - 1) >>> 5) + 1);
        privateNewPages += (toPage - fromPage) - map.pages.populationIn(fromPage, toPage);
    }

    /** Takes the bound from every budget concerned, or from none. */
    void reserve() {
        try {
            map.nodeCharge.raise(privatePages.count() + privateDirty.count());
            map.byteCharge.raise(privateNewPages * map.pageSize);
            if (shared != null) {
                for (SharedMemory.Growth g : shared.values()) {
                    g.reserve();
                }
            }
        } catch (KernException refused) {
            map.settle(); // nothing changed yet: back to what is held
            throw refused;
        }
    }
}
