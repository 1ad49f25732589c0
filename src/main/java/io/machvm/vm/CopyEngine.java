package io.machvm.vm;

import static io.machvm.vm.KernReturn.KERN_INVALID_ADDRESS;
import static io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT;
import static io.machvm.vm.KernReturn.KERN_PROTECTION_FAILURE;
import static io.machvm.vm.KernReturn.KERN_RESOURCE_SHORTAGE;

import io.machvm.store.Budget;
import io.machvm.store.PageStore;
import io.machvm.store.StoreExhaustedException;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Objects;

/**
 * How bytes get into a map: {@code vm_write} in place or through fresh pages, the streamed write's capture of its
 * body, and the copy-on-write overwrite of {@code vm_copy} and {@code vm_read_overwrite} from a {@link Capture} of the
 * source. Every method runs under the lock of the map it belongs to, as its caller says.
 */
final class CopyEngine {
    /** Bytes a streaming write moves per read from its source. */
    private static final int STREAM_CHUNK = 64 * 1024;
    private final VmMap map;

    CopyEngine(VmMap map) {
        this.map = map;
    }

    /**
     * {@link VmMap#write(long, byte[], int, int)}: its own skeleton rather than {@link VmMap#update}, so that the write
     * into a page already private and dirty (the hottest call) allocates nothing and, having grown nothing, settles
     * nothing; every other write settles after, as {@link VmMap#update} does.
     */
    void write(long address, byte[] data, int offset, int length) {
        map.lock.writeLock().lock();
        try {
            map.ensureAlive();
            if (length == 0) {
                return;
            }
            checkWritable(address, length);
            if (writeInPlace(address, data, offset, length)) {
                return;
            }
            try {
                writeLocked(address, data, offset, length);
            } finally {
                map.settle();
            }
        } finally {
            map.lock.writeLock().unlock();
        }
    }

    /**
     * Writes bytes that fall in one page this map alone holds and has already marked dirty: in place, and nothing the
     * budgets count can grow (no page, no page-table node, no dirty word), so there is nothing to settle after.
     *
     * @return false, having changed nothing, when the bytes do not fall in such a page
     */
    private boolean writeInPlace(long address, byte[] data, int offset, int length) {
        long page = address >>> map.pageShift;
        if (page != (address + length - 1) >>> map.pageShift) {
            return false;
        }
        int h = map.pager.pageAt(page);
        if (h == PageStore.NO_PAGE || map.store.isShared(h) || !map.pager.isDirty(page)) {
            return false;
        }
        map.pager.markDirty(page); // already dirty: marked again only as changed, for the checkpoint
        map.store.write(h, (int) (address & map.pageMask), data, offset, length);
        return true;
    }

    /** Writes bytes that {@link #writeInPlace} does not take, bounding their growth first; the caller settles after. */
    private void writeLocked(long address, byte[] data, int offset, int length) {
        long firstPage = address >>> map.pageShift;
        long lastPage = (address + length - 1) >>> map.pageShift;
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

    long streamIntoFreshPages(long address, InputStream source, long declaredLength, long maxLength,
            Upload upload) throws IOException {
        byte[] chunk = new byte[(int) Math.min(STREAM_CHUNK, declaredLength > 0 ? declaredLength : STREAM_CHUNK)];
        long total = 0;
        int page = PageStore.NO_PAGE;
        int fill = (int) (address & map.pageMask);
        while (declaredLength < 0 || total < declaredLength) {
            int want = declaredLength < 0 ? chunk.length : (int) Math.min(chunk.length, declaredLength - total);
            int n = source.read(chunk, 0, want);
            if (n < 0) {
                if (declaredLength >= 0) {
                    throw new EOFException("body ended after " + total + " of " + declaredLength + " bytes");
                }
                break;
            }
            if (total + n > maxLength) {
                checkSeenSoFar(address, total + n, declaredLength);
                throw transferLimit(total + n, maxLength);
            }
            int pos = 0;
            while (pos < n) {
                if (page == PageStore.NO_PAGE || fill == map.pageSize) {
                    if (page != PageStore.NO_PAGE) {
                        fill = 0;
                    }
                    try {
                        page = upload.newPage();
                    } catch (KernException e) {
                        if (e.kern() == KERN_RESOURCE_SHORTAGE) {
                            checkSeenSoFar(address, total + n, declaredLength);
                        }
                        throw e;
                    }
                }
                int k = Math.min(n - pos, map.pageSize - fill);
                upload.write(page, fill, chunk, pos, k);
                fill += k;
                pos += k;
            }
            total += n;
        }
        return total;
    }

    /**
     * Before a service limit fails a body of unknown length, the Mach checks of the bytes that arrived come first (a
     * declared length was checked whole before the body was read).
     */
    void checkSeenSoFar(long address, long seenBytes, long declaredLength) {
        if (declaredLength < 0) {
            map.lock.readLock().lock();
            try {
                map.ensureAlive();
                checkWritable(address, seenBytes);
            } finally {
                map.lock.readLock().unlock();
            }
        }
    }

    static TransferLimitException transferLimit(long length, long maxLength) {
        return new TransferLimitException(maxLength, "transfer of " + length + " bytes exceeds the limit of "
                + maxLength + " bytes");
    }

    /**
     * References the pages of a range in a table of their own; the table's nodes are charged to this map's budget
     * (it is at most as large as the map's own).
     *
     * @throws KernException {@code KERN_RESOURCE_SHORTAGE} when the budget refuses; nothing is held then
     */
    Capture capture(long address, long size) {
        Capture capture = new Capture(map.store, address, size, map.pageShift);
        try {
            map.pager.forEachPage(address >>> map.pageShift, ((address + size - 1) >>> map.pageShift) + 1, (p, h) -> {
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
     * Writes a captured source range to {@code dest} (validated). Whole destination pages at the same in-page offset
     * as their source in the same store share the source page; everything else moves bytes. Only pages that are
     * resident on either side are visited, so a copy of untouched memory costs nothing per page.
     */
    long applyCopy(Capture src, long dest) {
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
     * source pages become unbacked; all are marked dirty, as {@link #applyCopy} does. Visits only resident pages, in
     * order, without collecting, sorting or classifying them.
     *
     * @return the bytes shared
     */
    private long shareWholePages(Capture src, long firstPage, long endPage, long deltaPages) {
        // The bound, a leaf at a time rather than a page at a time, so that the pass below is the only one per page.
        PageGrowth growth = new PageGrowth(map);
        growth.shareWithin(firstPage, endPage, deltaPages);
        growth.reserve();
        IntList replaced = new IntList(16);
        long[] shared = {0};
        map.pages.forEach(firstPage, endPage, (p, h) -> {
            if (src.table.get(p - deltaPages) == PageStore.NO_PAGE) {
                replaced.add(map.pager.replacePage(p, PageStore.NO_PAGE));
                shared[0]++;
            }
        });
        src.table.forEach(src.firstPage(), src.endPage(), (s, h) -> {
            map.store.retain(h);
            replaced.add(map.pager.replacePage(s + deltaPages, h));
            shared[0]++;
        });
        map.store.releaseAll(replaced.array(), replaced.size());
        return shared[0] << map.pageShift;
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
            return map.NO_HANDLES;
        }
        int[] out = new int[count];
        try {
            map.store.allocate(out, 0, count, zeroed);
        } catch (StoreExhaustedException e) {
            throw new KernException(KERN_RESOURCE_SHORTAGE, e.getMessage());
        }
        return out;
    }

    void checkReadable(long address, long size, boolean readLimit) {
        if (size == 0) {
            return;
        }
        if (readLimit && Long.compareUnsigned(size, map.MAX_READ_SIZE) > 0) {
            throw new KernException(KERN_INVALID_ARGUMENT, "size " + VmMap.hex(size)
                    + " exceeds the 32-bit limit of vm_read (0xffffffff)");
        }
        VmSanitize.copyRange("source", address, size);
        checkAccess(address, size, VmProt.READ, "source", map);
    }

    void checkWritable(long address, long size) {
        checkWritable(address, size, map);
    }

    /**
     * Destination rules of a transfer made by a call on {@code caller}: its flavor's S and its error model chose the
     * transfer path (XNU decides it when copying the source in), and the path decides the protection code.
     */
    void checkWritable(long address, long size, VmMap caller) {
        VmSanitize.copyRange("destination", address, size);
        checkAccess(address, size, VmProt.WRITE, "destination", caller);
    }

    /**
     * Checks that every page of {@code [address, address + size)} is mapped with {@code access}; the first problem in
     * address order wins. {@code size > 0} and the byte range does not wrap. {@code caller}'s transfer path decides
     * the protection code.
     */
    void checkAccess(long address, long size, int access, String role, VmMap caller) {
        long cursor = map.trunc(address);
        long end = map.round(address + size); // 0 when rounding wraps: then the range ends past the map anyway
        while (end == 0 || map.below(cursor, end)) {
            VmEntry e = map.below(cursor, map.minAddress) || !map.below(cursor, map.maxAddress) ? null : map.entryList.entryContaining(cursor);
            if (e == null) {
                throw new KernException(KERN_INVALID_ADDRESS, role + " range at " + VmMap.hex(address) + " of " + VmMap.hex(size)
                        + " bytes: " + VmMap.hex(cursor) + " is not mapped");
            }
            if ((e.protection & access) != access) {
                KernReturn kern = caller.errors == ErrorModel.XNU
                        && Long.compareUnsigned(size, caller.flavor.smallTransferLimit()) <= 0
                        ? KERN_INVALID_ADDRESS
                        : KERN_PROTECTION_FAILURE;
                throw new KernException(kern, role + " range at " + VmMap.hex(address) + " of " + VmMap.hex(size) + " bytes: ["
                        + VmMap.hex(e.start) + ", " + VmMap.hex(e.end) + ") is " + VmProt.format(e.protection) + ", not "
                        + (access == VmProt.READ ? "readable" : "writable"));
            }
            cursor = e.end;
        }
    }

    void copyOut(long address, byte[] out, int outOffset, int length) {
        long at = address;
        int done = 0;
        while (done < length) {
            int pageOffset = (int) (at & map.pageMask);
            int n = Math.min(length - done, map.pageSize - pageOffset);
            map.store.read(map.pager.pageAt(at >>> map.pageShift), pageOffset, out, outOffset + done, n);
            done += n;
            at += n;
        }
    }

    /** Registers a streamed write on a live map, so that terminating the map frees the pages it holds. */
    Upload openUpload() {
        return map.query(() -> {
            return new Upload(map.store, map.budgets.residentBytes(), map.pageSize, map.uploads);
        });
    }

    long writeStream(long address, InputStream source, long declaredLength, long maxLength) throws IOException {
        if (declaredLength <= 0) {
            map.ensureAliveLocked(); // a dead task fails before a byte of the body is read
            if (declaredLength == 0) {
                return 0;
            }
        }
        if (declaredLength > 0) {
            map.lock.readLock().lock();
            try {
                map.ensureAlive();
                checkWritable(address, declaredLength); // fail fast, before a byte of the body is read
            } finally {
                map.lock.readLock().unlock();
            }
            if (declaredLength > maxLength) {
                throw transferLimit(declaredLength, maxLength);
            }
        }
        Upload upload = openUpload();
        try {
            long total = streamIntoFreshPages(address, source, declaredLength, maxLength, upload);
            if (total == 0) {
                map.ensureAliveLocked();
                return 0;
            }
            int[] replaced;
            map.lock.writeLock().lock();
            try {
                map.ensureAlive();
                checkWritable(address, total); // the map may have changed while the body streamed in
                long firstPage = address >>> map.pageShift;
                IntList fresh = upload.pages();
                int count = fresh.size();
                PageGrowth growth = new PageGrowth(map);
                growth.range(firstPage, firstPage + count);
                upload.uncharge(); // the map's charge takes the map.pages over
                growth.reserve();
                int headOffset = (int) (address & map.pageMask);
                int tailEnd = (int) ((address + total) & map.pageMask);
                if (headOffset > 0) {
                    map.store.copy(map.pager.pageAt(firstPage), 0, fresh.get(0), 0, headOffset);
                }
                if (tailEnd > 0) {
                    int last = fresh.get(count - 1);
                    map.store.copy(map.pager.pageAt(firstPage + count - 1), tailEnd, last, tailEnd, map.pageSize - tailEnd);
                }
                replaced = new int[count];
                for (int i = 0; i < count; i++) {
                    replaced[i] = map.pager.replacePage(firstPage + i, fresh.get(i));
                }
                fresh.clear(); // the map owns them now
            } finally {
                map.settle();
                map.lock.writeLock().unlock();
            }
            map.store.releaseAll(replaced, replaced.length);
            return total;
        } finally {
            upload.close();
        }
    }

    static long readOverwrite(VmMap source, long address, long size, VmMap dest, long destAddress,
            java.util.function.LongConsumer sharedBytes) {
        if (source == dest) {
            long shared = source.copy(address, size, destAddress);
            if (sharedBytes != null) {
                sharedBytes.accept(shared);
            }
            return size;
        }
        Capture capture;
        source.lock.readLock().lock();
        try {
            source.ensureAlive();
            if (size == 0) {
                capture = null;
            } else {
                source.copier.checkReadable(address, size, false);
                capture = source.copier.capture(address, size);
            }
        } finally {
            source.lock.readLock().unlock();
        }
        // The source lock is released before the destination's is taken: no lock order, no deadlock.
        dest.lock.writeLock().lock();
        try {
            dest.ensureAlive();
            if (capture != null) {
                dest.copier.checkWritable(destAddress, size, source);
                long shared = dest.copier.applyCopy(capture, destAddress);
                if (sharedBytes != null) {
                    sharedBytes.accept(shared);
                }
            }
            return size;
        } finally {
            dest.settle();
            dest.lock.writeLock().unlock();
            if (capture != null) {
                capture.release();
            }
        }
    }
}
