package io.machvm.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;
import io.machvm.vm.GroupImage;
import io.machvm.vm.GroupImageReader;
import io.machvm.vm.KernException;
import io.machvm.vm.VmFlags;
import io.machvm.vm.VmInherit;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Moving tasks between two nodes as a group image, each node with its own checkpoint log: a fork family arrives
 * sharing its pages and memory, is durable on the receiver when received (a crash right after loses nothing), diverges
 * correctly afterwards, and is gone durably from the sender once released. A refused or broken image makes nothing.
 */
class TaskTransfersTest {
    private static final long BASE = 0x100000000L;
    private static final int PAGE = Flavor.ARM64.pageSize();

    @TempDir
    Path sourceDirectory;
    @TempDir
    Path targetDirectory;

    /** A node with persistence on its directory, passes an hour apart: the tests decide when one runs. */
    private static final class Node {
        final PageStores stores = new PageStores(64L << 20, 1L << 20);
        final TaskRegistry registry = new TaskRegistry(stores, Flavor.ARM64, ErrorModel.DOCUMENTED, 1000);
        final VmService vm = new VmService(registry, Flavor.ARM64, 1L << 30, new SimpleMeterRegistry());
        final TaskPersistence persistence;
        final TaskTransfers transfers;

        Node(Path directory) {
            persistence = new TaskPersistence(directory, registry, vm, stores, Duration.ofHours(1));
            persistence.start();
            transfers = new TaskTransfers(registry, persistence);
        }

        void crash() {
            persistence.releaseForCrashTest();
        }

        String read(String task, long address, int length) {
            return new String(vm.read(task, address, length), StandardCharsets.US_ASCII);
        }

        void write(String task, long address, String text) {
            vm.write(task, address, text.getBytes(StandardCharsets.US_ASCII));
        }

        long sharedPages() {
            return vm.hostStatistics().sharedPages();
        }
    }

    private final List<Node> nodes = new ArrayList<>();

    private Node node(Path directory) {
        Node node = new Node(directory);
        nodes.add(node);
        return node;
    }

    @AfterEach
    void crashAll() {
        nodes.forEach(Node::crash);
    }

    /** A parent of 8 written pages, the last 2 inherited shared, and its fork, which has written one page since. */
    private static void family(Node node) {
        node.vm.createTask("fam", new TaskSpec(null, null, "parent"));
        node.vm.allocate("fam", BASE, 8L * PAGE, VmFlags.FIXED);
        for (int p = 0; p < 8; p++) {
            node.write("fam", BASE + (long) p * PAGE, "page " + p);
        }
        node.vm.inherit("fam", BASE + 6L * PAGE, 2L * PAGE, VmInherit.SHARE);
        node.vm.forkTask("fam", "fam.child", null);
        node.write("fam.child", BASE, "child's own");
    }

    /** The image of a {@link #family} made on a node of its own. */
    private byte[] familyImage() throws IOException {
        Node source = node(sourceDirectory);
        family(source);
        return imageOf(source, "fam", "fam.child");
    }

    private static byte[] imageOf(Node node, String... ids) throws IOException {
        List<Task> tasks = new ArrayList<>();
        for (String id : ids) {
            tasks.add(node.registry.get(id));
        }
        try (GroupImage image = node.transfers.export(tasks)) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            image.writeTo(out);
            return out.toByteArray();
        }
    }

    private static List<Task> receive(Node node, byte[] image, boolean replace) throws IOException {
        return node.transfers.receive(GroupImageReader.open(new ByteArrayInputStream(image)), replace);
    }

    @Test
    void aFamilyArrivesSharingItsPagesAndIsDurableOnArrival() throws IOException {
        Node source = node(sourceDirectory);
        family(source);
        long resident = source.vm.hostStatistics().residentPages();
        long shared = source.sharedPages();
        assertThat(shared).as("pages 1 to 5, copy-on-write (shared memory holds its pages once)").isEqualTo(5);
        byte[] image = imageOf(source, "fam", "fam.child");

        Node target = node(targetDirectory);
        assertThat(receive(target, image, false)).extracting(Task::id).containsExactly("fam", "fam.child");
        assertThat(target.vm.hostStatistics().residentPages()).isEqualTo(resident);
        assertThat(target.sharedPages()).isEqualTo(shared);

        // acknowledged means durable: a crash right after, without another pass, loses nothing
        target.crash();
        target = node(targetDirectory);
        assertThat(target.registry.list()).extracting(Task::id).containsExactly("fam", "fam.child");
        assertThat(target.vm.taskInfo("fam").name()).isEqualTo("parent");
        assertThat(target.sharedPages()).isEqualTo(shared);
        assertThat(target.read("fam", BASE, 6)).isEqualTo("page 0");
        assertThat(target.read("fam.child", BASE, 11)).isEqualTo("child's own");

        // copy-on-write: neither sees the other's write; shared memory: both see each other's
        target.write("fam", BASE + PAGE, "parent's write");
        target.write("fam.child", BASE + 2L * PAGE, "child's write");
        assertThat(target.read("fam.child", BASE + PAGE, 6)).isEqualTo("page 1");
        assertThat(target.read("fam", BASE + 2L * PAGE, 6)).isEqualTo("page 2");
        target.write("fam.child", BASE + 6L * PAGE, "seen by both");
        assertThat(target.read("fam", BASE + 6L * PAGE, 12)).isEqualTo("seen by both");
        assertThat(target.sharedPages()).isEqualTo(shared - 2);
    }

    @Test
    void releasedTasksAreGoneDurably() throws IOException {
        Node source = node(sourceDirectory);
        family(source);
        source.vm.createTask("stays", TaskSpec.DEFAULTS);
        source.persistence.checkpointNow();
        source.transfers.release(List.of(source.registry.get("fam"), source.registry.get("fam.child")));
        assertThat(source.registry.list()).extracting(Task::id).containsExactly("stays");
        assertThat(source.vm.hostStatistics().residentPages()).isZero();
        source.crash();
        source = node(sourceDirectory);
        assertThat(source.registry.list()).extracting(Task::id).containsExactly("stays");
    }

    @Test
    void aTakenIdRefusesTheImageUnlessItIsReplaced() throws IOException {
        byte[] image = familyImage();
        Node target = node(targetDirectory);
        target.vm.createTask("fam.child", TaskSpec.DEFAULTS);
        target.vm.allocate("fam.child", BASE, PAGE, VmFlags.FIXED);
        target.write("fam.child", BASE, "an older copy");

        assertThatThrownBy(() -> receive(target, image, false)).isInstanceOf(TaskConflictException.class);
        assertThat(target.registry.list()).extracting(Task::id).containsExactly("fam.child");
        assertThat(target.read("fam.child", BASE, 13)).isEqualTo("an older copy");

        receive(target, image, true);
        assertThat(target.read("fam.child", BASE, 11)).isEqualTo("child's own");
        target.crash();
        Node recovered = node(targetDirectory);
        assertThat(recovered.registry.list()).extracting(Task::id).containsExactly("fam", "fam.child");
        assertThat(recovered.read("fam.child", BASE, 11)).isEqualTo("child's own");
    }

    @Test
    void aBrokenImageMakesNoTaskHereOrAfterARestart() throws IOException {
        byte[] image = familyImage();
        Node target = node(targetDirectory);
        target.vm.createTask("other", TaskSpec.DEFAULTS);
        byte[] truncated = Arrays.copyOf(image, image.length - 100);
        assertThatThrownBy(() -> receive(target, truncated, false)).isInstanceOf(KernException.class)
                .hasMessageContaining("truncated");
        assertThat(target.registry.list()).extracting(Task::id).containsExactly("other");
        assertThat(target.vm.hostStatistics().residentPages()).isZero();
        // the pages it had written to the log are committed by the next pass without any task
        target.persistence.checkpointNow();
        target.crash();
        Node recovered = node(targetDirectory);
        assertThat(recovered.registry.list()).extracting(Task::id).containsExactly("other");
        assertThat(recovered.vm.hostStatistics().residentPages()).isZero();
    }
}
