package io.machvm.service;

import io.machvm.vm.Flavor;
import io.machvm.vm.KernException;
import io.machvm.vm.KernReturn;
import io.machvm.vm.MapBudgets;
import io.machvm.vm.PageSnapshot;
import io.machvm.vm.RegionInfo;
import io.machvm.vm.TaskImage;
import io.machvm.vm.TransferLimitException;
import io.machvm.vm.VmInherit;
import io.machvm.vm.VmMap;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The Mach calls as Java methods on task ids: resolves the task, runs the call on its map, and records the call's
 * latency with its {@code kern} result ({@code machvm.calls}) and the bytes it moved ({@code machvm.bytes}).
 */
public final class VmService {
    /** Bodies up to this size are read whole and written in place; larger ones stream into fresh pages. */
    public static final int SMALL_TRANSFER = 64 * 1024;

    private final TaskRegistry registry;
    private final PageStores stores;
    private final Flavor hostFlavor;
    private final long maxTransfer;
    private final MeterRegistry meters;

    private final Call vmAllocate = new Call("vm_allocate");
    private final Call vmDeallocate = new Call("vm_deallocate");
    private final Call vmProtect = new Call("vm_protect");
    private final Call vmInherit = new Call("vm_inherit");
    private final Call vmWrite = new Call("vm_write");
    private final Call vmRead = new Call("vm_read");
    private final Call vmCopy = new Call("vm_copy");
    private final Call vmReadOverwrite = new Call("vm_read_overwrite");
    private final Call vmRegion = new Call("vm_region");
    private final Call vmRegionWalk = new Call("vm_region_walk");
    private final Call taskCreate = new Call("task_create");
    private final Call taskTerminate = new Call("task_terminate");
    private final Call taskInfo = new Call("task_info");
    private final Call taskFork = new Call("task_fork");
    private final Call taskSnapshot = new Call("task_snapshot");
    private final Call taskRestore = new Call("task_restore");
    private final Call pageQuery = new Call("vm_page_range_query");
    private final Call dirtyClear = new Call("vm_dirty_clear");
    private final Call batch = new Call("batch");
    /** Not a call: the bytes vm_copy and vm_read_overwrite shared copy-on-write instead of moving them. */
    private final Call cowShared = new Call("cow_shared");

    /** Over the registry's tasks and page stores; {@code maxTransfer} bounds one call's bytes. */
    public VmService(TaskRegistry registry, Flavor hostFlavor, long maxTransfer, MeterRegistry meters) {
        this.registry = registry;
        this.stores = registry.stores();
        this.hostFlavor = hostFlavor;
        this.maxTransfer = maxTransfer;
        this.meters = meters;
    }

    /** One Mach call's meters, registered on first use so that only series that happened are exported. */
    private final class Call {
        final String name;
        final Timer[] timers = new Timer[KernReturn.values().length];
        volatile Counter bytes;
        volatile Timer aborted;

        Call(String name) {
            this.name = name;
        }

        void record(KernReturn kern, long startNanos) {
            Timer timer = timers[kern.ordinal()];
            if (timer == null) {
                timer = Timer.builder("machvm.calls").description("Mach VM calls by result")
                        .tag("call", name).tag("kern", kern.name()).register(meters);
                timers[kern.ordinal()] = timer;
            }
            timer.record(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
        }

        /** A call whose request body broke off: tagged {@code kern="KERN_ABORTED"} (Mach's 14). */
        void recordAborted(long startNanos) {
            Timer timer = aborted;
            if (timer == null) {
                timer = Timer.builder("machvm.calls").description("Mach VM calls by result")
                        .tag("call", name).tag("kern", "KERN_ABORTED").register(meters);
                aborted = timer;
            }
            timer.record(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
        }

        void countBytes(long n) {
            Counter counter = bytes;
            if (counter == null) {
                counter = Counter.builder("machvm.bytes").description("Bytes moved by Mach VM calls")
                        .baseUnit("bytes").tag("call", name).register(meters);
                bytes = counter;
            }
            counter.increment(n);
        }
    }

    /** A call's work, timed by {@link #timed}. */
    @FunctionalInterface
    interface Body<T> {
        T run() throws IOException;
    }

    private <T> T timed(Call call, Body<T> body) throws IOException {
        long start = System.nanoTime();
        KernReturn kern = KernReturn.KERN_SUCCESS;
        try {
            return body.run();
        } catch (KernException e) {
            kern = e.kern();
            throw e;
        } catch (IOException e) {
            call.recordAborted(start); // the body broke off: the call did not happen
            kern = null;
            throw e;
        } finally {
            if (kern != null) {
                call.record(kern, start);
            }
        }
    }

    private <T> T timedPure(Call call, Body<T> body) {
        try {
            return timed(call, body);
        } catch (IOException impossible) {
            throw new IllegalStateException(impossible);
        }
    }

    VmMap map(String taskId) {
        return registry.get(taskId).map();
    }

    /** The task a call runs on: looked up when the call starts, so that an unknown task is that call's failure. */
    @FunctionalInterface
    interface Target {
        VmMap map();
    }

    // ---------------------------------------------------------------- host and tasks

    /** {@code host_page_size}. */
    public int hostPageSize() {
        return hostFlavor.pageSize();
    }

    public Flavor hostFlavor() {
        return hostFlavor;
    }

    public long maxTransfer() {
        return maxTransfer;
    }

    public HostStatistics hostStatistics() {
        int pageSize = hostFlavor.pageSize();
        return new HostStatistics(pageSize, stores.capacity().capacityBytes(), stores.residentBytes() / pageSize,
                stores.sharedBytes() / pageSize, stores.forFlavor(hostFlavor).freePages(), registry.size());
    }

    public TaskInfo createTask(TaskSpec spec) {
        return timedPure(taskCreate, () -> info(registry.create(spec)));
    }

    /** Creates a task with a chosen id, or returns the existing one with the same settings. */
    public TaskRegistry.Created createTask(String id, TaskSpec spec) {
        return timedPure(taskCreate, () -> registry.createWithId(id, spec));
    }

    public TaskInfo taskInfo(String taskId) {
        return timedPure(taskInfo, () -> info(registry.get(taskId)));
    }

    /**
     * The task as {@link #taskInfo} describes it, without recording a call (for checks a request makes before its
     * call).
     */
    public TaskInfo describe(String taskId) {
        return info(registry.get(taskId));
    }

    /** The page size of the task's flavor (no call is recorded). */
    public int pageSize(String taskId) {
        return map(taskId).flavor().pageSize();
    }

    public TaskInfo info(Task task) {
        VmMap map = task.map();
        Flavor flavor = map.flavor();
        return new TaskInfo(registry.displayId(task), task.name(), flavor, map.errors(), flavor.pageSize(), flavor.minAddress(),
                flavor.maxAddress(), map.regionCount(), map.virtualBytes(), map.residentPages() * flavor.pageSize());
    }

    public List<TaskInfo> listTasks() {
        return registry.list().stream().map(this::info).toList();
    }

    public void terminateTask(String taskId) {
        timedPure(taskTerminate, () -> {
            registry.terminate(taskId);
            return null;
        });
    }

    // ---------------------------------------------------------------- Mach VM calls

    /** Makes one Mach call on the task, timed as that call: what its own endpoint does. */
    public <R> R call(String taskId, MachCall<R> call) {
        return call(() -> map(taskId), call);
    }

    @SuppressWarnings("unchecked") // each kind of call answers its own R
    <R> R call(Target task, MachCall<R> call) {
        Object answer = switch (call) {
            case MachCall.Allocate a -> timedPure(vmAllocate, () -> allocate(task.map(), a));
            case MachCall.Deallocate d -> timedPure(vmDeallocate, () -> {
                task.map().deallocate(d.address(), d.size());
                return null;
            });
            case MachCall.Protect p -> timedPure(vmProtect, () -> {
                task.map().protect(p.address(), p.size(), p.setMaximum(), p.protection());
                return null;
            });
            case MachCall.Inherit i -> timedPure(vmInherit, () -> {
                task.map().inherit(i.address(), i.size(), i.inheritance());
                return null;
            });
            case MachCall.Write w -> timedPure(vmWrite, () -> {
                write(task.map(), w.address(), w.data());
                return null;
            });
            case MachCall.Read r -> timedPure(vmRead, () -> read(task.map(), r.address(), r.size()));
            case MachCall.Copy c -> timedPure(vmCopy, () -> {
                copy(task.map(), c.source(), c.size(), c.dest());
                return null;
            });
            case MachCall.ReadOverwrite r -> timedPure(vmReadOverwrite, () -> readOverwrite(task.map(), r));
            case MachCall.Region r -> timedPure(vmRegion, () -> task.map().region(r.address()));
        };
        return (R) answer;
    }

    public long allocate(String taskId, long address, long size, int flags) {
        return call(taskId, new MachCall.Allocate(address, size, flags)).address();
    }

    private MachCall.Allocation allocate(VmMap map, MachCall.Allocate call) {
        long mapped = map.allocate(call.address(), call.size(), call.flags());
        long pageMask = map.flavor().pageSize() - 1L;
        return call.size() == 0 ? new MachCall.Allocation(0, 0)
                : new MachCall.Allocation(mapped, (call.size() + pageMask) & ~pageMask);
    }

    public void deallocate(String taskId, long address, long size) {
        call(taskId, new MachCall.Deallocate(address, size));
    }

    public void protect(String taskId, long address, long size, boolean setMaximum, int protection) {
        call(taskId, new MachCall.Protect(address, size, setMaximum, protection));
    }

    public void inherit(String taskId, long address, long size, VmInherit inheritance) {
        call(taskId, new MachCall.Inherit(address, size, inheritance));
    }

    /** {@code vm_write} of bytes in memory. */
    public void write(String taskId, long address, byte[] data) {
        call(taskId, new MachCall.Write(address, data));
    }

    private void write(VmMap map, long address, byte[] data) {
        if (data.length > maxTransfer) {
            throw new TransferLimitException(maxTransfer, "transfer of " + data.length
                    + " bytes exceeds the limit of " + maxTransfer + " bytes");
        }
        map.write(address, data, 0, data.length);
        vmWrite.countBytes(data.length);
    }

    /**
     * {@code vm_write} of a body: small bodies are read whole and written in place, larger ones stream into fresh
     * pages that replace the old ones only when the whole body has arrived.
     *
     * @param declaredLength the body's length, or -1 when unknown
     */
    public long write(String taskId, long address, InputStream body, long declaredLength) throws IOException {
        return timed(vmWrite, () -> {
            VmMap map = map(taskId);
            long written;
            // A body over the transfer limit takes the streaming path, which checks the limit after the Mach checks.
            if (declaredLength >= 0 && declaredLength <= Math.min(SMALL_TRANSFER, maxTransfer)) {
                byte[] data = body.readNBytes((int) declaredLength);
                if (data.length < declaredLength) {
                    throw new java.io.EOFException("body ended after " + data.length + " of " + declaredLength
                            + " bytes");
                }
                map.write(address, data, 0, data.length);
                written = data.length;
            } else {
                written = map.write(address, body, declaredLength, maxTransfer);
            }
            vmWrite.countBytes(written);
            return written;
        });
    }

    /** {@code vm_read} into an array, for sizes up to {@link #SMALL_TRANSFER}. */
    public byte[] read(String taskId, long address, long size) {
        return call(taskId, new MachCall.Read(address, size));
    }

    private byte[] read(VmMap map, long address, long size) {
        byte[] data;
        if (Long.compareUnsigned(size, SMALL_TRANSFER) <= 0) {
            data = map.read(address, size);
        } else {
            try (PageSnapshot snapshot = map.snapshot(address, size)) {
                checkTransfer(size, Integer.MAX_VALUE - 16);
                data = snapshot.toByteArray();
            }
        }
        vmRead.countBytes(data.length);
        return data;
    }

    /** {@code vm_read} as a snapshot to stream; the caller must close it. */
    public PageSnapshot readSnapshot(String taskId, long address, long size) {
        return readSnapshot(() -> map(taskId), address, size);
    }

    PageSnapshot readSnapshot(Target task, long address, long size) {
        return timedPure(vmRead, () -> {
            PageSnapshot snapshot = task.map().snapshot(address, size);
            try {
                checkTransfer(size, maxTransfer);
            } catch (KernException e) {
                snapshot.close();
                throw e;
            }
            vmRead.countBytes(size);
            return snapshot;
        });
    }

    private void checkTransfer(long size, long limit) {
        long effective = Math.min(limit, maxTransfer);
        if (Long.compareUnsigned(size, effective) > 0) {
            throw new TransferLimitException(effective, "transfer of " + Long.toUnsignedString(size)
                    + " bytes exceeds the limit of " + effective + " bytes");
        }
    }

    public void copy(String taskId, long source, long size, long dest) {
        call(taskId, new MachCall.Copy(source, size, dest));
    }

    private void copy(VmMap map, long source, long size, long dest) {
        long shared = map.copy(source, size, dest);
        vmCopy.countBytes(size);
        if (shared > 0) {
            cowShared.countBytes(shared);
        }
    }

    /** {@code vm_read_overwrite} from {@code taskId} into {@code destTaskId}; returns {@code outsize}. */
    public long readOverwrite(String taskId, long address, long size, String destTaskId, long destAddress) {
        return call(taskId, new MachCall.ReadOverwrite(address, size, destTaskId, destAddress));
    }

    private long readOverwrite(VmMap source, MachCall.ReadOverwrite call) {
        VmMap dest = call.destTask() == null ? source : map(call.destTask());
        long outsize = VmMap.readOverwrite(source, call.address(), call.size(), dest, call.destAddress(), shared -> {
            if (shared > 0) {
                cowShared.countBytes(shared);
            }
        });
        vmReadOverwrite.countBytes(outsize);
        return outsize;
    }

    // ---------------------------------------------------------------- sandbox features

    /**
     * Checks the id of a task about to be forked or restored, before the fork or the image read: see
     * {@link TaskRegistry#checkNewId}.
     */
    public void checkNewTaskId(String id) {
        registry.checkNewId(id);
    }

    /** Forks {@code parentId}: the child follows each entry's inheritance (copy, share, none). */
    public TaskInfo forkTask(String parentId, String childId, String name) {
        return timedPure(taskFork, () -> {
            Task parent = registry.get(parentId);
            if (name != null) {
                registry.resolve(new TaskSpec(null, null, name)); // a name an image could not carry is refused
            }
            // The child's slot and id are taken before the fork, which changes the parent (shared ranges): once it
            // is done nothing may refuse the child.
            try (TaskRegistry.Reservation slot = registry.reserve(childId)) {
                // The child counts against its own tenant's quotas, which differ from the caller's when an admin
                // forks into another tenant (tenant~id).
                VmMap child = parent.map().fork(registry.budgetsForNewTask(slot.tenant()));
                return info(slot.commit(name != null ? name : parent.name(), child));
            }
        });
    }

    /**
     * A portable image of the task, to stream and then close; with {@code clearDirty} the task's dirty set restarts
     * at this image.
     */
    public TaskImage snapshot(String taskId, boolean clearDirty) {
        return timedPure(taskSnapshot, () -> {
            Task task = registry.get(taskId);
            TaskImage image = task.map().exportImage(task.name(), clearDirty);
            taskSnapshot.countBytes(image.sizeBytes());
            return image;
        });
    }

    /** Restores an image into a new task (id minted when null); a corrupt image creates nothing. */
    public TaskInfo restoreTask(InputStream image, String id) throws IOException {
        return timed(taskRestore, () -> {
            // The task's budgets are those of the tenant it lands in: an admin may restore into another (tenant~id).
            MapBudgets budgets = registry.budgetsForNewTask(registry.tenantOfNewTask(id));
            TaskImage.Restored restored = TaskImage.read(image, stores::forFlavor, budgets);
            return info(registry.adopt(id, restored.name(), restored.map()));
        });
    }

    /** Restores an image into a new task of the named tenant, whoever calls (a node's saved tasks at start-up). */
    public TaskInfo restoreTask(InputStream image, String tenant, String id) throws IOException {
        return timed(taskRestore, () -> {
            TaskImage.Restored restored = TaskImage.read(image, stores::forFlavor, registry.budgetsForNewTask(tenant));
            return info(registry.adopt(tenant, id, restored.name(), restored.map()));
        });
    }

    /** {@code mach_vm_page_range_query}: per-page dispositions of a range. */
    public int[] pageDispositions(String taskId, long address, long size) {
        return timedPure(pageQuery, () -> map(taskId).pageDispositions(address, size));
    }

    public void clearDirty(String taskId) {
        timedPure(dirtyClear, () -> {
            map(taskId).clearDirty();
            return null;
        });
    }

    /**
     * Runs a batch of calls on {@code taskId}, bound by the caller ({@link Batch}), timed as one {@code batch}. Atomic,
     * the calls are one step: the first that fails ends the batch and the task is put back exactly as it was.
     *
     * @throws KernException {@code MACH_SEND_INVALID_DEST} when there is no such task: then no call was made
     */
    public Batch.Outcome runBatch(String taskId, boolean atomic, List<Batch.Step> steps) {
        return Batch.run(this, taskId, atomic, steps);
    }

    <T> T timedBatch(Body<T> body) {
        return timedPure(batch, body);
    }

    public RegionInfo region(String taskId, long address) {
        return call(taskId, new MachCall.Region(address));
    }

    public List<RegionInfo> regions(String taskId) {
        return timedPure(vmRegionWalk, () -> map(taskId).regions());
    }

    /** Receives the region walk one chunk at a time. */
    @FunctionalInterface
    public interface RegionSink {
        void accept(List<RegionInfo> chunk) throws IOException;
    }

    /** Entries per chunk of {@link #walkRegions}: bounds what one walk holds, whatever the number of entries. */
    public static final int REGION_WALK_CHUNK = 1024;

    /**
     * The region walk in chunks of at most {@code chunk} entries, handed to {@code sink} in address order; at most one
     * chunk is held at a time. Each chunk is taken under the task's read lock, which is released before the sink
     * writes it, so a walk concurrent with changes to the map sees each chunk at its own instant (as {@code vm_region}
     * called repeatedly from the end of the last region, which is how Mach tools walk a map). An unknown task throws
     * before the sink is called; the sink is called at least once (with an empty chunk when the map has no entries).
     */
    public void walkRegions(String taskId, int chunk, RegionSink sink) throws IOException {
        timed(vmRegionWalk, () -> {
            VmMap map = map(taskId);
            long from = 0;
            while (true) {
                List<RegionInfo> regions = map.regions(from, chunk);
                sink.accept(regions);
                if (regions.size() < chunk) {
                    return null;
                }
                RegionInfo last = regions.getLast();
                from = last.address() + last.size();
            }
        });
    }
}
