package io.machvm.persistence;

import io.machvm.store.PageStore;
import io.machvm.vm.GroupImageReader;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Appends an import's pages to the checkpoint log on a thread of its own, so that the import reads and stores the next
 * pages while the log takes the last ones: the two run side by side instead of one after the other. Each page waits in
 * a bounded queue with a reference of its own, so it can be neither freed nor reused before it is written; the thread
 * gives every reference back, written or not, until it is told the import has ended.
 */
final class ImportWriter implements GroupImageReader.PageSink {
    /** Pages queued at most: 16 MiB of 16 KiB pages. */
    private static final int QUEUED_PAGES = 1024;

    private record Queued(PageStore store, int handle, long contentId) {
    }

    private static final Queued END = new Queued(null, 0, 0);

    private final CheckpointLog.Appender out;
    /** Content ids whose bytes the log holds; this thread's alone until {@link #finish} returns. */
    private final LongLongMap written;
    private final long forceAheadBytes;
    private final BlockingQueue<Queued> queue = new ArrayBlockingQueue<>(QUEUED_PAGES);
    private final Thread thread;
    private volatile Throwable failure;
    private volatile boolean discard;

    ImportWriter(CheckpointLog.Appender out, LongLongMap written, long forceAheadBytes) {
        this.out = out;
        this.written = written;
        this.forceAheadBytes = forceAheadBytes;
        this.thread = Thread.ofPlatform().daemon().name("checkpoint-import").start(this::run);
    }

    @Override
    public void page(PageStore store, int handle) throws IOException {
        store.retain(handle);
        Queued page = new Queued(store, handle, store.contentId(handle));
        try {
            while (!queue.offer(page, 100, TimeUnit.MILLISECONDS)) {
                if (failure != null) {
                    store.release(handle);
                    break;
                }
            }
        } catch (InterruptedException e) {
            store.release(handle);
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while the checkpoint log took an import");
        }
        if (failure != null) {
            throw new IOException("the checkpoint log cannot take the import: " + failure, failure);
        }
    }

    private void run() {
        while (true) {
            Queued page;
            try {
                page = queue.take();
            } catch (InterruptedException e) {
                failure = e;
                continue; // the references queued still have to go back: only END ends this
            }
            if (page == END) {
                return;
            }
            try {
                if (failure == null && !discard && !written.containsKey(page.contentId())) {
                    out.page(page.contentId(), page.store(), page.handle());
                    written.put(page.contentId(), 1);
                    out.forceAhead(forceAheadBytes);
                }
            } catch (IOException | RuntimeException | Error e) {
                failure = e;
            } finally {
                page.store().release(page.handle());
            }
        }
    }

    /**
     * Waits until every page queued is written ({@code write}) or given back unwritten, and the thread has ended.
     *
     * @throws IOException when a page could not be written: the log may end in a half-written record
     */
    void finish(boolean write) throws IOException {
        discard = !write;
        boolean interrupted = false;
        boolean ended = false;
        while (true) {
            try {
                if (!ended) {
                    queue.put(END);
                    ended = true;
                }
                thread.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true; // the thread must still give the references back
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (failure instanceof IOException io) {
            throw io;
        }
        if (failure != null) {
            throw new IOException("writing an import to the checkpoint log failed: " + failure, failure);
        }
    }
}
