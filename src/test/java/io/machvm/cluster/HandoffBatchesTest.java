package io.machvm.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.service.PageStores;
import io.machvm.service.Task;
import io.machvm.service.TaskRegistry;
import io.machvm.service.TaskSpec;
import io.machvm.service.VmService;
import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;
import io.machvm.vm.VmFlags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Handoff batches: a fork family is never split, small tasks are packed, and flavors never mix in one image. */
class HandoffBatchesTest {
    private static final long BASE = 0x100000000L;

    private final PageStores stores = new PageStores(256L << 20, 1L << 20);
    private final TaskRegistry registry = new TaskRegistry(stores, Flavor.ARM64, ErrorModel.DOCUMENTED, 5000);
    private final VmService vm = new VmService(registry, Flavor.ARM64, 1L << 30, new SimpleMeterRegistry());

    /** A task with {@code bytes} resident. */
    private void task(String id, Flavor flavor, long bytes) {
        vm.createTask(id, new TaskSpec(flavor, null, null));
        vm.allocate(id, BASE, bytes, VmFlags.FIXED);
        byte[] chunk = new byte[(int) Math.min(bytes, 1 << 20)];
        Arrays.fill(chunk, (byte) 1);
        for (long at = 0; at < bytes; at += chunk.length) {
            vm.write(id, BASE + at, Arrays.copyOf(chunk, (int) Math.min(chunk.length, bytes - at)));
        }
    }

    private static List<String> ids(List<Task> batch) {
        return batch.stream().map(Task::id).toList();
    }

    @Test
    void aForkFamilyIsNeverSplitAndSmallTasksArePacked() {
        List<String> order = new ArrayList<>();
        for (int i = 0; i < HandoffBatches.BATCH_TASKS - 1; i++) {
            task("s" + i, Flavor.ARM64, Flavor.ARM64.pageSize());
            order.add("s" + i);
        }
        task("fam", Flavor.ARM64, 4L * Flavor.ARM64.pageSize());
        vm.forkTask("fam", "fam.child", null);
        vm.forkTask("fam", "fam.other", null);
        task("x86", Flavor.X86_64, Flavor.X86_64.pageSize());
        List<Task> tasks = new ArrayList<>();
        for (String id : order) {
            tasks.add(registry.get(id));
        }
        tasks.add(registry.get("x86"));
        tasks.add(registry.get("fam.child"));
        tasks.add(registry.get("fam"));
        tasks.add(registry.get("fam.other"));

        List<List<Task>> batches = HandoffBatches.of(tasks);

        assertThat(batches).hasSize(3);
        assertThat(ids(batches.get(0))).hasSize(HandoffBatches.BATCH_TASKS - 1).containsExactlyElementsOf(order);
        assertThat(ids(batches.get(1))).as("the family did not fit beside them, and moves whole")
                .containsExactly("fam.child", "fam", "fam.other");
        assertThat(ids(batches.get(2))).containsExactly("x86");
    }

    @Test
    void familiesArePackedUpToTheBytesOfABatch() {
        long big = HandoffBatches.BATCH_BYTES / 2 + Flavor.ARM64.pageSize();
        task("a", Flavor.ARM64, big);
        task("b", Flavor.ARM64, big);
        task("c", Flavor.ARM64, Flavor.ARM64.pageSize());

        List<List<Task>> batches = HandoffBatches.of(List.of(registry.get("a"), registry.get("b"),
                registry.get("c")));

        assertThat(batches).extracting(HandoffBatchesTest::ids)
                .containsExactly(List.of("a"), List.of("b", "c"));
    }
}
