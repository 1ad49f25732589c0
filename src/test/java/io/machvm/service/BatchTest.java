package io.machvm.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;
import io.machvm.vm.KernException;
import io.machvm.vm.KernReturn;
import io.machvm.vm.TransferLimitException;
import io.machvm.vm.VmFlags;
import io.machvm.vm.VmProt;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A batch as the service runs it: calls bound as values, results as values, atomic batches as one step. */
class BatchTest {
    private static final long BASE = 0x1_0000_0000L;
    private static final int PAGE = Flavor.ARM64.pageSize();

    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final VmService vm = service();

    private VmService service() {
        PageStores stores = new PageStores(64L << 20, 1L << 20);
        TaskRegistry registry = new TaskRegistry(stores, Flavor.ARM64, ErrorModel.DOCUMENTED, 10);
        return new VmService(registry, Flavor.ARM64, 1L << 30, meters);
    }

    private String task(long bytes) {
        String id = vm.createTask(TaskSpec.DEFAULTS).id();
        vm.allocate(id, BASE, bytes, VmFlags.FIXED);
        return id;
    }

    private long timed(String call, KernReturn kern) {
        Timer timer = meters.find("machvm.calls").tag("call", call).tag("kern", kern.name()).timer();
        return timer == null ? 0 : timer.count();
    }

    private static Batch.Step call(MachCall<?> call) {
        return new Batch.Call(call);
    }

    private static KernReturn kern(Batch.Result result) {
        return ((Batch.Failed) result).failure().kern();
    }

    @Test
    void aFailingCallOfAnAtomicBatchUndoesTheCallsBeforeIt() {
        String t = task(2L * PAGE);
        vm.write(t, BASE, new byte[] {1, 2, 3});
        var regionsBefore = vm.regions(t);

        Batch.Outcome outcome = vm.runBatch(t, true, List.of(
                call(new MachCall.Write(BASE, new byte[] {9, 9, 9})),
                call(new MachCall.Allocate(0, PAGE, VmFlags.ANYWHERE)),
                call(new MachCall.Protect(BASE, PAGE, false, VmProt.READ)),
                call(new MachCall.Write(BASE + 0x1000_0000L, new byte[] {1})),
                call(new MachCall.Deallocate(BASE, PAGE))));

        assertThat(outcome.failed()).isTrue();
        assertThat(outcome.failedIndex()).isEqualTo(3);
        assertThat(outcome.results()).hasSize(4);
        assertThat(outcome.results().subList(0, 3)).allMatch(r -> r instanceof Batch.Done);
        assertThat(((Batch.Done) outcome.results().get(1)).value())
                .isEqualTo(new MachCall.Allocation(BASE + 2L * PAGE, PAGE));
        assertThat(kern(outcome.results().get(3))).isEqualTo(KernReturn.KERN_INVALID_ADDRESS);
        assertThat(vm.regions(t)).isEqualTo(regionsBefore);
        assertThat(vm.read(t, BASE, 3)).containsExactly(1, 2, 3);
        assertThat(timed("batch", KernReturn.KERN_INVALID_ADDRESS)).isOne();
        assertThat(timed("vm_deallocate", KernReturn.KERN_SUCCESS)).as("not run").isZero();
    }

    @Test
    void aRefusedCallFailsWhenItsTurnComesWithoutReachingTheTask() {
        String t = task(PAGE);
        Batch.Refused refused = new Batch.Refused(KernReturn.KERN_INVALID_ARGUMENT);
        List<Batch.Step> steps = List.of(call(new MachCall.Allocate(0, PAGE, VmFlags.ANYWHERE)), refused,
                call(new MachCall.Region(BASE)));

        Batch.Outcome plain = vm.runBatch(t, false, steps);
        assertThat(plain.failed()).isFalse();
        assertThat(plain.results()).hasSize(3);
        assertThat(plain.results().get(1)).isSameAs(refused);
        assertThat(((Batch.Done) plain.results().get(2)).value()).isEqualTo(vm.region(t, BASE));
        assertThat(timed("vm_allocate", KernReturn.KERN_SUCCESS)).isEqualTo(2); // the task's, and the batch's

        int regions = vm.regions(t).size();
        Batch.Outcome atomic = vm.runBatch(t, true, steps);
        assertThat(atomic.failedIndex()).isEqualTo(1);
        assertThat(atomic.results().get(1)).isSameAs(refused);
        assertThat(vm.regions(t)).hasSize(regions);
        assertThat(timed("batch", KernReturn.KERN_INVALID_ARGUMENT)).isOne();
    }

    @Test
    void theReadsOfABatchAnswerAtMostTheirBudgetCheckedAfterTheMachChecks() {
        String t = task(24L << 20);
        Batch.Outcome outcome = vm.runBatch(t, false, List.of(
                call(new MachCall.Read(BASE, 12L << 20)),
                call(new MachCall.Read(BASE + (32L << 20), 5L << 20)),
                call(new MachCall.Read(BASE, 5L << 20)),
                call(new MachCall.Read(BASE, 4L << 20)),
                call(new MachCall.Read(BASE, 1))));

        assertThat(((byte[]) ((Batch.Done) outcome.results().get(0)).value())).hasSize(12 << 20);
        assertThat(kern(outcome.results().get(1))).as("unmapped, spends nothing")
                .isEqualTo(KernReturn.KERN_INVALID_ADDRESS);
        assertThat(((Batch.Failed) outcome.results().get(2)).failure()).isInstanceOf(TransferLimitException.class)
                .hasMessageContaining("4194304 are left, not 5242880");
        assertThat(outcome.results().get(3)).isInstanceOf(Batch.Done.class);
        assertThat(kern(outcome.results().get(4))).isEqualTo(KernReturn.KERN_INVALID_ARGUMENT);
    }

    @Test
    void anAtomicBatchWritesIntoNoOtherTask() {
        String t = task(PAGE);
        String other = task(PAGE);
        List<Batch.Step> steps = List.of(call(new MachCall.Write(BASE, new byte[] {7})),
                call(new MachCall.ReadOverwrite(BASE, 1, other, BASE)));

        Batch.Outcome atomic = vm.runBatch(t, true, steps);
        assertThat(atomic.failedIndex()).isEqualTo(1);
        assertThat(kern(atomic.results().get(1))).isEqualTo(KernReturn.KERN_INVALID_ARGUMENT);
        assertThat(vm.read(t, BASE, 1)).containsExactly(0);
        assertThat(vm.read(other, BASE, 1)).containsExactly(0);

        Batch.Outcome plain = vm.runBatch(t, false, steps);
        assertThat(((Batch.Done) plain.results().get(1)).value()).isEqualTo(1L);
        assertThat(vm.read(other, BASE, 1)).containsExactly(7);
        Batch.Outcome self = vm.runBatch(t, true, List.of(call(new MachCall.ReadOverwrite(BASE, 1, t, BASE + 1))));
        assertThat(self.failed()).isFalse();
        assertThat(vm.read(t, BASE, 2)).containsExactly(7, 7);
    }

    @Test
    void anUnknownTaskFailsTheWholeBatchBeforeAnyCall() {
        List<Batch.Step> steps = List.of(call(new MachCall.Region(BASE)));
        for (boolean atomic : new boolean[] {false, true}) {
            assertThatThrownBy(() -> vm.runBatch("none", atomic, steps)).isInstanceOfSatisfying(KernException.class,
                    e -> assertThat(e.kern()).isEqualTo(KernReturn.MACH_SEND_INVALID_DEST));
        }
        assertThat(timed("batch", KernReturn.MACH_SEND_INVALID_DEST)).isEqualTo(2);
        assertThat(timed("vm_region", KernReturn.MACH_SEND_INVALID_DEST)).isZero();
    }
}
