package io.machvm.vm;

import io.machvm.store.PageStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A map's pages wherever they live: its private page table and dirty set, and the ranges it shares with other
 * tasks through {@link SharedMemory} (XNU's VM objects, reduced to what fork's inheritance needs). Guarded by the
 * map's lock.
 */
final class MapPages {
    private final VmMap map;

    MapPages(VmMap map) {
        this.map = map;
    }

    /** Drops the pages of {@code [fromPage, toPage)}: private ones are released, shared ranges are cut. */
    void releasePages(long fromPage, long toPage) {
        IntList released = new IntList(64);
        map.pages.forEach(fromPage, toPage, (p, h) -> {
            released.add(h);
            map.pages.set(p, PageStore.NO_PAGE);
        });
        map.store.releaseAll(released.array(), released.size());
        map.dirty.removeRange(fromPage, toPage);
        if (map.sharedRanges != null) {
            dropSharedRanges(fromPage, toPage);
        }
    }

    SharedRange sharedRangeAt(long page) {
        Map.Entry<Long, SharedRange> floor = map.sharedRanges.floorEntry(page);
        return floor != null && floor.getValue().endPage > page ? floor.getValue() : null;
    }

    /** The handle of a page, private or shared. */
    int pageAt(long page) {
        if (map.sharedRanges == null) {
            return map.pages.get(page);
        }
        SharedRange r = sharedRangeAt(page);
        return r == null ? map.pages.get(page) : r.memory.pages.get(r.indexOf(page));
    }

    /** Installs new content for a page, marking it dirty; returns the handle it replaces. */
    int replacePage(long page, int handle) {
        if (map.sharedRanges != null) {
            SharedRange r = sharedRangeAt(page);
            if (r != null) {
                r.memory.dirty.add(r.indexOf(page));
                return r.memory.pages.set(r.indexOf(page), handle);
            }
        }
        map.dirty.add(page);
        return map.pages.set(page, handle);
    }

    void markDirty(long page) {
        if (map.sharedRanges != null) {
            SharedRange r = sharedRangeAt(page);
            if (r != null) {
                r.memory.dirty.add(r.indexOf(page));
                r.memory.pages.touch(r.indexOf(page));
                return;
            }
        }
        map.dirty.add(page);
        map.pages.touch(page);
    }

    boolean isDirty(long page) {
        if (map.sharedRanges != null) {
            SharedRange r = sharedRangeAt(page);
            if (r != null) {
                return r.memory.dirty.contains(r.indexOf(page));
            }
        }
        return map.dirty.contains(page);
    }

    /** The shared ranges overlapping {@code [fromPage, toPage)}, in address order. */
    List<SharedRange> sharedRangesIn(long fromPage, long toPage) {
        if (map.sharedRanges == null) {
            return List.of();
        }
        Long first = map.sharedRanges.floorKey(fromPage);
        List<SharedRange> out = new ArrayList<>();
        for (SharedRange r : map.sharedRanges.tailMap(first == null ? fromPage : first, true).values()) {
            if (r.startPage >= toPage) {
                break;
            }
            if (r.endPage > fromPage) {
                out.add(r);
            }
        }
        return out;
    }

    /** Visits every resident page of {@code [fromPage, toPage)}, private or shared (not in address order). */
    void forEachPage(long fromPage, long toPage, PageTable.PageVisitor visitor) {
        map.pages.forEach(fromPage, toPage, visitor);
        for (SharedRange r : sharedRangesIn(fromPage, toPage)) {
            long lo = Math.max(fromPage, r.startPage);
            long hi = Math.min(toPage, r.endPage);
            long shift = r.startPage - r.memoryStartPage;
            r.memory.pages.forEach(r.indexOf(lo), r.indexOf(hi), (q, h) -> visitor.visit(q + shift, h));
        }
    }

    /** Cuts {@code [fromPage, toPage)} out of the shared ranges; memory whose last range goes is released. */
    void dropSharedRanges(long fromPage, long toPage) {
        for (SharedRange r : sharedRangesIn(fromPage, toPage)) {
            long oldEnd = r.endPage;
            if (r.startPage >= fromPage) {
                map.sharedRanges.remove(r.startPage);
                if (oldEnd > toPage) {
                    map.sharedRanges.put(toPage, new SharedRange(toPage, oldEnd, r.memory, r.indexOf(toPage)));
                } else if (--r.memory.ranges == 0) {
                    releaseMemory(r.memory);
                }
            } else {
                r.endPage = fromPage;
                if (oldEnd > toPage) {
                    map.sharedRanges.put(toPage, new SharedRange(toPage, oldEnd, r.memory, r.indexOf(toPage)));
                    r.memory.ranges++;
                }
            }
        }
        if (map.sharedRanges.isEmpty()) {
            map.sharedRanges = null;
        }
    }

    void releaseMemory(SharedMemory memory) {
        IntList released = new IntList(64);
        memory.pages.forEach(0, PageTable.MAX_PAGES, (q, h) -> {
            released.add(h);
            memory.pages.set(q, PageStore.NO_PAGE);
        });
        map.store.releaseAll(released.array(), released.size());
        memory.dirty.removeRange(0, PageTable.MAX_PAGES);
        memory.settle();
    }

    /** Moves the private pages of {@code [fromPage, toPage)} not yet shared into new shared memory. */
    void shareRange(long fromPage, long toPage) {
        long cursor = fromPage;
        for (SharedRange r : sharedRangesIn(fromPage, toPage)) {
            if (r.startPage > cursor) {
                newSharedRange(cursor, r.startPage);
            }
            cursor = Math.max(cursor, r.endPage);
        }
        if (cursor < toPage) {
            newSharedRange(cursor, toPage);
        }
    }

    void newSharedRange(long fromPage, long toPage) {
        SharedMemory memory = new SharedMemory(map.budgets, map.pageSize);
        map.pages.forEach(fromPage, toPage, (p, h) -> {
            memory.pages.set(p - fromPage, h);
            map.pages.set(p, PageStore.NO_PAGE);
        });
        map.dirty.forEach(fromPage, toPage, p -> memory.dirty.add(p - fromPage));
        map.dirty.removeRange(fromPage, toPage);
        if (map.sharedRanges == null) {
            map.sharedRanges = new TreeMap<>();
        }
        memory.ranges = 1;
        map.sharedRanges.put(fromPage, new SharedRange(fromPage, toPage, memory, 0));
    }

    /** Forgets which pages were written, private or shared: the basis of the next incremental snapshot. */
    void clearDirty() {
        map.dirty.removeRange(0, PageTable.MAX_PAGES);
        for (SharedRange r : sharedRangesIn(0, PageTable.MAX_PAGES)) {
            r.memory.dirty.removeRange(r.indexOf(r.startPage), r.indexOf(r.endPage));
        }
    }

    /** Pages with storage, private or shared. */
    long residentPages() {
        long resident = map.pages.population();
        if (map.sharedRanges != null) {
            long[] count = {0};
            for (SharedRange r : map.sharedRanges.values()) {
                r.memory.pages.forEach(r.indexOf(r.startPage), r.indexOf(r.endPage), (q, h) -> count[0]++);
            }
            resident += count[0];
        }
        return resident;
    }

    /** The {@link PageDisposition} bits of each page of {@code range}; 0 for unmapped pages. */
    int[] dispositions(VmRange range) {
        long firstPage = range.firstPage(map.pageShift);
        int count = (int) (range.endPage(map.pageShift) - firstPage);
        int[] out = new int[count];
        for (int i = 0; i < count; i++) {
            long p = firstPage + i;
            long at = p << map.pageShift;
            VmEntry e = Long.compareUnsigned(at, map.maxAddress) < 0 ? map.entryList.entryContaining(at) : null;
            if (e == null) {
                continue;
            }
            int h = pageAt(p);
            int disposition = 0;
            if (h != PageStore.NO_PAGE) {
                disposition |= PageDisposition.PRESENT;
                if (map.store.isShared(h)) {
                    disposition |= PageDisposition.SHARED;
                }
            }
            if (e.shared) {
                disposition |= PageDisposition.SHARED;
            }
            if (isDirty(p)) {
                disposition |= PageDisposition.DIRTY;
            }
            out[i] = disposition;
        }
        return out;
    }
}
