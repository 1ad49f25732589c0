package io.machvm.service;

import io.machvm.vm.KernException;
import io.machvm.vm.KernReturn;
import io.machvm.vm.PageSnapshot;
import io.machvm.vm.TransferLimitException;
import io.machvm.vm.VmMap;
import java.util.ArrayList;
import java.util.List;

/**
 * A batch of Mach calls on one task ({@link VmService#runBatch}): the calls, bound by the caller before anything
 * runs, are made in order, and each has a result. Without atomic, each call is made as it is alone and its failure is
 * its result. Atomic, the calls are one step under the task's write lock ({@link VmMap#atomically}): the first call
 * that fails ends the batch, and the task is put back exactly as it was. The {@code vm_read} calls of a batch answer
 * at most {@link #MAX_READ_BYTES} in all.
 */
public final class Batch {
    /** The most bytes the {@code vm_read} calls of one batch may answer with. */
    public static final long MAX_READ_BYTES = 16L << 20;

    private final VmService service;
    private final List<Result> results;
    private long readBudget = MAX_READ_BYTES;

    private Batch(VmService service, int size) {
        this.service = service;
        this.results = new ArrayList<>(size);
    }

    /** One call of a batch, as the caller bound it. */
    public sealed interface Step permits Call, Refused {
    }

    /** A call to make. */
    public record Call(MachCall<?> call) implements Step {
    }

    /**
     * A call whose arguments the caller refused before the batch ran: when its turn comes it fails with {@code kern},
     * without reaching the task, and is its own result.
     */
    public record Refused(KernReturn kern) implements Step, Result {
    }

    /** What a call of a batch came to. */
    public sealed interface Result permits Done, Failed, Refused {
    }

    /** The call succeeded: {@code value} is what it answers ({@link MachCall}), null for calls that answer nothing. */
    public record Done(Object value) implements Result {
    }

    /** The call failed, and changed nothing. */
    public record Failed(KernException failure) implements Result {
    }

    /**
     * What a batch came to: a result per call, in order, and {@code failedIndex} -1; or, when a call of an atomic batch
     * failed, the results up to that call's (at {@code failedIndex}), of calls that were all undone.
     */
    public record Outcome(List<Result> results, int failedIndex) {
        public boolean failed() {
            return failedIndex >= 0;
        }
    }

    /** Ends an atomic batch, so that the task is put back and the batch is recorded under the failing call's kern. */
    private static final class Abort extends KernException {
        final int index;

        Abort(int index, KernReturn kern) {
            super(kern, "call " + index + " of the atomic batch failed");
            this.index = index;
        }
    }

    static Outcome run(VmService service, String taskId, boolean atomic, List<Step> steps) {
        Batch batch = new Batch(service, steps.size());
        if (!atomic) {
            service.timedBatch(() -> {
                service.map(taskId); // an unknown task fails the batch as a whole
                for (Step step : steps) {
                    batch.results.add(batch.make(step, () -> service.map(taskId), null));
                }
                return null;
            });
            return new Outcome(batch.results, -1);
        }
        try {
            service.timedBatch(() -> {
                VmMap map = service.map(taskId);
                return map.atomically(() -> {
                    for (int i = 0; i < steps.size(); i++) {
                        Result result = batch.make(steps.get(i), () -> map, map);
                        batch.results.add(result);
                        switch (result) {
                            case Failed f -> throw new Abort(i, f.failure().kern());
                            case Refused r -> throw new Abort(i, r.kern());
                            case Done d -> {
                            }
                        }
                    }
                    return null;
                });
            });
        } catch (Abort abort) {
            return new Outcome(batch.results, abort.index);
        }
        return new Outcome(batch.results, -1);
    }

    /** Makes one call on {@code task}; {@code locked} is the task of an atomic batch, whose write lock is held. */
    private Result make(Step step, VmService.Target task, VmMap locked) {
        if (step instanceof Refused refused) {
            return refused;
        }
        MachCall<?> call = ((Call) step).call();
        try {
            return new Done(switch (call) {
                case MachCall.Read read -> read(task, read);
                case MachCall.ReadOverwrite into when locked != null -> {
                    checkInto(into, locked);
                    yield service.call(task, into);
                }
                default -> service.call(task, call);
            });
        } catch (KernException e) {
            return new Failed(e);
        }
    }

    /** {@code vm_read} within the batch's read budget, which is checked after the Mach checks, as a read's limit. */
    private byte[] read(VmService.Target task, MachCall.Read read) {
        long bytes = read.size();
        if (Long.compareUnsigned(bytes, VmService.SMALL_TRANSFER) <= 0) {
            byte[] data = service.call(task, read);
            spendReadBudget(bytes);
            return data;
        }
        try (PageSnapshot snapshot = service.readSnapshot(task, read.address(), bytes)) {
            spendReadBudget(bytes);
            return snapshot.toByteArray();
        }
    }

    private void spendReadBudget(long bytes) {
        if (Long.compareUnsigned(bytes, readBudget) > 0) {
            throw new TransferLimitException(MAX_READ_BYTES, "the vm_read calls of a batch answer at most "
                    + MAX_READ_BYTES + " bytes in all; " + readBudget + " are left, not "
                    + Long.toUnsignedString(bytes) + " (use GET /tasks/{task}/memory/{address} for large reads)");
        }
        readBudget -= bytes;
    }

    /** An atomic batch can put back only its own task: its {@code vm_read_overwrite} writes into no other. */
    private void checkInto(MachCall.ReadOverwrite call, VmMap locked) {
        if (call.destTask() != null && service.map(call.destTask()) != locked) {
            throw new KernException(KernReturn.KERN_INVALID_ARGUMENT, "in an atomic batch vm_read_overwrite writes "
                    + "only into the batch's task: another task could not be put back if the batch failed");
        }
    }
}
