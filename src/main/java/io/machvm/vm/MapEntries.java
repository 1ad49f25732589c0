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

    /** The entries overlapping {@code [start, end)}, in address order, starting with the one containing start. */
    Iterable<VmEntry> entriesFrom(long start, long end) {
        VmEntry first = entryContaining(start);
        if (first == null) {
            throw VmSanitize.unmapped(start);
        }
        // An end past the map (even past 2^63, where the signed keys compare negative) means "to the last entry".
        return map.entries.subMap(first.start, true, map.below(end, map.maxAddress) ? end : map.maxAddress, false).values();
    }

    boolean overlapsAny(long start, long end) {
        Map.Entry<Long, VmEntry> lower = map.entries.lowerEntry(end);
        return lower != null && lower.getValue().end > start;
    }

    void insertNew(long start, long end) {
        map.entries.put(start, new VmEntry(start, end, VmProt.READ | VmProt.WRITE, VmProt.ALL, VmInherit.COPY,
                map.nextObjectId++, 0, false));
        map.virtualBytes += end - start;
        long holeStart = map.holes.floorStart(start);
        long holeEnd = holeStart + map.holes.remove(holeStart);
        map.holes.add(holeStart, start - holeStart);
        map.holes.add(end, holeEnd - end);
    }

    /** First fit of {@code size} bytes upward from the map minimum; -1 when none. */
    long findSpace(long size) {
        return map.holes.firstFit(size);
    }

    /** Entries that {@link #splitRange} of {@code [start, end)} adds: one for each end inside an entry. */
    int entriesAddedBySplitting(long start, long end) {
        VmEntry first = entryContaining(start);
        VmEntry last = map.below(end, map.maxAddress) ? entryContaining(end) : null;
        return (first != null && first.start != start ? 1 : 0) + (last != null && last.start != end ? 1 : 0);
    }

    /** Entries that {@link #removeRange} of {@code [start, end)} adds: one when a single entry holds it inside. */
    int entriesAddedByRemoving(long start, long end) {
        VmEntry e = entryContaining(start);
        return e != null && e.start != start && Long.compareUnsigned(e.end, end) > 0 ? 1 : 0;
    }

    void splitAt(long address) {
        VmEntry e = entryContaining(address);
        if (e != null && e.start != address) {
            VmEntry right = e.splitAt(address);
            map.entries.put(right.start, right);
        }
    }

    /** Splits entries at both ends and returns those inside {@code [start, end)}. */
    Iterable<VmEntry> splitRange(long start, long end) {
        splitAt(start);
        splitAt(end);
        return map.entries.subMap(start, true, end, false).values();
    }

    /** Merges neighbours around {@code [start, end)} that are windows of one object with equal attributes. */
    void simplify(long start, long end) {
        Long from = map.entries.lowerKey(start);
        Long to = map.entries.ceilingKey(end);
        NavigableMap<Long, VmEntry> window = map.entries.subMap(from == null ? start : from, true,
                to == null ? end : to, true);
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

    void removeRange(long start, long end) {
        NavigableMap<Long, VmEntry> inside = map.entries.subMap(start, true, end, false);
        splitAt(start);
        splitAt(end);
        for (VmEntry e : inside.values()) {
            map.virtualBytes -= e.size();
        }
        inside.clear();
        map.pager.releasePages(start >>> map.pageShift, end >>> map.pageShift);
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
