package io.machvm.service;

import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;
import io.machvm.vm.KernException;
import io.machvm.vm.KernReturn;
import io.machvm.vm.MapBudgets;
import io.machvm.vm.VmMap;
import io.machvm.store.Budget;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiPredicate;
import java.util.regex.Pattern;

/**
 * The live tasks, by tenant and id, with the node's task limit and each tenant's. Ids are per tenant: every lookup and
 * creation acts in the tenant of the current call ({@link TenantResolver}), so a tenant neither sees nor reaches
 * another's tasks and gets the same answer for another tenant's id as for an unused one. An admin also addresses
 * another tenant's task as {@code tenant~id} ({@link #QUALIFIER}), which is how it sees them listed.
 */
public final class TaskRegistry {
    /**
     * Task ids chosen by clients: 1 to 64 of {@code [A-Za-z0-9._-]}, except {@code .} and {@code ..}, which are dot
     * segments in a URL path and so could not name the task.
     */
    public static final Pattern ID_PATTERN = Pattern.compile("(?!\\.\\.?$)[A-Za-z0-9._-]{1,64}");
    /**
     * Tenant names: 1 to 128 of {@code [A-Za-z0-9._@+-]}, not {@code .} or {@code ..}. They name image files and
     * qualify ids, so neither {@code /} nor {@code ~} is in.
     */
    public static final Pattern TENANT_PATTERN = Pattern.compile("(?!\\.\\.?$)[A-Za-z0-9._@+-]{1,128}");
    /** Separates tenant and id in a qualified id, {@code tenant~id}; in neither alphabet. */
    public static final char QUALIFIER = '~';

    /** By key, {@code tenant~id}. */
    private final ConcurrentHashMap<String, Task> tasks = new ConcurrentHashMap<>();
    /** Keys claimed by a creation in progress; a creation claims its key here before it checks {@link #tasks}. */
    private final Set<String> claimed = ConcurrentHashMap.newKeySet();
    private final AtomicInteger count = new AtomicInteger();
    private final ConcurrentHashMap<String, AtomicInteger> tenantCounts = new ConcurrentHashMap<>();
    private final TenantResolver tenants;
    private final TenantQuotas quotas;
    private final PageStores stores;
    /** The configured flavor and error model of a task created without them. */
    private final TaskSpec defaults;
    private final int maxTasks;
    private final SecureRandom random = new SecureRandom();
    private final HeapLimits limits;
    /** What all tasks of this node hold together: see {@link #budgetsForNewTask(String)}. */
    private final NodeBudgets node;
    /** Which minted ids this node may hand out, by tenant and id (a shard mints only ids it owns). */
    private volatile BiPredicate<String, String> mintable = (tenant, id) -> true;

    /** A registry where every call acts for {@link Tenant#DEFAULT}, without heap limits or quotas. */
    public TaskRegistry(PageStores stores, Flavor defaultFlavor, ErrorModel defaultErrors, int maxTasks) {
        this(stores, defaultFlavor, defaultErrors, maxTasks, TenantResolver.ANONYMOUS, null);
    }

    /** A registry without heap limits. */
    public TaskRegistry(PageStores stores, Flavor defaultFlavor, ErrorModel defaultErrors, int maxTasks,
            TenantResolver tenants, TenantQuotas quotas) {
        this(stores, defaultFlavor, defaultErrors, maxTasks, HeapLimits.unlimited(),
                NodeBudgets.of(HeapLimits.unlimited()), tenants, quotas);
    }

    /**
     * @param quotas each tenant's quotas, whose budgets must draw from {@code node}'s (see {@link NodeBudgets}); null
     *               for none
     */
    public TaskRegistry(PageStores stores, Flavor defaultFlavor, ErrorModel defaultErrors, int maxTasks,
            HeapLimits limits, NodeBudgets node, TenantResolver tenants, TenantQuotas quotas) {
        this.stores = stores;
        this.defaults = new TaskSpec(defaultFlavor, defaultErrors, null);
        this.maxTasks = maxTasks;
        this.limits = limits;
        this.node = node;
        this.tenants = tenants;
        this.quotas = quotas != null ? quotas
                : new TenantQuotas(TenantQuotas.Limits.NONE, Map.of(), node.residentBytes(), node.mapEntries());
    }

    /**
     * The budgets of a task about to be made (created, forked or restored) in {@code tenant}: each a child of the
     * budget its usage also counts against, the tenant's quota for map entries and resident bytes (itself a child of
     * the node's), the node's for page-table nodes. This is the one place that chooses a task budget's parent.
     */
    public MapBudgets budgetsForNewTask(String tenant) {
        return new MapBudgets(
                quotas.mapEntries(tenant).child(HeapLimits.MAX_MAP_ENTRIES_PER_TASK, limits.maxMapEntriesPerTask()),
                node.pageTableNodes().child(HeapLimits.MAX_PAGE_TABLE_BYTES_PER_TASK,
                        HeapLimits.nodes(limits.maxPageTableBytesPerTask())),
                quotas.residentBytes(tenant).child("task resident bytes", Budget.UNLIMITED));
    }

    /** The node-wide budgets (map entries, page-table nodes, resident bytes), for statistics and tests. */
    public List<Budget> nodeBudgets() {
        return List.of(node.mapEntries(), node.pageTableNodes(), node.residentBytes());
    }

    /** A task's place: its tenant and its id within the tenant. */
    public record Address(String tenant, String id) {
        /** {@code tenant~id}: the task's key, and how an admin names it. */
        public String key() {
            return tenant + QUALIFIER + id;
        }
    }

    /**
     * Where {@code id} points for the current caller: its own tenant, or for an admin (or the tenant itself) the
     * tenant a qualified id names; null when the caller may not address it, which callers answer like an unknown id.
     */
    private Address address(String id) {
        return address(tenants.current(), id);
    }

    /**
     * Where {@code id} points for {@code caller}: a plain id in the caller's tenant, {@code tenant~id} in the tenant
     * it names when the caller is an admin or that tenant; null when the caller may not address it. The id part is
     * not checked against {@link #ID_PATTERN}.
     */
    public static Address address(Tenant caller, String id) {
        if (id == null) {
            return null;
        }
        int q = id.indexOf(QUALIFIER);
        if (q < 0) {
            return new Address(caller.name(), id);
        }
        String tenant = id.substring(0, q);
        if (!caller.admin() && !tenant.equals(caller.name())) {
            return null;
        }
        return TENANT_PATTERN.matcher(tenant).matches() ? new Address(tenant, id.substring(q + 1)) : null;
    }

    /**
     * The address of a task to create: like {@link #address}, and the id must be well formed. Another tenant's
     * qualifier from a caller that may not use it is answered like a malformed id.
     */
    private Address newAddress(Tenant caller, String id) {
        Address address = address(caller, id);
        if (address == null || !ID_PATTERN.matcher(address.id()).matches()) {
            throw new KernException(KernReturn.KERN_INVALID_ARGUMENT,
                    "task id must be 1 to 64 of [A-Za-z0-9._-], and not . or ..: " + quote(id));
        }
        return address;
    }

    /**
     * Checks {@code id} for a task the current caller is about to make by a fork or a restore, before the costly part
     * (forking the parent, reading the image): well formed, in a tenant the caller may address (its own, or any for
     * an admin with {@code tenant~id}), and free. The reservation taken afterwards still covers a create that races.
     *
     * @return the tenant the new task would belong to
     * @throws KernException         {@code KERN_INVALID_ARGUMENT} for a malformed id or one the caller may not use
     * @throws TaskConflictException when the id is taken
     */
    public String checkNewId(String id) {
        Address address = newAddress(tenants.current(), id);
        if (tasks.containsKey(address.key())) {
            throw new TaskConflictException("task " + id + " exists already: a fork or a restored image needs a "
                    + "new id");
        }
        return address.tenant();
    }

    /**
     * The tenant a new task with {@code id} would belong to for the current caller: its own for a minted id (null),
     * otherwise the tenant the id names.
     *
     * @throws KernException {@code KERN_INVALID_ARGUMENT} for a malformed id or one the caller may not use
     */
    public String tenantOfNewTask(String id) {
        Tenant caller = tenants.current();
        return id == null ? caller.name() : newAddress(caller, id).tenant();
    }

    /** The id the current caller knows the task by: plain in its own tenant, {@code tenant~id} in another. */
    public String displayId(Task task) {
        return task.tenant().equals(tenants.current().name()) ? task.id() : task.tenant() + QUALIFIER + task.id();
    }

    /** The settings a spec resolves to with the configured defaults. */
    public TaskSpec resolve(TaskSpec spec) {
        if (spec.name() != null && !wellFormed(spec.name())) {
            throw new KernException(KernReturn.KERN_INVALID_ARGUMENT,
                    "task name must be well-formed Unicode (it has a lone surrogate)");
        }
        return spec.withDefaults(defaults);
    }

    /** Restricts minted ids to those {@code mintable} accepts (a shard mints ids whose slot it owns). */
    public void placeMintedIds(BiPredicate<String, String> mintable) {
        this.mintable = mintable;
    }

    /** Creates a task with a minted id. */
    public Task create(TaskSpec spec) {
        TaskSpec resolved = resolve(spec);
        try (Reservation reservation = reserve(null)) {
            return reservation.commit(resolved.name(), newMap(resolved, tenants.current().name()));
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
        Address address = newAddress(tenants.current(), id);
        String key = address.key();
        TaskSpec resolved = resolve(spec);
        Task existing = tasks.get(key);
        if (existing == null) {
            awaitClaim(key, id);
            try {
                existing = tasks.get(key);
                if (existing == null) {
                    reserveSlot(address.tenant());
                    Task task = new Task(address.tenant(), address.id(), resolved.name(),
                            newMap(resolved, address.tenant()));
                    existing = tasks.putIfAbsent(key, task);
                    if (existing == null) {
                        return new Created(task, true);
                    }
                    task.map().terminate(); // a minted id equal to this one, by chance
                    releaseSlot(address.tenant());
                }
            } finally {
                claimed.remove(key);
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

    private void reserveSlot(String tenant) {
        if (count.incrementAndGet() > maxTasks) {
            count.decrementAndGet();
            throw new KernException(KernReturn.KERN_RESOURCE_SHORTAGE,
                    "the task limit of " + maxTasks + " (machvm.tasks.max) is reached");
        }
        long tenantMax = quotas.maxTasks(tenant);
        AtomicInteger tenantCount = tenantCounts.get(tenant);
        if (tenantCount == null) {
            tenantCount = tenantCounts.computeIfAbsent(tenant, t -> new AtomicInteger());
            newTenantListener.accept(tenant);
        }
        if (tenantCount.incrementAndGet() > tenantMax) {
            tenantCount.decrementAndGet();
            count.decrementAndGet();
            throw new KernException(KernReturn.KERN_RESOURCE_SHORTAGE, "the task quota of " + tenantMax + " ("
                    + quotas.setting(tenant, "max-tasks") + ") is reached");
        }
    }

    private void releaseSlot(String tenant) {
        tenantCounts.get(tenant).decrementAndGet();
        count.decrementAndGet();
    }

    private volatile java.util.function.Consumer<String> newTenantListener = tenant -> {
    };

    /** Calls {@code listener} with each tenant that creates its first task from now on (per-tenant metrics). */
    public void onNewTenant(java.util.function.Consumer<String> listener) {
        this.newTenantListener = listener;
    }

    /** How many tasks the tenant holds. */
    public int tenantSize(String tenant) {
        AtomicInteger n = tenantCounts.get(tenant);
        return n == null ? 0 : n.get();
    }

    /** The tenants that hold or held tasks since start-up. */
    public Set<String> tenantNames() {
        return Set.copyOf(tenantCounts.keySet());
    }

    /**
     * Registers a map made elsewhere (a restored image) as a new task: with {@code id} null an id is minted,
     * otherwise the id must be free. On failure the map is terminated.
     */
    public Task adopt(String id, String name, VmMap map) {
        return adopt(tenants.current(), id, name, map);
    }

    /** {@link #adopt(String, String, VmMap)} into the named tenant (restoring a node's saved tasks at start-up). */
    public Task adopt(String tenant, String id, String name, VmMap map) {
        if (tenant == null || !TENANT_PATTERN.matcher(tenant).matches()) {
            map.terminate();
            throw new KernException(KernReturn.KERN_INVALID_ARGUMENT, "not a tenant name: " + quote(tenant));
        }
        return adopt(new Tenant(tenant, false), id, name, map);
    }

    private Task adopt(Tenant caller, String id, String name, VmMap map) {
        Reservation reservation;
        try {
            reservation = reserve(caller, id);
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
        return reserve(tenants.current(), id);
    }

    /**
     * {@link #reserve(String)} of {@code id} in the named tenant, whoever calls (tasks a shard receives from
     * another).
     */
    public Reservation reserveIn(String tenant, String id) {
        if (tenant == null || !TENANT_PATTERN.matcher(tenant).matches()) {
            throw new KernException(KernReturn.KERN_INVALID_ARGUMENT, "not a tenant name: " + quote(tenant));
        }
        return reserve(new Tenant(tenant, false), id);
    }

    private Reservation reserve(Tenant caller, String id) {
        Address address = id == null ? new Address(caller.name(), null) : newAddress(caller, id);
        reserveSlot(address.tenant());
        if (id != null) {
            String key = address.key();
            try {
                claim(key, id);
            } catch (RuntimeException e) {
                releaseSlot(address.tenant());
                throw e;
            }
            if (tasks.containsKey(key)) {
                claimed.remove(key);
                releaseSlot(address.tenant());
                throw new TaskConflictException("task " + id + " exists already");
            }
        }
        return new Reservation(address);
    }

    /**
     * Claims {@code id}, waiting while another creation holds it (a create with the same id answers what that one
     * made, as if the two came one after the other; a fork holds its child's id for the time of the fork).
     */
    private void awaitClaim(String key, String id) {
        long deadline = System.nanoTime() + CLAIM_WAIT_NANOS;
        while (!claimed.add(key)) {
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

    private void claim(String key, String id) {
        if (!claimed.add(key)) {
            throw new TaskConflictException("task " + id + " is being created by another request");
        }
    }

    /** A task slot, and the id when one was chosen, held for a task being made: see {@link #reserve}. */
    public final class Reservation implements AutoCloseable {
        private final Address address;
        private boolean open = true;

        private Reservation(Address address) {
            this.address = address;
        }

        /** The tenant the reserved task belongs to; its budgets are {@link #budgetsForNewTask(String)} of it. */
        public String tenant() {
            return address.tenant();
        }

        /** Registers {@code map} as the reserved task. */
        public Task commit(String name, VmMap map) {
            if (!open) {
                map.terminate();
                throw new IllegalStateException("reservation already used");
            }
            open = false;
            String tenant = address.tenant();
            if (address.id() != null) {
                Task task = new Task(tenant, address.id(), name, map);
                // The claim keeps every other creation of this id out (a minted id could only collide by chance).
                Task other = tasks.putIfAbsent(address.key(), task);
                claimed.remove(address.key());
                if (other != null) {
                    releaseSlot(tenant);
                    map.terminate();
                    throw new TaskConflictException("task " + address.id() + " exists already");
                }
                return task;
            }
            for (int tries = 0; ; tries++) {
                if (tries == 1_000_000) {
                    count.decrementAndGet();
                    map.terminate();
                    throw new KernException(KernReturn.KERN_RESOURCE_SHORTAGE, "this node mints no task ids now");
                }
                String minted = "t-" + HexFormat.of().toHexDigits(random.nextLong()).substring(4);
                if (!mintable.test(tenant, minted)) {
                    continue;
                }
                Task task = new Task(tenant, minted, name, map);
                if (tasks.putIfAbsent(new Address(tenant, minted).key(), task) == null) {
                    return task;
                }
            }
        }

        /** Gives the slot and the id back unless a task was committed. */
        @Override
        public void close() {
            if (open) {
                open = false;
                if (address.id() != null) {
                    claimed.remove(address.key());
                }
                releaseSlot(address.tenant());
            }
        }
    }

    private VmMap newMap(TaskSpec resolved, String tenant) {
        return new VmMap(stores.forFlavor(resolved.flavor()), resolved.flavor(), resolved.errors(),
                budgetsForNewTask(tenant));
    }

    /**
     * The live task with this id.
     *
     * @throws KernException {@code MACH_SEND_INVALID_DEST} when there is none
     */
    public Task get(String id) {
        Address address = address(id);
        Task task = address == null ? null : tasks.get(address.key());
        if (task == null) {
            throw new KernException(KernReturn.MACH_SEND_INVALID_DEST, "no task " + quote(id));
        }
        return task;
    }

    /** Terminates the task: releases every page; later calls on its id fail as through a dead port. */
    public void terminate(String id) {
        Address address = address(id);
        Task task = address == null ? null : tasks.remove(address.key());
        if (task == null) {
            throw new KernException(KernReturn.MACH_SEND_INVALID_DEST, "no task " + quote(id));
        }
        task.map().terminate();
        releaseSlot(task.tenant());
    }

    /** The live task {@code id} of {@code tenant}, whoever asks; null when there is none. */
    public Task find(String tenant, String id) {
        return tasks.get(new Address(tenant, id).key());
    }

    /**
     * Terminates {@code task} if it is still the live task under its id (a task handed off to another shard);
     * returns whether it was.
     */
    public boolean remove(Task task) {
        if (!tasks.remove(new Address(task.tenant(), task.id()).key(), task)) {
            return false;
        }
        task.map().terminate();
        releaseSlot(task.tenant());
        return true;
    }

    /** The caller's live tasks, by id; for an admin every tenant's, its own first and the others qualified. */
    public List<Task> list() {
        Tenant caller = tenants.current();
        List<Task> out = new ArrayList<>();
        for (Task task : tasks.values()) {
            if (caller.admin() || task.tenant().equals(caller.name())) {
                out.add(task);
            }
        }
        out.sort(Comparator.comparing((Task t) -> !t.tenant().equals(caller.name())).thenComparing(Task::tenant)
                .thenComparing(Task::id));
        return out;
    }

    /** Every live task of every tenant, whoever asks (saving tasks at shutdown, metrics). */
    public List<Task> all() {
        List<Task> out = new ArrayList<>(tasks.values());
        out.sort(Comparator.comparing(Task::tenant).thenComparing(Task::id));
        return out;
    }

    /** Whether the task {@code id} of {@code tenant} is live here. */
    public boolean contains(String tenant, String id) {
        return tasks.containsKey(new Address(tenant, id).key());
    }

    /** The page stores every task's pages come from. */
    public PageStores stores() {
        return stores;
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
