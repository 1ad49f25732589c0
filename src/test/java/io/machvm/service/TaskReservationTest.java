package io.machvm.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;
import io.machvm.vm.KernException;
import io.machvm.vm.KernReturn;
import io.machvm.vm.RegionInfo;
import io.machvm.vm.VmFlags;
import io.machvm.vm.VmInherit;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A fork takes its child's slot and id before it changes the parent: a refused fork leaves the parent as it was. */
class TaskReservationTest {
    private static final long BASE = 0x100000000L;

    private static VmService service(int maxTasks) {
        PageStores stores = new PageStores(64L << 20, 1L << 20);
        TaskRegistry registry = new TaskRegistry(stores, Flavor.ARM64, ErrorModel.DOCUMENTED, maxTasks);
        return new VmService(registry, Flavor.ARM64, 1L << 30, new SimpleMeterRegistry());
    }

    private static String parentWithSharedRegion(VmService vm) {
        String parent = vm.createTask(new TaskSpec(null, null, "parent")).id();
        vm.allocate(parent, BASE, 0x8000, VmFlags.FIXED);
        vm.inherit(parent, BASE, 0x4000, VmInherit.SHARE);
        return parent;
    }

    @Test
    void anAdminsForkOrRestoreIntoAnotherTenantDrawsOnThatTenantsBudgets() throws java.io.IOException {
        PageStores stores = new PageStores(64L << 20, 1L << 20);
        TenantQuotas quotas = new TenantQuotas(TenantQuotas.Limits.NONE, java.util.Map.of(),
                new io.machvm.store.Budget("node resident bytes", TenantQuotas.UNLIMITED, null),
                new io.machvm.store.Budget("node map entries", TenantQuotas.UNLIMITED, null));
        java.util.concurrent.atomic.AtomicReference<Tenant> caller =
                new java.util.concurrent.atomic.AtomicReference<>(new Tenant("acme", false));
        TaskRegistry registry = new TaskRegistry(stores, Flavor.ARM64, ErrorModel.DOCUMENTED, 10, caller::get,
                quotas);
        VmService vm = new VmService(registry, Flavor.ARM64, 1L << 30, new SimpleMeterRegistry());
        vm.createTask("parent", TaskSpec.DEFAULTS);
        vm.allocate("parent", BASE, 0x8000, VmFlags.FIXED);
        vm.write("parent", BASE, new byte[0x8000]);
        caller.set(new Tenant("ops", true));
        long opsEntries = quotas.mapEntries("ops").usedUnits();
        long betaEntries = quotas.mapEntries("beta").usedUnits();

        vm.forkTask("acme~parent", "beta~child", null);
        byte[] image;
        try (var snapshot = vm.snapshot("acme~parent", false); var out = new java.io.ByteArrayOutputStream()) {
            snapshot.writeTo(out);
            image = out.toByteArray();
        }
        vm.restoreTask(new java.io.ByteArrayInputStream(image), "beta~restored");

        assertThat(quotas.mapEntries("beta").usedUnits()).isGreaterThanOrEqualTo(betaEntries + 2);
        assertThat(quotas.mapEntries("ops").usedUnits()).isEqualTo(opsEntries);
        caller.set(new Tenant("beta", false));
        assertThat(vm.listTasks()).extracting(TaskInfo::id).containsExactly("child", "restored");
        // A tenant that is not an admin may not use another's qualifier: answered like a malformed id.
        assertThatThrownBy(() -> registry.checkNewId("acme~x")).isInstanceOfSatisfying(KernException.class,
                e -> assertThat(e.kern()).isEqualTo(KernReturn.KERN_INVALID_ARGUMENT));
        assertThatThrownBy(() -> registry.checkNewId("child")).isInstanceOf(TaskConflictException.class);
        assertThat(registry.checkNewId("beta~free")).isEqualTo("beta");
    }

    @Test
    void aForkRefusedAtTheTaskLimitLeavesTheParentUnshared() {
        VmService vm = service(1);
        String parent = parentWithSharedRegion(vm);
        List<RegionInfo> before = vm.regions(parent);

        assertThatThrownBy(() -> vm.forkTask(parent, null, null)).isInstanceOfSatisfying(KernException.class,
                e -> assertThat(e.kern()).isEqualTo(KernReturn.KERN_RESOURCE_SHORTAGE));
        assertThatThrownBy(() -> vm.forkTask(parent, "child", null)).isInstanceOfSatisfying(KernException.class,
                e -> assertThat(e.kern()).isEqualTo(KernReturn.KERN_RESOURCE_SHORTAGE));

        assertThat(vm.regions(parent)).isEqualTo(before);
        assertThat(before).noneMatch(RegionInfo::shared);
        assertThat(vm.listTasks()).hasSize(1);
        // The refused forks gave their slots back: with the parent gone a task fits again.
        vm.terminateTask(parent);
        assertThat(vm.createTask(new TaskSpec(null, null, null)).id()).isNotNull();
    }

    @Test
    void aForkIntoATakenIdLeavesTheParentUnsharedAndTheOtherTaskAlone() {
        VmService vm = service(10);
        String parent = parentWithSharedRegion(vm);
        vm.createTask("taken", new TaskSpec(null, null, "other"));
        List<RegionInfo> before = vm.regions(parent);

        assertThatThrownBy(() -> vm.forkTask(parent, "taken", null)).isInstanceOf(TaskConflictException.class);

        assertThat(vm.regions(parent)).isEqualTo(before);
        assertThat(vm.taskInfo("taken").name()).isEqualTo("other");
        assertThat(vm.taskInfo("taken").regionCount()).isZero();
    }

    @Test
    void aForkOfAnUnknownParentTakesNoSlot() {
        VmService vm = service(1);
        assertThatThrownBy(() -> vm.forkTask("nobody", "child", null)).isInstanceOfSatisfying(KernException.class,
                e -> assertThat(e.kern()).isEqualTo(KernReturn.MACH_SEND_INVALID_DEST));
        assertThat(vm.createTask("child", new TaskSpec(null, null, null)).created()).isTrue();
    }

    @Test
    void racingForksAndCreatesOfOneIdMakeExactlyOneTaskAndNeverShareTheParentForNothing() throws Exception {
        for (int round = 0; round < 20; round++) {
            VmService vm = service(100);
            String parent = parentWithSharedRegion(vm);
            ExecutorService pool = Executors.newFixedThreadPool(4);
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Boolean>> forks = new ArrayList<>();
            try {
                for (int t = 0; t < 4; t++) {
                    boolean fork = t % 2 == 0;
                    forks.add(pool.submit(() -> {
                        start.await();
                        try {
                            if (fork) {
                                vm.forkTask(parent, "child", null);
                            } else {
                                vm.createTask("child", new TaskSpec(null, null, null));
                            }
                            return fork;
                        } catch (TaskConflictException conflict) {
                            return null;
                        }
                    }));
                }
                start.countDown();
                int forked = 0;
                for (Future<Boolean> f : forks) {
                    Boolean won = f.get(30, TimeUnit.SECONDS);
                    if (Boolean.TRUE.equals(won)) {
                        forked++;
                    }
                }
                assertThat(forked).as("at most one fork made the child").isLessThanOrEqualTo(1);
                assertThat(vm.listTasks()).hasSize(2);
                boolean childIsAFork = vm.regions("child").size() > 0;
                assertThat(childIsAFork).isEqualTo(forked == 1);
                // The parent's range is shared exactly when a fork took effect.
                assertThat(vm.region(parent, BASE).shared()).isEqualTo(forked == 1);
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {".", ".."})
    void idsThatAreDotSegmentsAreRefusedForCreatesAndForks(String id) {
        VmService vm = service(10);
        String parent = parentWithSharedRegion(vm);
        List<RegionInfo> before = vm.regions(parent);
        assertThatThrownBy(() -> vm.createTask(id, new TaskSpec(null, null, null)))
                .isInstanceOfSatisfying(KernException.class,
                        e -> assertThat(e.kern()).isEqualTo(KernReturn.KERN_INVALID_ARGUMENT));
        assertThatThrownBy(() -> vm.forkTask(parent, id, null)).isInstanceOfSatisfying(KernException.class,
                e -> assertThat(e.kern()).isEqualTo(KernReturn.KERN_INVALID_ARGUMENT));
        assertThat(vm.regions(parent)).isEqualTo(before);
        assertThat(vm.listTasks()).hasSize(1);
        assertThat(vm.createTask("..." + id, new TaskSpec(null, null, null)).created()).as("other dots are fine")
                .isTrue();
    }

    @Test
    void concurrentCreatesOfOneIdMakeOneTaskAndAnswerItToAll() throws Exception {
        for (int round = 0; round < 20; round++) {
            VmService vm = service(100);
            ExecutorService pool = Executors.newFixedThreadPool(8);
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Boolean>> creates = new ArrayList<>();
            try {
                for (int t = 0; t < 8; t++) {
                    creates.add(pool.submit(() -> {
                        start.await();
                        return vm.createTask("same", new TaskSpec(null, null, "n")).created();
                    }));
                }
                start.countDown();
                int created = 0;
                for (Future<Boolean> f : creates) {
                    if (f.get(30, TimeUnit.SECONDS)) { // no create may fail: the later ones answer the first's task
                        created++;
                    }
                }
                assertThat(created).isEqualTo(1);
                assertThat(vm.listTasks()).hasSize(1);
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
