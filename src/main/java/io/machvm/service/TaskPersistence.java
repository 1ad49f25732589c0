package io.machvm.service;

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
 * writes every task there after the server has drained on graceful shutdown. An image that cannot be restored is
 * set aside as {@code <id>.machvm.rejected}, never deleted.
 */
public final class TaskPersistence implements SmartLifecycle {
    static final String SUFFIX = ".machvm";
    private static final Logger log = LoggerFactory.getLogger(TaskPersistence.class);

    private final Path directory;
    private final TaskRegistry registry;
    private final VmService service;
    private volatile boolean running;

    public TaskPersistence(Path directory, TaskRegistry registry, VmService service) {
        this.directory = directory;
        this.registry = registry;
        this.service = service;
    }

    /** Starts first and stops last: after the web server has stopped taking and finished serving requests. */
    @Override
    public int getPhase() {
        return Integer.MIN_VALUE + 1000;
    }

    @Override
    public void start() {
        try {
            Files.createDirectories(directory);
            int restored = 0;
            try (DirectoryStream<Path> images = Files.newDirectoryStream(directory, "*" + SUFFIX)) {
                for (Path image : images) {
                    String file = image.getFileName().toString();
                    String id = file.substring(0, file.length() - SUFFIX.length());
                    try (InputStream in = Files.newInputStream(image)) {
                        service.restoreTask(in, tenantOf(id), localId(id));
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
            throw new IllegalStateException("machvm.persistence.directory " + directory + " is not usable: "
                    + e.getMessage(), e);
        }
        running = true;
    }

    @Override
    public void stop() {
        running = false;
        Set<String> written = new HashSet<>();
        for (Task task : registry.all()) {
            Path target = directory.resolve(fileId(task) + SUFFIX);
            Path partial = directory.resolve(fileId(task) + SUFFIX + ".partial");
            try (TaskImage image = task.map().exportImage(task.name(), false);
                    OutputStream out = Files.newOutputStream(partial)) {
                image.writeTo(out);
            } catch (KernException | IOException e) {
                log.error("cannot save task {}: {}", task.id(), e.getMessage());
                continue;
            }
            try {
                Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                written.add(target.getFileName().toString());
            } catch (IOException e) {
                log.error("cannot save task {}: {}", task.id(), e.getMessage());
            }
        }
        // Images of tasks terminated since the last start are stale.
        try (DirectoryStream<Path> images = Files.newDirectoryStream(directory, "*" + SUFFIX)) {
            for (Path image : images) {
                if (!written.contains(image.getFileName().toString())) {
                    Files.deleteIfExists(image);
                }
            }
        } catch (IOException e) {
            log.error("cannot tidy {}: {}", directory, e.getMessage());
        }
        log.info("saved {} task(s) to {}", written.size(), directory);
    }

    /** A task's file name without the suffix: its id, qualified {@code tenant~id} outside the default tenant. */
    static String fileId(Task task) {
        return task.tenant().equals(Tenant.DEFAULT.name()) ? task.id()
                : task.tenant() + TaskRegistry.QUALIFIER + task.id();
    }

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
