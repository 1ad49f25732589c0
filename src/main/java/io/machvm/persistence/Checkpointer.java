package io.machvm.persistence;

import io.machvm.store.PageStore;
import io.machvm.vm.KernException;
import io.machvm.vm.CheckpointImage;
import io.machvm.vm.GroupImageReader;
import io.machvm.vm.VmMap;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the shard's {@link CheckpointLog}: each pass appends what changed since the last one (pages whose content
 * changed, each once, and the changed part of each task's map), creations and deletions included, and forces it to
 * disk, so a crash loses at most what changed since the last pass. A compaction pass writes the whole state to a new
 * file that replaces the log atomically; it runs first, after any failed pass, and when the log has grown by more
 * than twice its compacted size (at least {@link #MIN_GROWTH_BEFORE_COMPACTION}), which bounds the log to about three
 * times the state plus that minimum, and keeps the rewriting to at most half of what passes write.
 *
 * <p>Passes run one at a time ({@code synchronized}); each task is taken under its own lock, not all at once.
 */
public final class Checkpointer {
    static final long MIN_GROWTH_BEFORE_COMPACTION = 256L << 20;
    /** How much of an import is written before it is forced to disk in the background, while the rest arrives. */
    static final long FORCE_AHEAD_BYTES = 64L << 20;
    private static final Logger log = LoggerFactory.getLogger(Checkpointer.class);

    /** A seam for tests: runs before each task is taken, and may throw as a failing save would. */
    @FunctionalInterface
    public interface TaskHook {
        void beforeTask(DurableTask task);
    }

    private final Path directory;
    private final Path file;
    private final Supplier<List<DurableTask>> tasks;
    private final TaskHook hook;
    private CheckpointLog.Appender appender;
    /** A task in the log: the key it was written under and a hash of its entries, ranges and name. */
    private record Written(DurableTask task, long metadataHash) {
    }

    /** The tasks in the log, by map identity. */
    private Map<VmMap, Written> written = new IdentityHashMap<>();
    /** Shared memories whose pages the log holds in full. */
    private Set<Long> writtenMemories = new HashSet<>();
    /** Content ids whose bytes the log holds. */
    private LongLongMap writtenContent = new LongLongMap();
    private boolean compactNext = true;
    private long compactedSize;
    private long passNumber;
    private long lastPassNanos;

    public Checkpointer(Path directory, Supplier<List<DurableTask>> tasks) {
        this(directory, tasks, task -> { });
    }

    public Checkpointer(Path directory, Supplier<List<DurableTask>> tasks, TaskHook hook) {
        this.directory = directory;
        this.file = directory.resolve(CheckpointLog.FILE);
        this.tasks = tasks;
        this.hook = hook;
    }

    /** The log file. */
    public Path file() {
        return file;
    }

    /** How long the last pass took. */
    public synchronized long lastPassNanos() {
        return lastPassNanos;
    }

    /** Makes the next pass a compaction. */
    public synchronized void compactNext() {
        compactNext = true;
    }

    /**
     * Runs one pass. A task that cannot be taken (a heap error) is skipped and the others are written; the next pass
     * is then a compaction, which takes it again. An I/O failure fails the pass and leaves the log as its last
     * committed pass left it.
     *
     * @return the number of tasks written in this pass
     */
    public synchronized int pass() throws IOException {
        return pass(true);
    }

    /**
     * Runs one pass that appends to the log even when a compaction is due (it waits for the next pass), so that what
     * changed is durable at the cost of what changed; a whole pass when the log cannot be appended to.
     *
     * @return the number of tasks written in this pass
     */
    public synchronized int appendPass() throws IOException {
        return pass(appender == null);
    }

    /** The body of {@link #importPass}. */
    @FunctionalInterface
    public interface Import<T> {
        /** Reads the tasks in, handing each page to {@code sink} as it lands, and registers them. */
        T run(GroupImageReader.PageSink sink) throws IOException;
    }

    /**
     * Runs an import of tasks whose pages are appended to the log as they land, by a thread of their own
     * ({@link ImportWriter}) so that reading the import and writing the log overlap, then a pass
     * ({@link #appendPass}) that writes the tasks and commits: the tasks are durable when this returns, and most of
     * their bytes went to the file while they arrived rather than after. Other passes wait meanwhile. A body that fails
     * leaves the pages written so far uncommitted at the end of the log, where the next pass commits or the next
     * compaction drops them.
     */
    public synchronized <T> T importPass(Import<T> body) throws IOException {
        if (appender == null) {
            T result = body.run((store, handle) -> { });
            pass();
            return result;
        }
        CheckpointLog.Appender out = appender;
        long before = out.size();
        ImportWriter writer = new ImportWriter(out, writtenContent, FORCE_AHEAD_BYTES);
        T result;
        try {
            result = body.run(writer);
        } catch (IOException | RuntimeException | Error e) {
            try {
                writer.finish(false);
            } catch (IOException | RuntimeException | Error writeFailed) {
                e.addSuppressed(writeFailed);
                abandonAppender();
            }
            throw e;
        }
        try {
            writer.finish(true);
        } catch (IOException | RuntimeException | Error e) {
            abandonAppender();
            throw e;
        }
        // Imported pages are live state, not garbage a compaction would drop: they do not count towards one.
        compactedSize += out.size() - before;
        pass(false);
        return result;
    }

    /** After a record may have been half written: nothing more is appended to this file, the next pass replaces it. */
    private void abandonAppender() throws IOException {
        compactNext = true;
        appender.close();
        appender = null;
    }

    private int pass(boolean mayCompact) throws IOException {
        long started = System.nanoTime();
        boolean compaction = compactNext && mayCompact;
        Path target = compaction ? directory.resolve(CheckpointLog.FILE + ".partial") : file;
        Map<VmMap, Written> nowWritten = compaction ? new IdentityHashMap<>() : new IdentityHashMap<>(written);
        Set<Long> nowMemories = compaction ? new HashSet<>() : new HashSet<>(writtenMemories);
        LongLongMap content = compaction ? new LongLongMap() : writtenContent;
        boolean failedTask = false;
        int count = 0;
        CheckpointLog.Appender out = null;
        try {
            out = compaction || appender == null
                    ? new CheckpointLog.Appender(target, compaction || !Files.exists(file)) : appender;
            List<DurableTask> live = tasks.get();
            Map<VmMap, DurableTask> liveByMap = new IdentityHashMap<>();
            for (DurableTask t : live) {
                liveByMap.put(t.map(), t);
            }
            if (!compaction) {
                // Deletions first: a task deleted and made again under its id is written after its deletion.
                for (Map.Entry<VmMap, Written> w : written.entrySet()) {
                    if (!liveByMap.containsKey(w.getKey())) {
                        out.delete(w.getValue().task().tenant(), w.getValue().task().id());
                        nowWritten.remove(w.getKey());
                    }
                }
            }
            for (DurableTask task : live) {
                try {
                    hook.beforeTask(task);
                    nowWritten.put(task.map(), new Written(task, take(out, task,
                            compaction ? null : written.get(task.map()), nowMemories, content)));
                    count++;
                } catch (WriteFailed e) {
                    throw e; // a record may be half written: the pass cannot go on
                } catch (KernException terminated) {
                    // terminated since the list was taken: the next pass writes its deletion
                } catch (OutOfMemoryError | RuntimeException e) {
                    failedTask = true;
                    log.error("cannot checkpoint task {}: {} (the log keeps its previous state; the next pass "
                            + "rewrites the log)", task.id(), e.toString());
                }
            }
            out.commit(++passNumber);
        } catch (IOException | RuntimeException | Error e) {
            compactNext = true;
            if (out != null && out != appender) {
                out.close();
            }
            if (compaction) {
                Files.deleteIfExists(target);
            } else if (appender != null) {
                // the file may end in a half-written pass: nothing more is appended to it, the next pass replaces it
                appender.close();
                appender = null;
            }
            throw e;
        }
        if (compaction) {
            if (appender != null) {
                appender.close();
            }
            DurableFiles.publish(target, file);
            appender = out;
            compactedSize = out.size();
        } else {
            appender = out;
        }
        written = nowWritten;
        writtenMemories = nowMemories;
        writtenContent = content;
        compactNext = (compactNext && !compaction) || failedTask
                || out.size() - compactedSize > Math.max(MIN_GROWTH_BEFORE_COMPACTION, 2 * compactedSize);
        lastPassNanos = System.nanoTime() - started;
        return count;
    }

    /**
     * Takes a task and writes what changed since {@code before} (everything when null); returns the hash of its
     * metadata.
     *
     * @throws KernException {@code MACH_SEND_INVALID_DEST} when the task has been terminated
     */
    private static long take(CheckpointLog.Appender out, DurableTask task, Written before, Set<Long> nowMemories,
            LongLongMap content) throws IOException {
        boolean full = before == null;
        long[] hash = {0};
        try {
            task.map().checkpoint(full, nowMemories::contains, taken -> {
                hash[0] = metadataHash(task, taken);
                if (!full && hash[0] == before.metadataHash() && taken.pages().count() == 0
                        && taken.memories().isEmpty()) {
                    return; // unchanged: nothing to write
                }
                try {
                    writeTask(out, task, taken, content);
                } catch (IOException | RuntimeException | Error e) {
                    throw new WriteFailed(e); // a record may be half written: the pass cannot go on
                }
                for (Map.Entry<Long, CheckpointImage.Pages> m : taken.memories().entrySet()) {
                    if (m.getValue().full()) {
                        nowMemories.add(m.getKey());
                    }
                }
            });
        } catch (WriteFailed e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw e;
        }
        return hash[0];
    }

    private static long metadataHash(DurableTask task, CheckpointImage taken) {
        long h = java.util.Objects.hash(task.tenant(), task.id(), task.name());
        for (CheckpointImage.Entry e : taken.entries()) {
            h = h * 1_000_003L + e.hashCode();
        }
        for (CheckpointImage.Range r : taken.ranges()) {
            h = h * 1_000_003L + r.hashCode();
        }
        return h;
    }

    /** Writing a task's records failed part-way. */
    private static final class WriteFailed extends RuntimeException {
        WriteFailed(Throwable cause) {
            super(cause.toString(), cause);
        }
    }

    private static void writeTask(CheckpointLog.Appender out, DurableTask task, CheckpointImage taken,
            LongLongMap content) throws IOException {
        PageStore store = task.map().store();
        for (CheckpointImage.Pages pages : allPages(taken)) {
            for (int i = 0; i < pages.count(); i++) {
                long id = pages.contentIds()[i];
                if (id != 0 && !content.containsKey(id)) {
                    out.page(id, store, pages.handles()[i]);
                    content.put(id, 1);
                }
            }
        }
        for (Map.Entry<Long, CheckpointImage.Pages> m : taken.memories().entrySet()) {
            out.memory(m.getKey(), m.getValue());
        }
        out.task(task, taken);
    }

    private static List<CheckpointImage.Pages> allPages(CheckpointImage taken) {
        java.util.ArrayList<CheckpointImage.Pages> out = new java.util.ArrayList<>();
        out.add(taken.pages());
        out.addAll(taken.memories().values());
        return out;
    }

    /** Closes the log file. */
    public synchronized void close() throws IOException {
        if (appender != null) {
            appender.close();
            appender = null;
        }
    }
}
