package io.machvm.service;

import io.machvm.store.PageStore;
import io.machvm.vm.GroupImage;
import io.machvm.vm.GroupImageReader;
import io.machvm.vm.MapBudgets;
import io.machvm.vm.VmMap;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tasks moved between nodes as group images ({@link GroupImage}), so that tasks moved together keep sharing their
 * pages. The order makes a move safe against a crash of either node: the receiver has the tasks durable (in its
 * checkpoint log, forced to disk) before it acknowledges them, and only then does the sender terminate its copies, and
 * has that durable before it reports them moved. A crash can thus leave a task on both nodes for a moment, never on
 * neither.
 */
public final class TaskTransfers {
    private static final Logger log = LoggerFactory.getLogger(TaskTransfers.class);

    private final TaskRegistry registry;
    private final PageStores stores;
    private final TaskPersistence persistence;

    /**
     * @param persistence the node's checkpoint log, or null when the node keeps nothing across restarts (the tasks
     *                    are then acknowledged once they are registered)
     */
    /** Moves the registry's tasks, pages from its stores; with {@code persistence}, durably. */
    public TaskTransfers(TaskRegistry registry, TaskPersistence persistence) {
        this.registry = registry;
        this.stores = registry.stores();
        this.persistence = persistence;
    }

    /** The registry whose tasks this moves. */
    public TaskRegistry registry() {
        return registry;
    }

    /**
     * The image of {@code tasks}, all of one flavor, to write and then close; the caller keeps calls on them out until
     * it has released them or given up (see {@link GroupImage#take}).
     */
    public GroupImage export(List<Task> tasks) {
        List<GroupImage.Member> members = new ArrayList<>(tasks.size());
        for (Task task : tasks) {
            members.add(new GroupImage.Member(task.tenant(), task.id(), task.name(), task.map()));
        }
        return GroupImage.take(members);
    }

    /**
     * Reads a group image into new tasks, each under the tenant and id it had, and returns them once they are durable.
     * The ids are claimed before any page is read. With {@code replace}, a task here under one of the ids is
     * terminated first: a copy left by an earlier attempt whose acknowledgement was lost, while the sender still holds
     * the live one. Without, such a task refuses the image.
     *
     * @throws TaskConflictException when an id is taken and {@code replace} is false
     * @throws IOException           when reading the image, or making the tasks durable, fails; no task is then made
     */
    public List<Task> receive(GroupImageReader image, boolean replace) throws IOException {
        List<TaskRegistry.Reservation> reservations = new ArrayList<>();
        List<Task> registered = new ArrayList<>();
        boolean durable = false;
        try {
            for (GroupImageReader.Heading heading : image.headings()) {
                Task earlier = replace ? registry.find(heading.tenant(), heading.id()) : null;
                if (earlier != null && registry.remove(earlier)) {
                    log.info("task {} of tenant {}: replaced the copy an earlier handoff left here", heading.id(),
                            heading.tenant());
                }
                reservations.add(registry.reserveIn(heading.tenant(), heading.id()));
            }
            PageStore store = stores.forFlavor(image.flavor());
            List<MapBudgets> budgets = new ArrayList<>(reservations.size());
            for (TaskRegistry.Reservation reservation : reservations) {
                budgets.add(registry.budgetsForNewTask(reservation.tenant()));
            }
            long started = System.nanoTime();
            long[] read = {started};
            if (persistence == null) {
                register(image, reservations, image.restore(store, budgets, (s, handle) -> { }), registered);
            } else {
                persistence.importDurably(sink -> {
                    register(image, reservations, image.restore(store, budgets, sink), registered);
                    read[0] = System.nanoTime();
                    return null;
                });
            }
            durable = true;
            long now = System.nanoTime();
            log.info("received {} task(s) in {} ms, durable {} ms after the last byte", registered.size(),
                    (now - started) / 1_000_000, persistence == null ? 0 : (now - read[0]) / 1_000_000);
            return List.copyOf(registered);
        } finally {
            if (!durable) {
                for (Task task : registered) {
                    registry.remove(task); // the sender keeps its copy
                }
            }
            for (TaskRegistry.Reservation reservation : reservations) {
                reservation.close(); // gives back those not committed
            }
        }
    }

    /** Registers the maps as the reserved tasks; a map that is not registered is terminated. */
    private static void register(GroupImageReader image, List<TaskRegistry.Reservation> reservations,
            List<VmMap> maps, List<Task> registered) {
        int i = 0;
        try {
            for (; i < maps.size(); i++) {
                registered.add(reservations.get(i).commit(image.headings().get(i).name(), maps.get(i)));
            }
        } finally {
            for (i++; i < maps.size(); i++) {
                maps.get(i).terminate();
            }
        }
    }

    /**
     * Terminates tasks another node has acknowledged, each unless it has been replaced meanwhile, and returns once
     * that is durable.
     */
    public void release(List<Task> tasks) throws IOException {
        for (Task task : tasks) {
            registry.remove(task);
        }
        if (persistence != null) {
            persistence.syncNow();
        }
    }
}
