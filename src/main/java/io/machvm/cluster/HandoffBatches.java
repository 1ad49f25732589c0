package io.machvm.cluster;

import io.machvm.service.Task;
import io.machvm.vm.Flavor;
import io.machvm.vm.GroupImage;
import io.machvm.vm.VmMap;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which tasks a shard hands off in one image: tasks that share pages or memory (a fork family) always together, so
 * that they arrive sharing them; small families packed together up to {@link #BATCH_BYTES} and {@link #BATCH_TASKS},
 * so that many small tasks do not cost a request and a durable write each; one flavor per image.
 */
final class HandoffBatches {
    /** Resident bytes of the families packed into one batch (a larger family is a batch of its own). */
    static final long BATCH_BYTES = 64L << 20;
    /**
     * Tasks packed into one batch (a larger family is a batch of its own). Each batch costs the new owner a pass of
     * its checkpoint log over all its tasks, so small tasks move best in few batches; the fence of a batch this size
     * still lets most other tasks' calls through (it holds at most a quarter of the fence's stripes).
     */
    static final int BATCH_TASKS = 1024;

    private HandoffBatches() {
    }

    /** The batches of {@code tasks}, which all go to one shard, their families whole. */
    static List<List<Task>> of(List<Task> tasks) {
        Map<Flavor, List<Task>> byFlavor = new LinkedHashMap<>();
        for (Task task : tasks) {
            byFlavor.computeIfAbsent(task.map().flavor(), f -> new ArrayList<>()).add(task);
        }
        List<List<Task>> batches = new ArrayList<>();
        for (List<Task> sameFlavor : byFlavor.values()) {
            pack(families(sameFlavor), batches);
        }
        return batches;
    }

    /** The families of {@code tasks}, each with its resident bytes, in the order of their first task. */
    private static List<Family> families(List<Task> tasks) {
        List<VmMap> maps = new ArrayList<>(tasks.size());
        for (Task task : tasks) {
            maps.add(task.map());
        }
        int[] root = GroupImage.families(maps);
        Map<Integer, Family> byRoot = new LinkedHashMap<>();
        for (int i = 0; i < tasks.size(); i++) {
            Family family = byRoot.computeIfAbsent(root[i], r -> new Family());
            family.tasks.add(tasks.get(i));
            family.bytes += maps.get(i).residentPages() * maps.get(i).flavor().pageSize();
        }
        return new ArrayList<>(byRoot.values());
    }

    private static final class Family {
        final List<Task> tasks = new ArrayList<>();
        long bytes;
    }

    private static void pack(List<Family> families, List<List<Task>> batches) {
        List<Task> batch = new ArrayList<>();
        long bytes = 0;
        for (Family family : families) {
            if (!batch.isEmpty() && (bytes + family.bytes > BATCH_BYTES
                    || batch.size() + family.tasks.size() > BATCH_TASKS)) {
                batches.add(batch);
                batch = new ArrayList<>();
                bytes = 0;
            }
            batch.addAll(family.tasks);
            bytes += family.bytes;
        }
        if (!batch.isEmpty()) {
            batches.add(batch);
        }
    }
}
