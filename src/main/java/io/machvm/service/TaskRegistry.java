package io.machvm.service;

import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;
import io.machvm.vm.KernException;
import io.machvm.vm.KernReturn;
import io.machvm.vm.VmMap;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/** The live tasks by id, with the task limit. */
public final class TaskRegistry {
    /**
     * Task ids chosen by clients: 1 to 64 of {@code [A-Za-z0-9._-]}, except {@code .} and {@code ..}, which are dot
     * segments in a URL path and so could not name the task.
     */
    public static final Pattern ID_PATTERN = Pattern.compile("(?!\\.\\.?$)[A-Za-z0-9._-]{1,64}");

    private final ConcurrentHashMap<String, Task> tasks = new ConcurrentHashMap<>();
    private final AtomicInteger count = new AtomicInteger();
    private final PageStores stores;
    private final Flavor defaultFlavor;
    private final ErrorModel defaultErrors;
    private final int maxTasks;
    private final SecureRandom random = new SecureRandom();

    public TaskRegistry(PageStores stores, Flavor defaultFlavor, ErrorModel defaultErrors, int maxTasks) {
        this.stores = stores;
        this.defaultFlavor = defaultFlavor;
        this.defaultErrors = defaultErrors;
        this.maxTasks = maxTasks;
    }

    /** The settings a spec resolves to with the configured defaults. */
    public TaskSpec resolve(TaskSpec spec) {
        return new TaskSpec(spec.flavor() == null ? defaultFlavor : spec.flavor(),
                spec.errors() == null ? defaultErrors : spec.errors(), spec.name());
    }

    /** Creates a task with a minted id. */
    public Task create(TaskSpec spec) {
        TaskSpec resolved = resolve(spec);
        reserveSlot();
        while (true) {
            String id = "t-" + HexFormat.of().toHexDigits(random.nextLong()).substring(4);
            Task task = newTask(id, resolved);
            if (tasks.putIfAbsent(id, task) == null) {
                return task;
            }
            task.map().terminate();
        }
    }

    /** The outcome of {@link #createWithId}: the task and whether this call created it. */
    public record Created(Task task, boolean created) {
    }

    /**
     * Creates the task with a client-chosen id; an existing task with the same settings is returned as it is.
     *
     * @throws TaskConflictException when the id exists with other settings
     */
    public Created createWithId(String id, TaskSpec spec) {
        if (id == null || !ID_PATTERN.matcher(id).matches()) {
            throw new KernException(KernReturn.KERN_INVALID_ARGUMENT,
                    "task id must be 1 to 64 of [A-Za-z0-9._-], and not . or ..");
        }
        TaskSpec resolved = resolve(spec);
        Task existing = tasks.get(id);
        if (existing == null) {
            reserveSlot();
            Task task = newTask(id, resolved);
            existing = tasks.putIfAbsent(id, task);
            if (existing == null) {
                return new Created(task, true);
            }
            task.map().terminate();
            count.decrementAndGet();
        }
        if (existing.map().flavor() != resolved.flavor() || existing.map().errors() != resolved.errors()
                || (resolved.name() != null && !resolved.name().equals(existing.name()))) {
            throw new TaskConflictException("task " + id + " exists with other settings ("
                    + existing.map().flavor().wireName() + ", " + existing.map().errors().wireName() + ")");
        }
        return new Created(existing, false);
    }

    private void reserveSlot() {
        if (count.incrementAndGet() > maxTasks) {
            count.decrementAndGet();
            throw new KernException(KernReturn.KERN_RESOURCE_SHORTAGE,
                    "the task limit of " + maxTasks + " (machvm.tasks.max) is reached");
        }
    }

    /**
     * Registers a map made elsewhere (a fork, a restored image) as a new task: with {@code id} null an id is minted,
     * otherwise the id must be free. On failure the map is terminated.
     */
    public Task adopt(String id, String name, VmMap map) {
        try {
            if (id != null && !ID_PATTERN.matcher(id).matches()) {
                throw new KernException(KernReturn.KERN_INVALID_ARGUMENT,
                        "task id must be 1 to 64 of [A-Za-z0-9._-], and not . or ..");
            }
            reserveSlot();
        } catch (KernException e) {
            map.terminate();
            throw e;
        }
        while (true) {
            String chosen = id != null ? id : "t-" + HexFormat.of().toHexDigits(random.nextLong()).substring(4);
            Task task = new Task(chosen, name, map);
            if (tasks.putIfAbsent(chosen, task) == null) {
                return task;
            }
            if (id != null) {
                count.decrementAndGet();
                map.terminate();
                throw new TaskConflictException("task " + id + " exists already");
            }
        }
    }

    private Task newTask(String id, TaskSpec resolved) {
        VmMap map = new VmMap(stores.forFlavor(resolved.flavor()), resolved.flavor(), resolved.errors());
        return new Task(id, resolved.name(), map);
    }

    /**
     * The live task with this id.
     *
     * @throws KernException {@code MACH_SEND_INVALID_DEST} when there is none
     */
    public Task get(String id) {
        Task task = id == null ? null : tasks.get(id);
        if (task == null) {
            throw new KernException(KernReturn.MACH_SEND_INVALID_DEST, "no task " + quote(id));
        }
        return task;
    }

    /** Terminates the task: releases every page; later calls on its id fail as through a dead port. */
    public void terminate(String id) {
        Task task = id == null ? null : tasks.remove(id);
        if (task == null) {
            throw new KernException(KernReturn.MACH_SEND_INVALID_DEST, "no task " + quote(id));
        }
        task.map().terminate();
        count.decrementAndGet();
    }

    /** Every live task, by id. */
    public List<Task> list() {
        List<Task> out = new ArrayList<>(tasks.values());
        out.sort(Comparator.comparing(Task::id));
        return out;
    }

    public int size() {
        return tasks.size();
    }

    private static String quote(String id) {
        if (id == null) {
            return "(none)";
        }
        String shown = id.length() > 64 ? id.substring(0, 64) + "…" : id;
        return "'" + shown.replaceAll("[^\\x20-\\x7e]", "?") + "'";
    }
}
