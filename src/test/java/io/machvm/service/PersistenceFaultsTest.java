package io.machvm.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machvm.persistence.CheckpointLog;
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
import java.time.Duration;
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
    private final VmService vm = new VmService(registry, Flavor.ARM64, 1L << 30, new SimpleMeterRegistry());

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

    private TaskPersistence persistence(Path at) {
        return new TaskPersistence(at, registry, vm, stores, Duration.ofHours(1));
    }

    /** Task images of earlier versions are restored, moved into the log, and deleted only once the log is durable. */
    @Test
    void imagesOfEarlierVersionsMoveIntoTheLog() throws IOException {
        task("legacy", "from an image");
        try (var image = registry.get("legacy").map().exportImage("old", false)) {
            try (var out = Files.newOutputStream(directory.resolve("legacy.machvm"))) {
                image.writeTo(out);
            }
        }
        vm.terminateTask("legacy");
        TaskPersistence p = persistence(directory);
        p.start();
        assertThat(vm.read("legacy", BASE, 13)).isEqualTo("from an image".getBytes(StandardCharsets.US_ASCII));
        assertThat(images()).isEmpty();
        assertThat(directory.resolve(CheckpointLog.FILE)).exists();
        p.stop();
    }

    @Test
    void aDirectoryThatCannotBeCreatedStopsStartUpWithOneLine() throws IOException {
        Path file = Files.writeString(directory.resolve("not-a-directory"), "x");
        TaskPersistence persistence = persistence(file.resolve("tasks"));
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
            TaskPersistence persistence = persistence(readOnly);
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

    /**
     * The finding as it was met: a real full disk (a small tmpfs; needs root). The compaction that cannot be written
     * leaves the log as its last good pass left it, and nothing is deleted.
     */
    @Test
    void aFullDiskKeepsTheLastGoodState() throws Exception {
        Path small = Files.createDirectory(directory.resolve("small"));
        org.junit.jupiter.api.Assumptions.assumeTrue(mount(small, "size=256k"), "needs root to mount a tmpfs");
        try {
            task("a-grows", "a v1");
            task("b-same", "b v1");
            TaskPersistence persistence = persistence(small);
            persistence.start();
            byte[] good = Files.readAllBytes(small.resolve(CheckpointLog.FILE));
            vm.allocate("a-grows", BASE + 0x100000, 1 << 20, VmFlags.FIXED);
            byte[] big = new byte[1 << 20];
            java.util.Arrays.fill(big, (byte) 7);
            vm.write("a-grows", BASE + 0x100000, big); // 1 MiB of new pages: more than the disk holds
            vm.write("a-grows", BASE, "a v2".getBytes(StandardCharsets.US_ASCII));
            assertThatThrownBy(persistence::checkpointNow).isInstanceOf(IOException.class)
                    .hasMessageContaining("No space left");
            assertThat(Files.readAllBytes(small.resolve(CheckpointLog.FILE))).startsWith(good);
            // the next pass is a compaction, which cannot be written either, and must not cost the old log
            assertThatThrownBy(persistence::checkpointNow).isInstanceOf(IOException.class);
            assertThat(Files.readAllBytes(small.resolve(CheckpointLog.FILE))).startsWith(good);
            try (Stream<Path> files = Files.list(small)) {
                assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".partial"));
            }
            persistence.releaseForCrashTest();
            PageStores fresh = new PageStores(64L << 20, 1L << 20);
            CheckpointLog.Recovery recovery = CheckpointLog.recover(small.resolve(CheckpointLog.FILE),
                    fresh::forFlavor);
            assertThat(recovery.tasks()).extracting(CheckpointLog.RestoredTask::id).containsExactly("a-grows",
                    "b-same");
            assertThat(new String(recovery.tasks().get(0).map().read(BASE, 4), StandardCharsets.US_ASCII))
                    .isEqualTo("a v1");
            assertThat(new String(recovery.tasks().get(1).map().read(BASE, 4), StandardCharsets.US_ASCII))
                    .isEqualTo("b v1");
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
        new ProcessBuilder("umount", "-l", at.toString()).redirectErrorStream(true).start().waitFor();
    }

    @Test
    void aSecondHolderOfTheDirectoryIsRefused() {
        try (DirectoryLock held = DirectoryLock.acquire(directory)) {
            TaskPersistence second = persistence(directory);
            assertThatThrownBy(second::start).isInstanceOf(UnusableDirectoryException.class)
                    .hasMessage("machvm.persistence.directory " + directory + " is in use by another live process (pid "
                            + ProcessHandle.current().pid() + "); each process needs its own directory");
        }
        TaskPersistence after = persistence(directory);
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
