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
import java.util.Set;
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
    /** Ids claimed by a creation in progress; a creation claims its id here before it checks {@link #tasks}. */
    private final Set<String> claimed = ConcurrentHashMap.newKeySet();
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
        if (spec.name() != null && !wellFormed(spec.name())) {
            throw new KernException(KernReturn.KERN_INVALID_ARGUMENT,
                    "task name must be well-formed Unicode (it has a lone surrogate)");
        }
        return new TaskSpec(spec.flavor() == null ? defaultFlavor : spec.flavor(),
                spec.errors() == null ? defaultErrors : spec.errors(), spec.name());
    }

    /** Creates a task with a minted id. */
    public Task create(TaskSpec spec) {
        TaskSpec resolved = resolve(spec);
        try (Reservation reservation = reserve(null)) {
            return reservation.commit(resolved.name(), newMap(resolved));
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
            awaitClaim(id);
            try {
                existing = tasks.get(id);
                if (existing == null) {
                    reserveSlot();
                    Task task = new Task(id, resolved.name(), newMap(resolved));
                    existing = tasks.putIfAbsent(id, task);
                    if (existing == null) {
                        return new Created(task, true);
                    }
                    task.map().terminate(); // a minted id equal to this one, by chance
                    count.decrementAndGet();
                }
            } finally {
                claimed.remove(id);
            }
        }
        if (existing.map().flavor() != resolved.flavor() || existing.map().errors() != resolved.errors()
                || (resolved.name() != null && !resolved.name().equals(existing.name()))) {
            throw new TaskConflictException("task " + id + " exists with other settings ("
                    + existing.map().flavor().wireName() + ", " + existing.map().errors().wireName() + ")");
        }
        return new Created(existing, false);
    }

    /** Whether UTF-8 carries the name exactly: no lone surrogates, so it survives an image byte for byte. */
    static boolean wellFormed(String name) {
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < name.length() && Character.isLowSurrogate(name.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return false;
            }
        }
        return true;
    }

    private void reserveSlot() {
        if (count.incrementAndGet() > maxTasks) {
            count.decrementAndGet();
            throw new KernException(KernReturn.KERN_RESOURCE_SHORTAGE,
                    "the task limit of " + maxTasks + " (machvm.tasks.max) is reached");
        }
    }

    /**
     * Registers a map made elsewhere (a restored image) as a new task: with {@code id} null an id is minted,
     * otherwise the id must be free. On failure the map is terminated.
     */
    public Task adopt(String id, String name, VmMap map) {
        Reservation reservation;
        try {
            reservation = reserve(id);
        } catch (RuntimeException e) {
            map.terminate();
            throw e;
        }
        try (reservation) {
            return reservation.commit(name, map);
        }
    }

    /**
     * Claims a slot under the task limit and, when {@code id} is not null, the id, for a task whose map is made
     * afterwards (a fork changes its parent, so nothing may refuse the child once the fork is done). Close the
     * reservation to give both back when the task is not made.
     *
     * @throws KernException         {@code KERN_INVALID_ARGUMENT} for a malformed id, {@code KERN_RESOURCE_SHORTAGE}
     *                               at the task limit
     * @throws TaskConflictException when the id is taken or being created
     */
    public Reservation reserve(String id) {
        if (id != null && !ID_PATTERN.matcher(id).matches()) {
            throw new KernException(KernReturn.KERN_INVALID_ARGUMENT,
                    "task id must be 1 to 64 of [A-Za-z0-9._-], and not . or ..");
        }
        reserveSlot();
        if (id != null) {
            try {
                claim(id);
            } catch (RuntimeException e) {
                count.decrementAndGet();
                throw e;
            }
            if (tasks.containsKey(id)) {
                claimed.remove(id);
                count.decrementAndGet();
                throw new TaskConflictException("task " + id + " exists already");
            }
        }
        return new Reservation(id);
    }

    /**
     * Claims {@code id}, waiting while another creation holds it (a create with the same id answers what that one
     * made, as if the two came one after the other; a fork holds its child's id for the time of the fork).
     */
    private void awaitClaim(String id) {
        long deadline = System.nanoTime() + CLAIM_WAIT_NANOS;
        while (!claimed.add(id)) {
            if (System.nanoTime() - deadline > 0) {
                throw new TaskConflictException("task " + id + " is being created by another request");
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new TaskConflictException("task " + id + " is being created by another request");
            }
        }
    }

    private static final long CLAIM_WAIT_NANOS = 10_000_000_000L;

    private void claim(String id) {
        if (!claimed.add(id)) {
            throw new TaskConflictException("task " + id + " is being created by another request");
        }
    }

    /** A task slot, and the id when one was chosen, held for a task being made: see {@link #reserve}. */
    public final class Reservation implements AutoCloseable {
        private final String id;
        private boolean open = true;

        private Reservation(String id) {
            this.id = id;
        }

        /** Registers {@code map} as the reserved task. */
        public Task commit(String name, VmMap map) {
            if (!open) {
                map.terminate();
                throw new IllegalStateException("reservation already used");
            }
            open = false;
            if (id != null) {
                Task task = new Task(id, name, map);
                // The claim keeps every other creation of this id out (a minted id could only collide by chance).
                Task other = tasks.putIfAbsent(id, task);
                claimed.remove(id);
                if (other != null) {
                    count.decrementAndGet();
                    map.terminate();
                    throw new TaskConflictException("task " + id + " exists already");
                }
                return task;
            }
            while (true) {
                String minted = "t-" + HexFormat.of().toHexDigits(random.nextLong()).substring(4);
                Task task = new Task(minted, name, map);
                if (tasks.putIfAbsent(minted, task) == null) {
                    return task;
                }
            }
        }

        /** Gives the slot and the id back unless a task was committed. */
        @Override
        public void close() {
            if (open) {
                open = false;
                if (id != null) {
                    claimed.remove(id);
                }
                count.decrementAndGet();
            }
        }
    }

    private VmMap newMap(TaskSpec resolved) {
        return new VmMap(stores.forFlavor(resolved.flavor()), resolved.flavor(), resolved.errors());
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
