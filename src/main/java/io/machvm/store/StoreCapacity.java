package io.machvm.store;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/** The off-heap byte budget that every {@link PageStore} draws its slabs from. */
public final class StoreCapacity {
    private final long capacityBytes;
    private final AtomicLong reservedBytes = new AtomicLong();
    /** Of the reserved bytes, those in slabs that hold no page (each store keeps some for reuse). */
    private final AtomicLong emptySlabBytes = new AtomicLong();
    private final List<PageStore> stores = new CopyOnWriteArrayList<>();

    public StoreCapacity(long capacityBytes) {
        if (capacityBytes <= 0) {
            throw new IllegalArgumentException("capacity must be positive: " + capacityBytes);
        }
        this.capacityBytes = capacityBytes;
    }

    public long capacityBytes() {
        return capacityBytes;
    }

    public long remainingBytes() {
        return capacityBytes - reservedBytes.get();
    }

    /** Reserves up to {@code wantedBytes}, rounded down to {@code unitBytes}; returns what was reserved (0: none left). */
    long reserveUpTo(long wantedBytes, long unitBytes) {
        while (true) {
            long reserved = reservedBytes.get();
            long grant = Math.min(wantedBytes, capacityBytes - reserved);
            grant -= grant % unitBytes;
            if (grant <= 0) {
                return 0;
            }
            if (reservedBytes.compareAndSet(reserved, reserved + grant)) {
                return grant;
            }
        }
    }

    void release(long bytes) {
        reservedBytes.addAndGet(-bytes);
    }

    /** Reserved bytes held in empty slabs that their stores give back on demand. */
    public long emptySlabBytes() {
        return emptySlabBytes.get();
    }

    void register(PageStore store) {
        stores.add(store);
    }

    void emptySlabBytesChanged(long delta) {
        emptySlabBytes.addAndGet(delta);
    }

    /** Makes every store but {@code asking} give its empty slabs back. */
    void reclaimEmptySlabs(PageStore asking) {
        for (PageStore store : stores) {
            if (store != asking) {
                store.releaseEmptySlabs();
            }
        }
    }
}
