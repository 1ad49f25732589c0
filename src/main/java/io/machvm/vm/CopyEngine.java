package io.machvm.vm;

import static io.machvm.vm.KernReturn.KERN_INVALID_ADDRESS;
import static io.machvm.vm.KernReturn.KERN_PROTECTION_FAILURE;
import static io.machvm.vm.KernReturn.KERN_RESOURCE_SHORTAGE;

import io.machvm.store.Budget;
import io.machvm.store.PageStore;
import io.machvm.store.StoreExhaustedException;
import java.util.function.LongConsumer;

/**
 * How bytes move into and out of a map, as XNU's {@code vm_map_copyin}, {@code vm_map_copy_overwrite} and
 * {@code vm_map_copyout}: a source is copied in to a {@link Capture} (pages referenced as they are, or bytes already
 * in memory), and a destination is overwritten from a capture in two passes: {@link #checkWritable} finds every
 * problem of the whole destination before anything changes, then {@link #overwrite} writes it, copy-on-write where
 * pages are shared. {@code vm_write} (in place or streamed: {@link Upload}), {@code vm_copy} and
 * {@code vm_read_overwrite} all go through it. Every method runs under the lock of the map it belongs to, as its
 * caller says.
 */
final class CopyEngine {
    private final VmMap map;

    CopyEngine(VmMap map) {
        this.map = map;
    }

    // ---------------------------------------------------------------- the first pass: checks

    /** Checks that every page of {@code source} is mapped readable; the first problem in address order wins. */
    void checkReadable(VmRange source) {
        checkAccess(source, VmProt.READ, "source", map);
    }

    /**
     * Checks that every page of {@code dest} is mapped writable, the first problem in address order winning: the
     * first pass of an overwrite. {@code caller} is the map the call was made on: its flavor's S and its error model
     * chose the transfer path (XNU decides it when copying the source in), and the path decides the protection code.
     */
    void checkWritable(VmRange dest, VmMap caller) {
        checkAccess(dest, VmProt.WRITE, "destination", caller);
    }

    private void checkAccess(VmRange range, int access, String role, VmMap caller) {
        long address = range.start();
        long size = range.size();
        long cursor = map.trunc(address);
        long end = map.round(range.end()); // 0 when rounding wraps: then the range ends past the map anyway
        while (end == 0 || VmMap.below(cursor, end)) {
            VmEntry e = VmMap.below(cursor, map.minAddress) || !VmMap.below(cursor, map.maxAddress) ? null
                    : map.entryList.entryContaining(cursor);
            if (e == null) {
                throw new KernException(KERN_INVALID_ADDRESS, role + " range at " + VmMap.hex(address) + " of "
                        + VmMap.hex(size) + " bytes: " + VmMap.hex(cursor) + " is not mapped");
            }
            if ((e.protection & access) != access) {
                KernReturn kern = caller.errors == ErrorModel.XNU
                        && Long.compareUnsigned(size, caller.flavor.smallTransferLimit()) <= 0
                        ? KERN_INVALID_ADDRESS
                        : KERN_PROTECTION_FAILURE;
                throw new KernException(kern, role + " range at " + VmMap.hex(address) + " of " + VmMap.hex(size)
                        + " bytes: [" + VmMap.hex(e.start) + ", " + VmMap.hex(e.end) + ") is "
                        + VmProt.format(e.protection) + ", not " + (access == VmProt.READ ? "readable" : "writable"));
            }
            cursor = e.end;
        }
    }

    // ---------------------------------------------------------------- copyin

    /**
     * References the pages of {@code source} in a table of their own; the table's nodes are charged to this map's
     * budget (it is at most as large as the map's own).
     *
     * @throws KernException {@code KERN_RESOURCE_SHORTAGE} when the budget refuses; nothing is held then
     */
    Capture capture(VmRange source) {
        Capture capture = Capture.pages(map.store, source, map.pageShift);
        try {
            map.pager.forEachPage(source.firstPage(map.pageShift), source.endPage(map.pageShift), (p, h) -> {
                map.store.retain(h);
                capture.table.set(p, h);
            });
            long nodes = capture.table.nodes();
            Budget refused = map.budgets.pageTableNodes().tryAcquire(nodes);
            if (refused != null) {
                throw Charge.shortage(refused, nodes, "page-table nodes");
            }
            capture.nodeBudget = map.budgets.pageTableNodes();
            capture.chargedNodes = nodes;
        } catch (RuntimeException | Error e) {
            capture.release();
            throw e;
        }
        return capture;
    }

    /**
     * The source of a copy within this map to {@code dest}. When their page ranges do not overlap and every page is
     * private to this map, the copy cannot change its own source, so its pages are read straight from the page table
     * instead of being captured (a reference taken and dropped per page).
     */
    Capture copyin(VmRange source, VmRange dest) {
        int shift = map.pageShift;
        boolean disjoint = source.endPage(shift) <= dest.firstPage(shift)
                || dest.endPage(shift) <= source.firstPage(shift);
        return disjoint && map.sharedRanges == null ? Capture.borrow(map.store, map.pages, source, shift)
                : capture(source);
    }

    // ---------------------------------------------------------------- the second pass: overwrite

    /**
     * Writes {@code src} over {@code dest}, which {@link #checkWritable} has validated and which is as long as the
     * capture.
     *
     * @return the bytes that were shared copy-on-write rather than moved
     */
    long overwrite(Capture src, VmRange dest) {
        if (src.isBuffer()) {
            writeBuffer(src, dest);
            return 0;
        }
        return applyCopy(src, dest);
    }

    /**
     * Writes bytes that fall in one page this map alone holds and has already marked dirty, which {@link #checkWritable}
     * has validated: in place, and nothing the budgets count can grow (no page, no page-table node, no dirty word), so
     * the caller has nothing to settle after. The hottest call: it allocates nothing.
     *
     * @return false, having changed nothing, when the bytes do not fall in such a page
     */
    boolean writeInPlace(VmRange dest, byte[] data, int offset, int length) {
        long page = dest.firstPage(map.pageShift);
        if (page != dest.endPage(map.pageShift) - 1) {
            return false;
        }
        int h = map.pager.pageAt(page);
        if (h == PageStore.NO_PAGE || map.store.isShared(h) || !map.pager.isDirty(page)) {
            return false;
        }
        map.pager.markDirty(page); // already dirty: marked again only as changed, for the checkpoint
        map.store.write(h, (int) (dest.start() & map.pageMask), data, offset, length);
        return true;
    }

    /** Writes a buffer in place where this map alone holds the pages, into fresh pages elsewhere. */
    private void writeBuffer(Capture src, VmRange dest) {
        long address = dest.start();
        int length = (int) src.size;
        byte[] data = src.buffer;
        int offset = src.bufferOffset;
        long firstPage = dest.firstPage(map.pageShift);
        long lastPage = dest.endPage(map.pageShift) - 1;
        PageGrowth growth = new PageGrowth(map);
        growth.range(firstPage, lastPage + 1);
        growth.reserve();
        if (firstPage == lastPage) {
            int h = map.pager.pageAt(firstPage);
            if (h != PageStore.NO_PAGE && !map.store.isShared(h)) { // one page, ours alone: written in place
                map.pager.markDirty(firstPage);
                map.store.write(h, (int) (address & map.pageMask), data, offset, length);
                return;
            }
        }
        int needed = 0;
        for (long p = firstPage; p <= lastPage; p++) {
            int h = map.pager.pageAt(p);
            if (h == PageStore.NO_PAGE || map.store.isShared(h)) {
                needed++;
            }
        }
        FreshPages fresh = new FreshPages(allocatePages(needed, false));
        IntList replaced = new IntList(Math.min(needed, 64));
        long at = address;
        int done = 0;
        for (long p = firstPage; p <= lastPage; p++) {
            int lo = (int) (at & map.pageMask);
            int n = Math.min(length - done, map.pageSize - lo);
            int h = writablePage(p, lo, lo + n, fresh, replaced);
            map.store.write(h, lo, data, offset + done, n);
            done += n;
            at += n;
        }
        map.store.releaseAll(replaced.array(), replaced.size());
        fresh.releaseRest();
    }

    /** Fresh pages counted for a write, taken one by one. */
    private final class FreshPages {
        private final int[] pages;
        private int next;

        FreshPages(int[] pages) {
            this.pages = pages;
        }

        int take() {
            return pages[next++];
        }

        /** Frees those not taken: a snapshot closed since the count, so a page it shared was written in place. */
        void releaseRest() {
            if (next < pages.length) {
                map.store.releaseAll(java.util.Arrays.copyOfRange(pages, next, pages.length), pages.length - next);
            }
        }
    }

    /**
     * The page that bytes {@code [lo, hi)} of page {@code p} are written into, marked dirty: its own page when the
     * map alone holds it; otherwise (the zero page, or a page shared copy-on-write) a fresh page, filled outside
     * {@code [lo, hi)} from the old content and installed, the old handle added to {@code replaced}.
     */
    private int writablePage(long p, int lo, int hi, FreshPages fresh, IntList replaced) {
        int h = map.pager.pageAt(p);
        map.pager.markDirty(p);
        if (h != PageStore.NO_PAGE && !map.store.isShared(h)) {
            return h;
        }
        int target = fresh.take();
        fillOutside(target, lo, hi, h);
        map.pager.replacePage(p, target);
        if (h != PageStore.NO_PAGE) {
            replaced.add(h);
        }
        return target;
    }

    /** Fills a fresh page outside {@code [lo, hi)} from {@code oldHandle} (zeros for the zero page). */
    private void fillOutside(int fresh, int lo, int hi, int oldHandle) {
        if (lo > 0) {
            map.store.copy(oldHandle, 0, fresh, 0, lo);
        }
        if (hi < map.pageSize) {
            map.store.copy(oldHandle, hi, fresh, hi, map.pageSize - hi);
        }
    }

    /**
     * Writes captured pages over {@code destRange}. Whole destination pages at the same in-page offset as their source
     * in the same store share the source page; everything else moves bytes. Only pages that are resident on either
     * side are visited, so a copy of untouched memory costs nothing per page.
     */
    private long applyCopy(Capture src, VmRange destRange) {
        long dest = destRange.start();
        long size = src.size;
        long delta = dest - src.address;
        boolean shareable = src.store == map.store && (delta & map.pageMask) == 0 && src.pageShift == map.pageShift;
        long firstPage = dest >>> map.pageShift;
        long lastPage = (dest + size - 1) >>> map.pageShift;
        if (shareable && src.borrowed && (dest & map.pageMask) == 0 && (size & map.pageMask) == 0) {
            return shareWholePages(src, firstPage, lastPage + 1, delta >> map.pageShift);
        }
        LongList candidates = new LongList();
        map.pager.forEachPage(firstPage, lastPage + 1, (p, h) -> candidates.add(p));
        int srcShift = src.pageShift;
        src.table.forEach(src.firstPage(), src.endPage(), (s, h) -> {
            long lo = Math.max(s << srcShift, src.address) + delta;
            long hi = Math.min((s + 1) << srcShift, src.address + size) + delta;
            for (long p = lo >>> map.pageShift; p <= (hi - 1) >>> map.pageShift; p++) {
                candidates.add(p);
            }
        });
        candidates.sortDistinct();

        int needed = 0;
        PageGrowth growth = new PageGrowth(map);
        for (int i = 0; i < candidates.size(); i++) {
            long p = candidates.get(i);
            int action = copyAction(src, p, dest, size, delta, shareable);
            if (action != SKIP) {
                growth.page(p);
            }
            if (action == COPY_BYTES) {
                int h = map.pager.pageAt(p);
                if (h == PageStore.NO_PAGE || map.store.isShared(h)) {
                    needed++;
                }
            }
        }
        growth.reserve();
        FreshPages fresh = new FreshPages(allocatePages(needed, false));
        long sharedPages = 0;
        IntList replaced = new IntList(16);
        for (int i = 0; i < candidates.size(); i++) {
            long p = candidates.get(i);
            long pageBase = p << map.pageShift;
            int action = copyAction(src, p, dest, size, delta, shareable);
            if (action == SHARE) {
                int h = src.handleAt(pageBase - delta);
                map.store.retain(h);
                replaced.add(map.pager.replacePage(p, h));
                sharedPages++;
            } else if (action == COPY_BYTES) {
                int lo = (int) (Math.max(dest, pageBase) - pageBase);
                int hi = (int) (Math.min(dest + size, pageBase + map.pageSize) - pageBase);
                int h = writablePage(p, lo, hi, fresh, replaced);
                copyBytesFrom(src, pageBase + lo - delta, h, lo, hi - lo);
            }
        }
        map.store.releaseAll(replaced.array(), replaced.size());
        fresh.releaseRest();
        return sharedPages << map.pageShift;
    }

    /**
     * The copy-on-write copy of whole pages between disjoint page ranges of this map (no shared ranges): each
     * destination page takes its source page's handle (one reference more), and destination pages over unbacked
     * source pages become unbacked; all are marked dirty, as {@link #applyCopy} does. The page table does it a run of
     * a leaf at a time ({@link PageTable#overwriteFrom}), and the store takes and drops each run's references in a
     * batch. A reference dropped here never frees a page the copy takes: a page in the source range keeps the
     * source's reference throughout.
     *
     * @return the bytes shared
     */
    private long shareWholePages(Capture src, long firstPage, long endPage, long deltaPages) {
        // The bound, a leaf at a time rather than a page at a time, so that the pass below is the only one per page.
        PageGrowth growth = new PageGrowth(map);
        growth.shareWithin(firstPage, endPage, deltaPages);
        growth.reserve();
        PageStore store = map.store;
        long shared = map.pages.overwriteFrom(src.table, firstPage, endPage, deltaPages,
                (taken, takenFrom, dropped, droppedFrom, length) -> {
                    store.retainAll(taken, takenFrom, length);
                    store.releaseAll(dropped, droppedFrom, length);
                }, map.dirty);
        return shared << map.pageShift;
    }

    private static final int SKIP = 0;
    private static final int SHARE = 1;
    private static final int COPY_BYTES = 2;

    private int copyAction(Capture src, long p, long dest, long size, long delta, boolean shareable) {
        long pageBase = p << map.pageShift;
        long lo = Math.max(dest, pageBase);
        long hi = Math.min(dest + size, pageBase + map.pageSize);
        if (shareable && lo == pageBase && hi == pageBase + map.pageSize) {
            return SHARE;
        }
        if (map.pager.pageAt(p) == PageStore.NO_PAGE && !src.anyResident(lo - delta, hi - delta)) {
            return SKIP; // zeros onto zeros
        }
        return COPY_BYTES;
    }

    private void copyBytesFrom(Capture src, long srcAddress, int dstHandle, int dstOffset, int length) {
        int srcPageSize = 1 << src.pageShift;
        long srcMask = srcPageSize - 1L;
        while (length > 0) {
            int srcOffset = (int) (srcAddress & srcMask);
            int n = Math.min(length, srcPageSize - srcOffset);
            map.store.copyFrom(src.store, src.handleAt(srcAddress), srcOffset, dstHandle, dstOffset, n);
            srcAddress += n;
            dstOffset += n;
            length -= n;
        }
    }

    private int[] allocatePages(int count, boolean zeroed) {
        if (count == 0) {
            return VmMap.NO_HANDLES;
        }
        int[] out = new int[count];
        try {
            map.store.allocate(out, 0, count, zeroed);
        } catch (StoreExhaustedException e) {
            throw new KernException(KERN_RESOURCE_SHORTAGE, e.getMessage());
        }
        return out;
    }

    // ---------------------------------------------------------------- copyout

    /** Copies the bytes of {@code source} into {@code out} from {@code outOffset}. */
    void copyOut(VmRange source, byte[] out, int outOffset) {
        long at = source.start();
        int length = (int) source.size();
        int done = 0;
        while (done < length) {
            int pageOffset = (int) (at & map.pageMask);
            int n = Math.min(length - done, map.pageSize - pageOffset);
            map.store.read(map.pager.pageAt(at >>> map.pageShift), pageOffset, out, outOffset + done, n);
            done += n;
            at += n;
        }
    }

    /** References the pages of {@code source} for a {@link PageSnapshot}, to be read after the lock is released. */
    PageSnapshot snapshot(VmRange source) {
        long firstPage = source.firstPage(map.pageShift);
        int count = (int) (source.endPage(map.pageShift) - firstPage);
        int[] handles = new int[count];
        for (int i = 0; i < count; i++) {
            int h = map.pager.pageAt(firstPage + i);
            map.store.retain(h);
            handles[i] = h;
        }
        return new PageSnapshot(map.store, handles, (int) (source.start() & map.pageMask), source.size());
    }

    // ---------------------------------------------------------------- vm_read_overwrite between maps

    /** {@code vm_read_overwrite}: see {@link VmMap#readOverwrite(VmMap, long, long, VmMap, long, LongConsumer)}. */
    static long readOverwrite(VmMap source, long address, long size, VmMap dest, long destAddress,
            LongConsumer sharedBytes) {
        if (source == dest) {
            long shared = source.copy(address, size, destAddress);
            if (sharedBytes != null) {
                sharedBytes.accept(shared);
            }
            return size;
        }
        Capture capture = source.query(() -> {
            if (size == 0) {
                return null;
            }
            VmRange from = VmSanitize.copyRange("source", address, size);
            source.copier.checkReadable(from);
            return source.copier.capture(from);
        });
        // The source lock is released before the destination's is taken: no lock order, no deadlock.
        try {
            return dest.update(() -> {
                if (capture != null) {
                    VmRange to = VmSanitize.copyRange("destination", destAddress, size);
                    dest.copier.checkWritable(to, source);
                    long shared = dest.copier.overwrite(capture, to);
                    if (sharedBytes != null) {
                        sharedBytes.accept(shared);
                    }
                }
                return size;
            });
        } finally {
            if (capture != null) {
                capture.release();
            }
        }
    }
}
