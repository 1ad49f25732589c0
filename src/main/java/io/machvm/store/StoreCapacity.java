package io.machvm.store;

import java.util.concurrent.atomic.AtomicLong;

/** The off-heap byte budget that every {@link PageStore} draws its slabs from. */
public final class StoreCapacity {
    private final long capacityBytes;
    private final AtomicLong reservedBytes = new AtomicLong();

    public StoreCapacity(long capacityBytes) {
        if (capacityBytes <= 0) {
            throw new IllegalArgumentException("capacity must be positive: " + capacityBytes);
        }
        this.capacityBytes = capacityBytes;
    }

    public long capacityBytes() {
        return capacityBytes;
    }

    public long reservedBytes() {
        return reservedBytes.get();
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
}
