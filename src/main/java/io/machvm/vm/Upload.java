package io.machvm.vm;

import static io.machvm.vm.KernReturn.KERN_RESOURCE_SHORTAGE;
import static io.machvm.vm.KernReturn.MACH_SEND_INVALID_DEST;

import io.machvm.store.Budget;
import io.machvm.store.PageStore;
import io.machvm.store.StoreExhaustedException;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;

/**
 * A streamed {@code vm_write}: the body is copied in to fresh pages, charged to the map's resident bytes as they are
 * filled and freed at once when the map terminates (the writer's next step then fails as on a dead port); when the
 * whole body has arrived, the pages are one {@link Capture} that the map's {@link CopyEngine} writes over the
 * destination, as it writes the source of a copy. A body that fails or ends early leaves the task unchanged, and is
 * never held whole in heap memory.
 */
final class Upload implements AutoCloseable {
    /** Bytes a streaming write moves per read from its source. */
    private static final int STREAM_CHUNK = 64 * 1024;

    private final VmMap map;
    private final Budget residentBytes;
    /** The body's pages, from page 0; its first byte is at the destination's offset in its page. */
    private PageTable pages = new PageTable();
    private long nextPage;
    private final int[] one = new int[1];
    private long chargedBytes;
    private boolean cancelled;

    /** An upload into {@code map}, listed in the map's uploads. */
    private Upload(VmMap map) {
        this.map = map;
        this.residentBytes = map.budgets.residentBytes();
        map.uploads.add(this);
    }

    /**
     * {@code vm_write} of {@code source} at {@code address} of {@code map}: see
     * {@link VmMap#write(long, InputStream, long, long)}.
     */
    static long write(VmMap map, long address, InputStream source, long declaredLength, long maxLength)
            throws IOException {
        if (declaredLength <= 0) {
            map.ensureAliveLocked(); // a dead task fails before a byte of the body is read
            if (declaredLength == 0) {
                return 0;
            }
        } else {
            checkDestination(map, address, declaredLength); // fail fast, before a byte of the body is read
            if (declaredLength > maxLength) {
                throw transferLimit(declaredLength, maxLength);
            }
        }
        Upload upload = map.query(() -> new Upload(map));
        try {
            long total = upload.copyin(address, source, declaredLength, maxLength);
            if (total == 0) {
                map.ensureAliveLocked();
                return 0;
            }
            return map.update(() -> {
                // The map may have changed while the body streamed in.
                VmRange dest = VmSanitize.copyRange("destination", address, total);
                map.copier.checkWritable(dest, map);
                Capture body = upload.capture(dest);
                try {
                    map.copier.overwrite(body, dest);
                } finally {
                    body.release();
                }
                return total;
            });
        } finally {
            upload.close();
        }
    }

    /** The Mach checks of a destination of {@code size} bytes, under the read lock. */
    private static void checkDestination(VmMap map, long address, long size) {
        map.query(() -> {
            map.copier.checkWritable(VmSanitize.copyRange("destination", address, size), map);
            return null;
        });
    }

    /** Reads the body into fresh pages; returns its length. */
    private long copyin(long address, InputStream source, long declaredLength, long maxLength) throws IOException {
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
                        page = newPage();
                    } catch (KernException e) {
                        if (e.kern() == KERN_RESOURCE_SHORTAGE) {
                            checkSeenSoFar(address, total + n, declaredLength);
                        }
                        throw e;
                    }
                }
                int k = Math.min(n - pos, map.pageSize - fill);
                write(page, fill, chunk, pos, k);
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
    private void checkSeenSoFar(long address, long seenBytes, long declaredLength) {
        if (declaredLength < 0) {
            checkDestination(map, address, seenBytes);
        }
    }

    private static TransferLimitException transferLimit(long length, long maxLength) {
        return new TransferLimitException(maxLength, "transfer of " + length + " bytes exceeds the limit of "
                + maxLength + " bytes");
    }

    /** A fresh page for the upload, charged to the map's resident bytes. */
    private synchronized int newPage() {
        ensureOpen();
        Budget refused = residentBytes.tryAcquire(map.pageSize);
        if (refused != null) {
            throw Charge.shortage(refused, map.pageSize, "bytes");
        }
        try {
            map.store.allocate(one, 0, 1, false);
        } catch (StoreExhaustedException e) {
            residentBytes.release(map.pageSize);
            throw new KernException(KERN_RESOURCE_SHORTAGE, e.getMessage());
        }
        chargedBytes += map.pageSize;
        pages.set(nextPage++, one[0]);
        return one[0];
    }

    private synchronized void write(int page, int pageOffset, byte[] src, int srcOffset, int length) {
        ensureOpen();
        map.store.write(page, pageOffset, src, srcOffset, length);
    }

    /**
     * The body as a capture to write over {@code dest}, which takes its pages over; under the map's write lock, where
     * the map's charge takes over from the upload's.
     */
    private synchronized Capture capture(VmRange dest) {
        ensureOpen();
        Capture capture = Capture.adopt(map.store, pages, (int) (dest.start() & map.pageMask), dest.size(),
                map.pageShift);
        pages = new PageTable();
        uncharge();
        return capture;
    }

    private synchronized void uncharge() {
        residentBytes.release(chargedBytes);
        chargedBytes = 0;
    }

    /** The map terminated: frees the pages now. */
    synchronized void cancel() {
        cancelled = true;
        free();
    }

    @Override
    public synchronized void close() {
        free();
        map.uploads.remove(this);
    }

    private void free() {
        IntList held = new IntList(16);
        pages.forEach(0, PageTable.MAX_PAGES, (p, h) -> held.add(h));
        map.store.releaseAll(held.array(), held.size());
        pages = new PageTable();
        uncharge();
    }

    private void ensureOpen() {
        if (cancelled) {
            throw new KernException(MACH_SEND_INVALID_DEST, "the task has been terminated");
        }
    }
}
