package io.machvm.vm;

import java.util.ArrayList;
import java.util.List;

/**
 * A map's side of a {@link TaskImage}: the entries and referenced pages an image is taken from, and a new map filled
 * from a validated one.
 */
final class MapImages {
    private MapImages() {
    }

    /**
     * Takes a {@link TaskImage} of this task: its entries and its resident pages, referenced so that the image can be
     * written after the lock is released. With {@code clearDirty} the dirty set is cleared at the same instant, so
     * the next dirty query lists exactly what changed after this image. The caller must close the image.
     */
    static TaskImage exportImage(VmMap map, String name, boolean clearDirty) {
        try (VmMap.Change call = map.changing()) {
            List<RegionInfo> regions = new ArrayList<>(map.entries.size());
            for (VmEntry e : map.entries.values()) {
                regions.add(e.info());
            }
            LongList indexes = new LongList();
            map.pager.forEachPage(0, PageTable.MAX_PAGES, (p, h) -> indexes.add(p));
            indexes.sortDistinct();
            long[] pageIndexes = new long[indexes.size()];
            int[] handles = new int[indexes.size()];
            for (int i = 0; i < pageIndexes.length; i++) {
                pageIndexes[i] = indexes.get(i);
                handles[i] = map.pager.pageAt(pageIndexes[i]);
                map.store.retain(handles[i]);
            }
            if (clearDirty) {
                map.pager.clearDirty();
            } else {
                call.settlesNothing();
            }
            return new TaskImage(map.store, map.flavor, map.errors, name, regions, pageIndexes, handles);
        }
    }

    /**
     * Takes from this new map's budgets, before an image is read into it, what {@code entryCount} entries and
     * {@code pageCount} pages need.
     *
     * @throws KernException {@code KERN_RESOURCE_SHORTAGE} when a budget refuses
     */
    static void reserveForRestore(VmMap map, long entryCount, long pageCount) {
        try (VmMap.Change call = map.changingEvenIfTerminated()) {
            map.entryCharge.raise(entryCount);
            map.byteCharge.raise(Math.multiplyHigh(pageCount, map.pageSize) != 0 ? Long.MAX_VALUE : pageCount * map.pageSize);
            call.settlesNothing(); // a reservation: settled once the restored map holds what it was taken for
        }
    }

    /**
     * Fills a new, unpublished map from a validated image (whose page references it takes over unless this throws).
     *
     * @throws KernException {@code KERN_RESOURCE_SHORTAGE} when the page table would exceed the map's budget; the
     *                       references stay the caller's
     */
    static void restore(VmMap map, List<VmEntry> restoredEntries, LongList pageIndexes, IntList handles) {
        PageTable.Growth growth = map.pages.growth();
        for (int i = 0; i < pageIndexes.size(); i++) {
            growth.add(pageIndexes.get(i));
        }
        map.nodeCharge.raise(growth.count());
        for (VmEntry e : restoredEntries) {
            map.entryList.adoptEntry(e);
        }
        map.nextObjectId = restoredEntries.size() + 1L;
        for (int i = 0; i < pageIndexes.size(); i++) {
            map.pages.set(pageIndexes.get(i), handles.get(i));
        }
        map.entryList.simplify(map.bounds);
        map.settle();
    }
}
