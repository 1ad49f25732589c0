package io.machvm.service;

import io.machvm.persistence.DirectoryLock;
import io.machvm.persistence.DurableFiles;
import io.machvm.vm.KernException;
import io.machvm.vm.TaskImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashSet;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * Keeps tasks across restarts: restores every task image in the directory before the server takes requests, and
 * writes every task there after the server has drained on graceful shutdown. The directory is locked for the life of
 * the process. Each image is written under a temporary name, forced to disk and renamed over the previous one, so a
 * failed save keeps the previous image. An image that cannot be restored is set aside as
 * {@code <id>.machvm.rejected}, never deleted.
 */
public final class TaskPersistence implements SmartLifecycle {
    static final String SUFFIX = ".machvm";
    private static final Logger log = LoggerFactory.getLogger(TaskPersistence.class);

    private final Path directory;
    private final TaskRegistry registry;
    private final VmService service;
    private final TaskSaver saver;
    private volatile boolean running;
    private DirectoryLock lock;

    /** Writes one task's image; a seam so that tests can make a save fail. */
    @FunctionalInterface
    interface TaskSaver {
        void save(Task task, OutputStream out) throws IOException;
    }

    public TaskPersistence(Path directory, TaskRegistry registry, VmService service) {
        this(directory, registry, service, (task, out) -> {
            try (TaskImage image = task.map().exportImage(task.name(), false)) {
                image.writeTo(out);
            }
        });
    }

    TaskPersistence(Path directory, TaskRegistry registry, VmService service, TaskSaver saver) {
        this.directory = directory;
        this.registry = registry;
        this.service = service;
        this.saver = saver;
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
            int restored = 0;
            try (DirectoryStream<Path> images = Files.newDirectoryStream(directory, "*" + SUFFIX)) {
                for (Path image : images) {
                    String file = image.getFileName().toString();
                    String id = file.substring(0, file.length() - SUFFIX.length());
                    try (InputStream in = Files.newInputStream(image)) {
                        service.restoreTask(in, id);
                        restored++;
                    } catch (KernException | IOException e) {
                        log.error("cannot restore task {} from {}: {}", id, image, e.getMessage());
                        Files.move(image, image.resolveSibling(file + ".rejected"),
                                StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
            log.info("restored {} task(s) from {}", restored, directory);
        } catch (IOException e) {
            lock.close();
            throw new IllegalStateException("machvm.persistence.directory " + directory + " is not usable: "
                    + e.getMessage(), e);
        }
        running = true;
    }

    /**
     * Saves every task, each on its own: a task whose save fails (a full disk, a heap error) keeps its previous
     * image, and the others are saved all the same. Only images of tasks that no longer exist are deleted.
     */
    @Override
    public void stop() {
        running = false;
        int saved = 0;
        int failed = 0;
        Set<String> live = new HashSet<>();
        for (Task task : registry.list()) {
            live.add(task.id() + SUFFIX);
            Path target = directory.resolve(task.id() + SUFFIX);
            Path partial = directory.resolve(task.id() + SUFFIX + ".partial");
            try {
                DurableFiles.write(partial, out -> saver.save(task, out));
                DurableFiles.publish(partial, target);
                saved++;
            } catch (IOException | RuntimeException | OutOfMemoryError e) {
                failed++;
                log.error("cannot save task {} (its previous image, if any, is kept): {}", task.id(),
                        e.getMessage() == null ? e.toString() : e.getMessage());
                try {
                    Files.deleteIfExists(partial);
                } catch (IOException ignored) {
                    // the space stays taken; the next save replaces it
                }
            }
        }
        // Images of tasks terminated since the last start are stale; an image of a live task is never deleted.
        try (DirectoryStream<Path> images = Files.newDirectoryStream(directory, "*" + SUFFIX)) {
            for (Path image : images) {
                if (!live.contains(image.getFileName().toString())) {
                    Files.deleteIfExists(image);
                }
            }
            DurableFiles.forceDirectory(directory);
        } catch (IOException e) {
            log.error("cannot tidy {}: {}", directory, e.getMessage());
        }
        if (failed > 0) {
            log.error("saved {} task(s) to {}; {} could not be saved", saved, directory, failed);
        } else {
            log.info("saved {} task(s) to {}", saved, directory);
        }
        if (lock != null) {
            lock.close();
            lock = null;
        }
    }

    @Override
    public boolean isRunning() {
        return running;
    }
}
