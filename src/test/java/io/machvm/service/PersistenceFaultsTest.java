package io.machvm.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machvm.persistence.DirectoryLock;
import io.machvm.persistence.UnusableDirectoryException;
import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;
import io.machvm.vm.KernException;
import io.machvm.vm.VmFlags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Persistence under faults (issue 14, item 7): a save that fails never costs a good image, one task's failure does not
 * stop the others, and a directory that cannot be used or that another process holds stops start-up with one line.
 */
class PersistenceFaultsTest {
    private static final long BASE = 0x100000000L;

    @TempDir
    Path directory;

    private final PageStores stores = new PageStores(64L << 20, 1L << 20);
    private final TaskRegistry registry = new TaskRegistry(stores, Flavor.ARM64, ErrorModel.DOCUMENTED, 100);
    private final VmService vm = new VmService(registry, stores, Flavor.ARM64, 1L << 30, new SimpleMeterRegistry());

    private void task(String id, String text) {
        vm.createTask(id, TaskSpec.DEFAULTS);
        vm.allocate(id, BASE, 0x4000, VmFlags.FIXED);
        vm.write(id, BASE, text.getBytes(StandardCharsets.US_ASCII));
    }

    /** The images in the directory, each as a digest of its bytes. */
    private Map<String, Integer> images() throws IOException {
        Map<String, Integer> out = new TreeMap<>();
        try (Stream<Path> files = Files.list(directory)) {
            for (Path p : files.filter(p -> p.toString().endsWith(".machvm")).toList()) {
                out.put(p.getFileName().toString(), java.util.Arrays.hashCode(Files.readAllBytes(p)));
            }
        }
        return out;
    }

    @Test
    void aFailedSaveKeepsThePreviousImageAndTheOtherTasksAreSaved() throws IOException {
        task("a-disk-full", "a v1");
        task("b-heap", "b v1");
        task("c-fine", "c v1");
        TaskPersistence first = new TaskPersistence(directory, registry, vm);
        first.start();
        first.stop();
        Map<String, Integer> before = images();
        assertThat(before).containsOnlyKeys("a-disk-full.machvm", "b-heap.machvm", "c-fine.machvm");

        vm.write("a-disk-full", BASE, "a v2".getBytes(StandardCharsets.US_ASCII));
        vm.write("b-heap", BASE, "b v2".getBytes(StandardCharsets.US_ASCII));
        vm.write("c-fine", BASE, "c v2".getBytes(StandardCharsets.US_ASCII));
        TaskPersistence faulty = new TaskPersistence(directory, registry, vm, (task, out) -> {
            switch (task.id()) {
                case "a-disk-full" -> {
                    out.write(new byte[1000]); // part of the image, then the disk is full
                    throw new IOException("No space left on device");
                }
                case "b-heap" -> throw new OutOfMemoryError("Java heap space");
                default -> {
                    try (var image = task.map().exportImage(task.name(), false)) {
                        image.writeTo(out);
                    }
                }
            }
        });
        faulty.stop(); // the same process saving again (restoring at start would find the tasks live)

        Map<String, Integer> after = images();
        assertThat(after).containsOnlyKeys("a-disk-full.machvm", "b-heap.machvm", "c-fine.machvm");
        assertThat(after.get("a-disk-full.machvm")).as("the good image of a task whose save failed")
                .isEqualTo(before.get("a-disk-full.machvm"));
        assertThat(after.get("b-heap.machvm")).isEqualTo(before.get("b-heap.machvm"));
        assertThat(after.get("c-fine.machvm")).as("saved after the others failed")
                .isNotEqualTo(before.get("c-fine.machvm"));
        try (Stream<Path> files = Files.list(directory)) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".partial"));
        }
    }

    @Test
    void imagesOfTerminatedTasksAreDeletedAndOthersKept() throws IOException {
        task("stay", "s");
        task("go", "g");
        TaskPersistence first = new TaskPersistence(directory, registry, vm);
        first.start();
        first.stop();
        vm.terminateTask("go");
        new TaskPersistence(directory, registry, vm).stop();
        assertThat(images()).containsOnlyKeys("stay.machvm");
    }

    @Test
    void aDirectoryThatCannotBeCreatedStopsStartUpWithOneLine() throws IOException {
        Path file = Files.writeString(directory.resolve("not-a-directory"), "x");
        TaskPersistence persistence = new TaskPersistence(file.resolve("tasks"), registry, vm);
        assertThatThrownBy(persistence::start).isInstanceOf(UnusableDirectoryException.class)
                .hasMessageStartingWith("machvm.persistence.directory " + file.resolve("tasks") + " cannot be created")
                .hasMessageNotContaining("\n");
    }

    @Test
    void aReadOnlyDirectoryStopsStartUpWithOneLine() throws Exception {
        Path readOnly = Files.createDirectory(directory.resolve("ro"));
        boolean mounted = false;
        assertThat(readOnly.toFile().setWritable(false, false)).isTrue();
        try {
            if (Files.isWritable(readOnly)) {
                // root writes through permission bits: a read-only file system is what stops it
                mounted = mount(readOnly, "ro,size=64k");
                org.junit.jupiter.api.Assumptions.assumeTrue(mounted, "needs a read-only mount");
            }
            TaskPersistence persistence = new TaskPersistence(readOnly, registry, vm);
            assertThatThrownBy(persistence::start).isInstanceOf(UnusableDirectoryException.class)
                    .hasMessageStartingWith("machvm.persistence.directory " + readOnly + " is not writable")
                    .hasMessageNotContaining("\n");
        } finally {
            if (mounted) {
                unmount(readOnly);
            }
            readOnly.toFile().setWritable(true, true);
        }
    }

    /** The finding as it was met: a real full disk at graceful shutdown (needs root to mount a small tmpfs). */
    @Test
    void aFullDiskAtShutdownKeepsEveryGoodImage() throws Exception {
        Path small = Files.createDirectory(directory.resolve("small"));
        org.junit.jupiter.api.Assumptions.assumeTrue(mount(small, "size=256k"), "needs root to mount a tmpfs");
        try {
            task("a-grows", "a v1");
            task("b-same", "b v1");
            TaskPersistence persistence = new TaskPersistence(small, registry, vm);
            persistence.start();
            persistence.stop();
            byte[] a = Files.readAllBytes(small.resolve("a-grows.machvm"));
            byte[] b = Files.readAllBytes(small.resolve("b-same.machvm"));
            vm.allocate("a-grows", BASE + 0x100000, 1 << 20, VmFlags.FIXED);
            vm.write("a-grows", BASE + 0x100000, new byte[1 << 20]); // 64 non-zero-fill pages: > 256k
            vm.write("a-grows", BASE + 0x100000, "x".getBytes(StandardCharsets.US_ASCII));
            persistence.stop();
            assertThat(Files.readAllBytes(small.resolve("a-grows.machvm"))).isEqualTo(a);
            assertThat(Files.readAllBytes(small.resolve("b-same.machvm"))).isEqualTo(b);
        } finally {
            unmount(small);
        }
    }

    private static boolean mount(Path at, String options) throws Exception {
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", options, "tmpfs", at.toString())
                .redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor() == 0;
    }

    private static void unmount(Path at) throws Exception {
        new ProcessBuilder("umount", at.toString()).redirectErrorStream(true).start().waitFor();
    }

    @Test
    void aSecondHolderOfTheDirectoryIsRefused() {
        try (DirectoryLock held = DirectoryLock.acquire(directory)) {
            TaskPersistence second = new TaskPersistence(directory, registry, vm);
            assertThatThrownBy(second::start).isInstanceOf(UnusableDirectoryException.class)
                    .hasMessage("machvm.persistence.directory " + directory + " is in use by another live process (pid "
                            + ProcessHandle.current().pid() + "); each process needs its own directory");
        }
        TaskPersistence after = new TaskPersistence(directory, registry, vm);
        after.start();
        after.stop();
    }

    @Test
    void aNameAnImageCannotCarryIsRefusedAtCreation() {
        assertThatThrownBy(() -> vm.createTask("lone", new TaskSpec(null, null, "bad \ud800 name")))
                .isInstanceOf(KernException.class).hasMessageContaining("well-formed Unicode");
        assertThat(registry.size()).isZero();
        vm.createTask("ok", new TaskSpec(null, null, "ok \ud83d\ude00 name"));
        assertThatThrownBy(() -> vm.forkTask("ok", "child", "bad \udc00"))
                .isInstanceOf(KernException.class).hasMessageContaining("well-formed Unicode");
        assertThat(registry.size()).isEqualTo(1);
    }
}
