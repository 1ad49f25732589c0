package io.machvm.vm;

import io.machvm.store.PageStore;
import java.io.IOException;
import java.io.OutputStream;

/**
 * The bytes of a {@code vm_read}, held as references to the pages they were in when read: later writes to the task
 * copy those pages instead of changing them. Close it to drop the references.
 */
public final class PageSnapshot extends HeldPages {
    private final int firstOffset;
    private final long size;

    PageSnapshot(PageStore store, int[] handles, int firstOffset, long size) {
        super(store, handles);
        this.firstOffset = firstOffset;
        this.size = size;
    }

    /** Number of bytes. */
    public long size() {
        return size;
    }

    /** Writes all bytes to {@code out}. */
    public void writeTo(OutputStream out) throws IOException {
        byte[] scratch = new byte[(int) Math.min(64 * 1024, Math.max(size, 1))];
        forEachRun((handle, pageOffset, length) -> store.writeTo(handle, pageOffset, length, out, scratch));
    }

    /** Copies all bytes into a new array (for sizes that fit one). */
    public byte[] toByteArray() {
        if (size > Integer.MAX_VALUE - 16) {
            throw new IllegalStateException("snapshot of " + size + " bytes does not fit in an array");
        }
        byte[] out = new byte[(int) size];
        int[] at = {0};
        try {
            forEachRun((handle, pageOffset, length) -> {
                store.read(handle, pageOffset, out, at[0], length);
                at[0] += length;
            });
        } catch (IOException impossible) {
            throw new IllegalStateException(impossible);
        }
        return out;
    }

    @FunctionalInterface
    private interface RunConsumer {
        void accept(int handle, int pageOffset, int length) throws IOException;
    }

    private void forEachRun(RunConsumer consumer) throws IOException {
        if (closed()) {
            throw new IllegalStateException("snapshot already closed");
        }
        int pageSize = store.pageSize();
        long remaining = size;
        int offset = firstOffset;
        for (int i = 0; i < handles.length && remaining > 0; i++) {
            int n = (int) Math.min(remaining, pageSize - offset);
            consumer.accept(handles[i], offset, n);
            remaining -= n;
            offset = 0;
        }
    }
}
