package io.machvm.vm;

import io.machvm.store.PageStore;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Pages referenced so that their bytes stay as they were when taken (later writes to the task copy them instead of
 * changing them), until the holder is closed, which drops the references once: the bytes of a read
 * ({@link PageSnapshot}) and the pages of an image ({@link TaskImage}).
 */
abstract class HeldPages implements AutoCloseable {
    final PageStore store;
    final int[] handles;
    private final AtomicBoolean closed = new AtomicBoolean();

    HeldPages(PageStore store, int[] handles) {
        this.store = store;
        this.handles = handles;
    }

    /** Whether the references were dropped. */
    final boolean closed() {
        return closed.get();
    }

    /** Drops the references; later calls do nothing. */
    @Override
    public final void close() {
        if (closed.compareAndSet(false, true)) {
            store.releaseAll(handles, handles.length);
        }
    }
}
