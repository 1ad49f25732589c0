package io.machvm.service;

import io.machvm.persistence.CheckpointLog;
import io.machvm.persistence.Checkpointer;
import io.machvm.persistence.DirectoryLock;
import io.machvm.persistence.DurableTask;
import io.machvm.persistence.UnusableDirectoryException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * Keeps tasks across restarts and crashes: locks the directory, restores the tasks of its checkpoint log before the
 * server takes requests, then checkpoints every {@code checkpointInterval} (what changed since the last pass, forced
 * to disk), so that even SIGKILL loses at most about one interval of acknowledged changes; a last pass runs after
 * the server has drained on graceful shutdown. Forks come back sharing their copy-on-write and share-inherited pages,
 * so whatever fitted before a restart fits after it.
 *
 * <p>Every tenant's tasks are kept, each restored under its own tenant and id, with the budgets
 * ({@link TaskRegistry#budgetsForNewTask(String)}) of a new task of that tenant. Budgets never refuse a restore (a task
 * that was kept comes back, charged in full even past them); the registry's task limits still apply, so a task
 * beyond a since-lowered {@code machvm.tasks.max} or tenant task quota is not restored, and the log is then kept for a
 * person to look at.
 *
 * <p>Task images ({@code <id>.machvm}, or {@code <tenant>~<id>.machvm} outside the default tenant) left by earlier
 * versions are restored too, moved into the log, then deleted; one that cannot be restored is set aside as
 * {@code <id>.machvm.rejected}, never deleted.
 */
public final class TaskPersistence implements SmartLifecycle {
    static final String SUFFIX = ".machvm";
    private static final Logger log = LoggerFactory.getLogger(TaskPersistence.class);

    private final Path directory;
    private final TaskRegistry registry;
    private final VmService service;
    private final PageStores stores;
    private final Duration interval;
    private final Checkpointer checkpointer;
    private volatile boolean running;
    private DirectoryLock lock;
    private ScheduledExecutorService scheduler;
    private boolean failing;

    public TaskPersistence(Path directory, TaskRegistry registry, VmService service, PageStores stores,
            Duration interval) {
        this(directory, registry, service, stores, interval, task -> { });
    }

    TaskPersistence(Path directory, TaskRegistry registry, VmService service, PageStores stores, Duration interval,
            Checkpointer.TaskHook hook) {
        this.directory = directory;
        this.registry = registry;
        this.service = service;
        this.stores = stores;
        this.interval = interval;
        this.checkpointer = new Checkpointer(directory, this::durableTasks, hook);
    }

    private List<DurableTask> durableTasks() {
        List<Task> tasks = registry.all(); // every tenant's, whoever runs the pass
        List<DurableTask> out = new ArrayList<>(tasks.size());
        for (Task t : tasks) {
            out.add(new DurableTask(t.tenant(), t.id(), t.name(), t.map()));
        }
        return out;
    }

    /** Starts first and stops last: after the web server has stopped taking and finished serving requests. */
    @Override
    public int getPhase() {
        return Integer.MIN_VALUE + 1000;
    }

    @Override
    public void start() {
        lock = DirectoryLock.acquire(directory);
        try {
            int restored = restoreLog();
            List<Path> legacy = new ArrayList<>();
            restored += restoreImages(legacy);
            // The first pass rewrites the log from what was restored: the durable state is the live state.
            checkpointer.compactNext();
            checkpointer.pass();
            for (Path image : legacy) {
                Files.deleteIfExists(image); // now in the log
            }
            log.info("restored {} task(s) from {}; checkpointing every {} ms", restored, directory,
                    interval.toMillis());
        } catch (IOException e) {
            close();
            throw new UnusableDirectoryException("machvm.persistence.directory " + directory
                    + " cannot be checkpointed to: " + e, "Free space on the volume or point "
                    + "machvm.persistence.directory at a writable directory.");
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        scheduler = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon()
                .name("machvm-checkpoint").unstarted(r));
        long period = Math.max(1, interval.toMillis());
        scheduler.scheduleAtFixedRate(this::checkpoint, period, period, TimeUnit.MILLISECONDS);
        running = true;
    }

    private int restoreLog() throws IOException {
        Path file = checkpointer.file();
        if (!Files.exists(file)) {
            return 0;
        }
        CheckpointLog.Recovery recovery = CheckpointLog.recover(file, stores::forFlavor,
                registry::budgetsForNewTask);
        int restored = 0;
        boolean keep = !recovery.failures().isEmpty();
        for (String failure : recovery.failures()) {
            log.error("cannot restore {} from {}", failure, file);
        }
        for (CheckpointLog.RestoredTask t : recovery.tasks()) {
            try {
                registry.adopt(t.tenant(), t.id(), t.name(), t.map());
                restored++;
            } catch (RuntimeException e) {
                keep = true;
                log.error("cannot restore task {} of tenant {}: {}", t.id(), t.tenant(), e.getMessage());
            }
        }
        if (recovery.tornTail()) {
            log.warn("the last checkpoint pass in {} was cut short (a crash while it was written); restored the "
                    + "pass before it", file);
        }
        if (keep) {
            Path kept = file.resolveSibling(file.getFileName() + "." + System.currentTimeMillis() + ".kept");
            Files.copy(file, kept);
            log.error("kept the log as {} for a person to look at", kept);
        }
        return restored;
    }

    private int restoreImages(List<Path> restoredImages) throws IOException {
        int restored = 0;
        try (DirectoryStream<Path> images = Files.newDirectoryStream(directory, "*" + SUFFIX)) {
            for (Path image : images) {
                String file = image.getFileName().toString();
                String id = file.substring(0, file.length() - SUFFIX.length());
                try (InputStream in = Files.newInputStream(image)) {
                    service.restoreTask(in, tenantOf(id), localId(id));
                    restored++;
                    restoredImages.add(image);
                } catch (IOException | RuntimeException e) {
                    // corrupt, too big for the store, or the id is in the log already (the log is newer)
                    log.error("cannot restore task {} from {}: {}", id, image, e.getMessage());
                    Files.move(image, image.resolveSibling(file + ".rejected"), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        return restored;
    }

    private void checkpoint() {
        try {
            checkpointer.pass();
            if (failing) {
                log.info("checkpoints to {} succeed again", directory);
                failing = false;
            }
        } catch (IOException | RuntimeException | Error e) {
            if (!failing) {
                log.error("checkpoint to {} failed (the log keeps its last good pass; retrying every {} ms): {}",
                        directory, interval.toMillis(), e.toString());
                failing = true;
            }
        }
    }

    /** A last pass after the server has drained; the lock goes with it. */
    @Override
    public void stop() {
        running = false;
        if (scheduler != null) {
            scheduler.shutdown();
            try {
                scheduler.awaitTermination(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            int saved = checkpointer.pass();
            log.info("saved {} task(s) to {}", saved, directory);
        } catch (IOException | RuntimeException | Error e) {
            log.error("cannot save the last changes to {} (the log keeps its last good pass): {}", directory,
                    e.toString());
        }
        close();
    }

    private void close() {
        try {
            checkpointer.close();
        } catch (IOException e) {
            log.warn("cannot close {}: {}", checkpointer.file(), e.getMessage());
        }
        if (lock != null) {
            lock.close();
            lock = null;
        }
    }

    /** Stops checkpointing and lets the directory go without a last pass: what SIGKILL leaves (tests). */
    void releaseForCrashTest() {
        running = false;
        if (scheduler != null) {
            scheduler.shutdownNow();
        }
        close();
    }

    /** Runs a pass now (tests). */
    void checkpointNow() throws IOException {
        checkpointer.pass();
    }

    /**
     * Makes what changed durable now, appending to the log even when a compaction is due: a handoff's deletions are
     * on disk before it reports the tasks moved.
     */
    public void syncNow() throws IOException {
        ensureRunning();
        checkpointer.appendPass();
    }

    /**
     * Runs an import of tasks so that they are durable when it returns, their pages written to the log as they
     * arrive: see {@link Checkpointer#importPass}.
     */
    public <T> T importDurably(Checkpointer.Import<T> body) throws IOException {
        ensureRunning();
        return checkpointer.importPass(body);
    }

    private void ensureRunning() throws IOException {
        if (!running) {
            throw new IOException("the checkpoint log in " + directory + " is not open");
        }
    }

    /** The tenant of a legacy image's file name: {@code tenant~id} outside the default tenant. */
    private static String tenantOf(String fileId) {
        int q = fileId.indexOf(TaskRegistry.QUALIFIER);
        return q < 0 ? Tenant.DEFAULT.name() : fileId.substring(0, q);
    }

    private static String localId(String fileId) {
        return fileId.substring(fileId.indexOf(TaskRegistry.QUALIFIER) + 1);
    }

    @Override
    public boolean isRunning() {
        return running;
    }
}
