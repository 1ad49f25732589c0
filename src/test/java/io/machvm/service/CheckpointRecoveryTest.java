package io.machvm.service;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.persistence.CheckpointLog;
import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;
import io.machvm.vm.VmFlags;
import io.machvm.vm.VmInherit;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The checkpoint log in one JVM: a "crash" is simply not stopping, and recovery reads the log into fresh stores the
 * way a restarted process does. What each pass wrote is recovered exactly (creations, writes, deletions), forks come
 * back sharing their pages, and a pass writes only what changed.
 */
class CheckpointRecoveryTest {
    private static final long BASE = 0x100000000L;
    private static final int PAGE = Flavor.ARM64.pageSize();

    @TempDir
    Path directory;

    /** A node: stores, registry, service, and persistence on {@link #directory}. */
    private final class Node {
        final PageStores stores;
        final TaskRegistry registry;
        final VmService vm;
        final TaskPersistence persistence;

        Node(long capacity) {
            stores = new PageStores(capacity, 1L << 20);
            registry = new TaskRegistry(stores, Flavor.ARM64, ErrorModel.DOCUMENTED, 1000);
            vm = new VmService(registry, Flavor.ARM64, 1L << 30, new SimpleMeterRegistry());
            persistence = new TaskPersistence(directory, registry, vm, stores, Duration.ofHours(1));
        }

        /** Starts without the periodic passes mattering (an hour apart): tests run passes themselves. */
        Node start() {
            persistence.start();
            return this;
        }

        void crash() {
            // what SIGKILL leaves: the file as written, the lock released by the OS
            persistence.releaseForCrashTest();
        }

        String read(String task, long address, int length) {
            return new String(vm.read(task, address, length), StandardCharsets.US_ASCII);
        }
    }

    private Node node;

    @AfterEach
    void crashLeftovers() {
        if (node != null) {
            node.crash();
        }
    }

    private static void write(Node n, String task, long address, String text) {
        n.vm.write(task, address, text.getBytes(StandardCharsets.US_ASCII));
    }

    @Test
    void everyCommittedPassIsRecoveredWithCreatesWritesAndDeletes() throws IOException {
        node = new Node(64L << 20).start();
        node.vm.createTask("a", new TaskSpec(null, ErrorModel.XNU, "alpha"));
        node.vm.allocate("a", BASE, 8L * PAGE, VmFlags.FIXED);
        write(node, "a", BASE + 5, "a-v1");
        node.vm.createTask("z", TaskSpec.DEFAULTS);
        node.vm.createTask("x86", new TaskSpec(Flavor.X86_64, null, null));
        node.vm.allocate("x86", BASE, 0x10000, VmFlags.FIXED);
        write(node, "x86", BASE + 0x3000, "x86 bytes");
        node.persistence.checkpointNow();

        write(node, "a", BASE + 5, "a-v2");
        node.vm.protect("a", BASE + PAGE, PAGE, false, 1);
        node.vm.terminateTask("z");
        node.vm.createTask("b", TaskSpec.DEFAULTS);
        node.vm.allocate("b", BASE, PAGE, VmFlags.FIXED);
        write(node, "b", BASE, "b-new");
        node.vm.deallocate("x86", BASE + 0x3000, 0x1000);
        node.persistence.checkpointNow();
        String regions = node.vm.regions("a").toString();
        String x86Regions = node.vm.regions("x86").toString();
        write(node, "a", BASE + 5, "a-v3-after-the-last-pass");
        node.crash();

        node = new Node(64L << 20).start();
        assertThat(node.registry.list()).extracting(Task::id).containsExactly("a", "b", "x86");
        assertThat(node.read("a", BASE + 5, 4)).isEqualTo("a-v2");
        assertThat(node.vm.regions("a").toString()).isEqualTo(regions);
        assertThat(node.vm.taskInfo("a").name()).isEqualTo("alpha");
        assertThat(node.vm.taskInfo("a").errors()).isEqualTo(ErrorModel.XNU);
        assertThat(node.read("b", BASE, 5)).isEqualTo("b-new");
        assertThat(node.vm.taskInfo("x86").flavor()).isEqualTo(Flavor.X86_64);
        assertThat(node.vm.regions("x86").toString()).isEqualTo(x86Regions);
        assertThat(node.vm.taskInfo("x86").residentBytes()).as("its page was deallocated").isZero();
    }

    /** Two flavors, two stores: a content id names one page across both, so neither page stands in for the other. */
    @Test
    void pagesOfBothFlavorsKeepTheirOwnBytes() throws IOException {
        node = new Node(64L << 20).start();
        node.vm.createTask("arm", TaskSpec.DEFAULTS);
        node.vm.createTask("x86", new TaskSpec(Flavor.X86_64, null, null));
        node.vm.allocate("arm", BASE, PAGE, VmFlags.FIXED);
        node.vm.allocate("x86", BASE, 0x1000, VmFlags.FIXED);
        write(node, "arm", BASE, "arm page");
        write(node, "x86", BASE, "x86 page");
        node.persistence.checkpointNow();
        node.crash();
        node = new Node(64L << 20).start();
        assertThat(node.read("arm", BASE, 8)).isEqualTo("arm page");
        assertThat(node.read("x86", BASE, 8)).isEqualTo("x86 page");
    }

    @Test
    void forksComeBackSharingTheirPagesAndFitWhereTheyFittedBefore() throws IOException {
        // 48 pages written in the parent; with two forks 144 pages unshared would not fit in 96
        long capacity = 96L * PAGE;
        node = new Node(capacity).start();
        node.vm.createTask("parent", TaskSpec.DEFAULTS);
        node.vm.allocate("parent", BASE, 64L * PAGE, VmFlags.FIXED);
        for (int p = 0; p < 48; p++) {
            write(node, "parent", BASE + (long) p * PAGE, "page " + p);
        }
        node.vm.inherit("parent", BASE + 60L * PAGE, 4L * PAGE, VmInherit.SHARE);
        write(node, "parent", BASE + 60L * PAGE, "shared one");
        node.vm.forkTask("parent", "child1", null);
        node.vm.forkTask("parent", "child2", null);
        write(node, "child1", BASE, "child1 own");
        HostStatistics before = node.vm.hostStatistics();
        node.persistence.checkpointNow();
        node.crash();

        node = new Node(capacity).start();
        HostStatistics after = node.vm.hostStatistics();
        assertThat(after.residentPages()).isEqualTo(before.residentPages());
        assertThat(after.sharedPages()).isEqualTo(before.sharedPages());
        assertThat(node.read("child1", BASE, 10)).isEqualTo("child1 own");
        assertThat(node.read("child2", BASE, 6)).isEqualTo("page 0");
        assertThat(node.read("parent", BASE, 6)).isEqualTo("page 0");
        // inheritance share: still one memory
        write(node, "parent", BASE + 60L * PAGE, "shared two");
        assertThat(node.read("child1", BASE + 60L * PAGE, 10)).isEqualTo("shared two");
        assertThat(node.read("child2", BASE + 60L * PAGE, 10)).isEqualTo("shared two");
        // copy-on-write: still private on write
        write(node, "child2", BASE + PAGE, "child2 own");
        assertThat(node.read("parent", BASE + PAGE, 6)).isEqualTo("page 1");
    }

    @Test
    void aPassWritesOnlyWhatChanged() throws IOException {
        node = new Node(64L << 20).start();
        node.vm.createTask("big", TaskSpec.DEFAULTS);
        node.vm.allocate("big", BASE, 256L * PAGE, VmFlags.FIXED);
        for (int p = 0; p < 256; p++) {
            write(node, "big", BASE + (long) p * PAGE, "p" + p);
        }
        for (int i = 0; i < 20; i++) {
            node.vm.createTask("idle-" + i, TaskSpec.DEFAULTS);
        }
        node.persistence.checkpointNow();
        long size = Files.size(directory.resolve(CheckpointLog.FILE));
        assertThat(size).isGreaterThan(256L * PAGE);

        node.persistence.checkpointNow();
        long unchanged = Files.size(directory.resolve(CheckpointLog.FILE)) - size;
        assertThat(unchanged).as("a pass with no change").isLessThan(64);

        write(node, "big", BASE + 7L * PAGE, "changed");
        node.vm.forkTask("big", "fork", null); // shares every page: none is written again
        node.persistence.checkpointNow();
        long grown = Files.size(directory.resolve(CheckpointLog.FILE)) - size - unchanged;
        assertThat(grown).as("one page, the fork's page table and metadata").isBetween((long) PAGE,
                PAGE + 256L * 16 + 1024);
        node.crash();
        node = new Node(64L << 20).start();
        assertThat(node.read("fork", BASE + 7L * PAGE, 7)).isEqualTo("changed");
    }

    @Test
    void aTornLastPassIsIgnored() throws IOException {
        node = new Node(64L << 20).start();
        node.vm.createTask("t", TaskSpec.DEFAULTS);
        node.vm.allocate("t", BASE, PAGE, VmFlags.FIXED);
        write(node, "t", BASE, "first");
        node.persistence.checkpointNow();
        Path log = directory.resolve(CheckpointLog.FILE);
        long good = Files.size(log);
        write(node, "t", BASE, "second");
        node.persistence.checkpointNow();
        node.crash();
        try (FileChannel channel = FileChannel.open(log, StandardOpenOption.WRITE)) {
            channel.truncate(good + (Files.size(log) - good) / 2); // the crash came while the pass was written
        }
        node = new Node(64L << 20).start();
        assertThat(node.read("t", BASE, 5)).isEqualTo("first");
    }

    @Test
    void aHeapErrorOnOneTaskDoesNotStopTheOthers() throws IOException {
        PageStores stores = new PageStores(64L << 20, 1L << 20);
        TaskRegistry registry = new TaskRegistry(stores, Flavor.ARM64, ErrorModel.DOCUMENTED, 100);
        VmService vm = new VmService(registry, Flavor.ARM64, 1L << 30, new SimpleMeterRegistry());
        boolean[] fail = {false};
        TaskPersistence persistence = new TaskPersistence(directory, registry, vm, stores, Duration.ofHours(1),
                task -> {
                    if (fail[0] && task.id().equals("b")) {
                        throw new OutOfMemoryError("Java heap space");
                    }
                });
        persistence.start();
        for (String id : List.of("a", "b", "c")) {
            vm.createTask(id, TaskSpec.DEFAULTS);
            vm.allocate(id, BASE, PAGE, VmFlags.FIXED);
            vm.write(id, BASE, (id + "-v1").getBytes(StandardCharsets.US_ASCII));
        }
        persistence.checkpointNow();
        for (String id : List.of("a", "b", "c")) {
            vm.write(id, BASE, (id + "-v2").getBytes(StandardCharsets.US_ASCII));
        }
        fail[0] = true;
        persistence.checkpointNow();
        persistence.releaseForCrashTest();

        node = new Node(64L << 20).start();
        assertThat(node.read("a", BASE, 4)).isEqualTo("a-v2");
        assertThat(node.read("b", BASE, 4)).as("its last good state").isEqualTo("b-v1");
        assertThat(node.read("c", BASE, 4)).isEqualTo("c-v2");
    }
}
