package io.machvm.vm;

import static io.machvm.vm.KernReturn.KERN_RESOURCE_SHORTAGE;
import static io.machvm.vm.KernReturn.MACH_SEND_INVALID_DEST;

import io.machvm.store.Budget;
import io.machvm.store.PageStore;
import io.machvm.store.StoreExhaustedException;
import java.util.Set;

/**
 * The fresh pages of a streamed write before it is swapped in: charged to the map's resident bytes as they are
 * filled, and freed at once when the map terminates (the writer's next step then fails as on a dead port).
 */
final class Upload implements AutoCloseable {
    private final PageStore store;
    private final Budget residentBytes;
    private final int pageSize;
    private final Set<Upload> registry;
    private final IntList held = new IntList(16);
    private final int[] one = new int[1];
    private long chargedBytes;
    private boolean cancelled;

    /** An upload of pages of {@code store}, charged to {@code residentBytes}, listed in {@code registry}. */
    Upload(PageStore store, Budget residentBytes, int pageSize, Set<Upload> registry) {
        this.store = store;
        this.residentBytes = residentBytes;
        this.pageSize = pageSize;
        this.registry = registry;
        registry.add(this);
    }

    /** A fresh page for the upload, charged to the map's resident bytes. */
    synchronized int newPage() {
        ensureOpen();
        Budget refused = residentBytes.tryAcquire(pageSize);
        if (refused != null) {
            throw Charge.shortage(refused, pageSize, "bytes");
        }
        try {
            store.allocate(one, 0, 1, false);
        } catch (StoreExhaustedException e) {
            residentBytes.release(pageSize);
            throw new KernException(KERN_RESOURCE_SHORTAGE, e.getMessage());
        }
        chargedBytes += pageSize;
        held.add(one[0]);
        return one[0];
    }

    synchronized void write(int page, int pageOffset, byte[] src, int srcOffset, int length) {
        ensureOpen();
        store.write(page, pageOffset, src, srcOffset, length);
    }

    /** The pages, for the commit under the map's write lock (the map's charge then covers them). */
    synchronized IntList pages() {
        ensureOpen();
        return held;
    }

    synchronized void uncharge() {
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
        registry.remove(this);
    }

    private void free() {
        store.releaseAll(held.array(), held.size());
        held.clear();
        uncharge();
    }

    private void ensureOpen() {
        if (cancelled) {
            throw new KernException(MACH_SEND_INVALID_DEST, "the task has been terminated");
        }
    }
}
