package io.machvm.vm;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;

/**
 * A map's entries: lookup, clipping at range ends and simplification of neighbours ({@code vm_map_lookup_entry},
 * {@code vm_map_clip_start/end}, {@code vm_map_simplify}), with the free-range index that first-fit allocation
 * uses. Guarded by the map's lock.
 */
final class MapEntries {
    private final VmMap map;

    MapEntries(VmMap map) {
        this.map = map;
    }

    VmEntry entryContaining(long address) {
        Map.Entry<Long, VmEntry> floor = map.entries.floorEntry(address);
        return floor != null && floor.getValue().end > address ? floor.getValue() : null;
    }

    /** The entry containing {@code address}, or else the first above it; null when there is none in the map. */
    VmEntry entryAtOrAbove(long address) {
        if (!map.below(address, map.maxAddress)) {
            return null;
        }
        VmEntry e = entryContaining(address);
        if (e != null) {
            return e;
        }
        Map.Entry<Long, VmEntry> next = map.entries.higherEntry(address);
        return next == null ? null : next.getValue();
    }

    /** What {@code vm_region} says of the first {@code max} of {@code entries}, in their order. */
    List<RegionInfo> regions(Iterable<VmEntry> entries, int max) {
        List<RegionInfo> out = new ArrayList<>(Math.min(max, map.entries.size()));
        for (VmEntry e : entries) {
            if (out.size() == max) {
                break;
            }
            out.add(e.info());
        }
        return out;
    }

    /** The entries overlapping {@code range}, in address order, starting with the one containing its start. */
    Iterable<VmEntry> entriesFrom(VmRange range) {
        VmEntry first = entryContaining(range.start());
        if (first == null) {
            throw VmSanitize.unmapped(range.start());
        }
        // An end past the map (even past 2^63, where the signed keys compare negative) means "to the last entry".
        long end = map.below(range.end(), map.maxAddress) ? range.end() : map.maxAddress;
        return map.entries.subMap(first.start, true, end, false).values();
    }

    /**
     * Checks that {@code range} has no hole (the first pass of {@code vm_protect} and {@code vm_inherit}), calling
     * {@code check} on each entry overlapping it, in address order.
     *
     * @throws KernException {@code KERN_INVALID_ADDRESS} at the first unmapped address
     */
    void checkMapped(VmRange range, java.util.function.Consumer<VmEntry> check) {
        long cursor = range.start();
        for (VmEntry e : entriesFrom(range)) {
            if (map.above(e.start, cursor)) { // the first entry may begin before start
                throw VmSanitize.unmapped(cursor);
            }
            check.accept(e);
            cursor = e.end;
        }
        if (map.below(cursor, range.end())) {
            throw VmSanitize.unmapped(cursor);
        }
    }

    /** {@link #checkMapped(VmRange, java.util.function.Consumer)} with no check of the entries. */
    void checkMapped(VmRange range) {
        checkMapped(range, e -> {
        });
    }

    boolean overlapsAny(VmRange range) {
        Map.Entry<Long, VmEntry> lower = map.entries.lowerEntry(range.end());
        return lower != null && lower.getValue().end > range.start();
    }

    void insertNew(VmRange range) {
        long start = range.start();
        long end = range.end();
        map.entries.put(start, new VmEntry(start, end, VmProt.READ | VmProt.WRITE, VmProt.ALL, VmInherit.COPY,
                map.nextObjectId++, 0, false));
        map.virtualBytes += end - start;
        long holeStart = map.holes.floorStart(start);
        long holeEnd = holeStart + map.holes.remove(holeStart);
        map.holes.add(holeStart, start - holeStart);
        map.holes.add(end, holeEnd - end);
    }

    /** First fit of {@code size} bytes upward from the map minimum; null when none. */
    VmRange findSpace(long size) {
        long start = map.holes.firstFit(size);
        return start == -1 ? null : new VmRange(start, start + size);
    }

    /** Entries that {@link #splitRange} of {@code range} adds: one for each end inside an entry. */
    int entriesAddedBySplitting(VmRange range) {
        VmEntry first = entryContaining(range.start());
        VmEntry last = map.below(range.end(), map.maxAddress) ? entryContaining(range.end()) : null;
        return (first != null && first.start != range.start() ? 1 : 0)
                + (last != null && last.start != range.end() ? 1 : 0);
    }

    /** Entries that {@link #removeRange} of {@code range} adds: one when a single entry holds it inside. */
    int entriesAddedByRemoving(VmRange range) {
        VmEntry e = entryContaining(range.start());
        return e != null && e.start != range.start() && Long.compareUnsigned(e.end, range.end()) > 0 ? 1 : 0;
    }

    void splitAt(long address) {
        VmEntry e = entryContaining(address);
        if (e != null && e.start != address) {
            VmEntry right = e.splitAt(address);
            map.entries.put(right.start, right);
        }
    }

    /** Splits entries at both ends and returns those inside {@code range}. */
    Iterable<VmEntry> splitRange(VmRange range) {
        splitAt(range.start());
        splitAt(range.end());
        return map.entries.subMap(range.start(), true, range.end(), false).values();
    }

    /** Merges neighbours around {@code range} that are windows of one object with equal attributes. */
    void simplify(VmRange range) {
        Long from = map.entries.lowerKey(range.start());
        Long to = map.entries.ceilingKey(range.end());
        NavigableMap<Long, VmEntry> window = map.entries.subMap(from == null ? range.start() : from, true,
                to == null ? range.end() : to, true);
        VmEntry previous = null;
        List<Long> absorbed = new ArrayList<>();
        for (VmEntry e : window.values()) {
            if (previous != null && previous.canAbsorb(e)) {
                previous.end = e.end;
                absorbed.add(e.start);
            } else {
                previous = e;
            }
        }
        for (Long key : absorbed) {
            map.entries.remove(key);
        }
    }

    void removeRange(VmRange range) {
        long start = range.start();
        long end = range.end();
        NavigableMap<Long, VmEntry> inside = map.entries.subMap(start, true, end, false);
        splitAt(start);
        splitAt(end);
        for (VmEntry e : inside.values()) {
            map.virtualBytes -= e.size();
        }
        inside.clear();
        map.pager.releasePages(range.firstPage(map.pageShift), range.endPage(map.pageShift));
        // The range joins the holes around it into one.
        Map.Entry<Long, VmEntry> before = map.entries.lowerEntry(start);
        Map.Entry<Long, VmEntry> after = map.entries.ceilingEntry(end);
        long holeStart = before == null ? map.minAddress : before.getValue().end;
        long holeEnd = after == null ? map.maxAddress : after.getKey();
        LongList merged = new LongList();
        map.holes.forEach(holeStart, holeEnd, (hole, size) -> {
            merged.add(hole);
            return 0;
        });
        for (int i = 0; i < merged.size(); i++) {
            map.holes.remove(merged.get(i));
        }
        map.holes.add(holeStart, holeEnd - holeStart);
    }

    /** Adds an entry to a map being built (fork, restore): the range must be free. */
    void adoptEntry(VmEntry e) {
        map.entries.put(e.start, e);
        map.virtualBytes += e.size();
        long holeStart = map.holes.floorStart(e.start);
        long holeEnd = holeStart + map.holes.remove(holeStart);
        map.holes.add(holeStart, e.start - holeStart);
        map.holes.add(e.end, holeEnd - e.end);
    }
}
