package io.machvm.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machvm.persistence.CheckpointLog;
import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;
import io.machvm.vm.TaskImage;
import java.io.OutputStream;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tasks keep their tenant across a restart and a crash: the checkpoint log records each task's tenant, every tenant's
 * tasks are checkpointed (not only those of whoever the pass runs as), the same id in two tenants is two tasks, and
 * task images left by earlier versions ({@code tenant~id.machvm}) come back under their tenant too.
 */
class TenantPersistenceTest {
    private static final long A = 0x1_0000_0000L;

    @TempDir
    Path directory;

    private final AtomicReference<Tenant> caller = new AtomicReference<>(Tenant.DEFAULT);

    private record Node(PageStores stores, TaskRegistry registry, VmService service, TaskPersistence persistence) {
    }

    private Node node() {
        return node(TenantQuotas.unlimited());
    }

    private Node node(TenantQuotas quotas) {
        PageStores stores = new PageStores(16L << 20, 16L << 20);
        TaskRegistry registry = new TaskRegistry(stores, Flavor.ARM64, ErrorModel.DOCUMENTED, 100, caller::get,
                quotas);
        VmService service = new VmService(registry, Flavor.ARM64, 1L << 20, new SimpleMeterRegistry());
        return new Node(stores, registry, service, new TaskPersistence(directory, registry, service, stores,
                Duration.ofHours(1)));
    }

    private void writeAs(Node node, Tenant tenant, String id, String text) {
        caller.set(tenant);
        node.service().createTask(id, TaskSpec.DEFAULTS);
        node.service().allocate(id, A, 16384, 0);
        node.service().write(id, A, text.getBytes(StandardCharsets.US_ASCII));
    }

    private String readAs(Node node, Tenant tenant, String id, int size) {
        caller.set(tenant);
        return new String(node.service().read(id, A, size), StandardCharsets.US_ASCII);
    }

    @Test
    void tasksKeepTheirTenantAcrossARestart() throws Exception {
        Node before = node();
        before.persistence().start();
        Tenant acme = new Tenant("acme", false);
        Tenant beta = new Tenant("beta", false);
        writeAs(before, acme, "shared-id", "acme's");
        writeAs(before, beta, "shared-id", "beta's");
        writeAs(before, Tenant.DEFAULT, "plain", "default");
        caller.set(Tenant.DEFAULT); // the shutdown runs outside any request
        before.persistence().stop();
        try (Stream<Path> files = Files.list(directory)) {
            assertThat(files.map(p -> p.getFileName().toString())).contains(CheckpointLog.FILE)
                    .noneMatch(n -> n.endsWith(TaskPersistence.SUFFIX));
        }

        Node after = node();
        after.persistence().start();
        assertRestored(after, acme, beta);
        after.persistence().stop();
    }

    @Test
    void aCrashLosesNoTenant() throws Exception {
        Node before = node();
        before.persistence().start();
        Tenant acme = new Tenant("acme", false);
        Tenant beta = new Tenant("beta", false);
        writeAs(before, acme, "shared-id", "acme's");
        writeAs(before, beta, "shared-id", "beta's");
        writeAs(before, Tenant.DEFAULT, "plain", "default");
        caller.set(beta); // a pass runs as whoever: it still takes every tenant's tasks
        before.persistence().checkpointNow();
        before.persistence().releaseForCrashTest(); // no last pass: what SIGKILL leaves

        caller.set(Tenant.DEFAULT);
        Node after = node();
        after.persistence().start();
        assertRestored(after, acme, beta);
        assertThat(after.registry().all()).extracting(Task::tenant).containsExactly("acme", "beta", "default");
        after.persistence().stop();
    }

    @Test
    void imagesOfEarlierVersionsComeBackUnderTheirTenant() throws Exception {
        Node before = node();
        Tenant acme = new Tenant("acme", false);
        Tenant beta = new Tenant("beta", false);
        writeAs(before, acme, "shared-id", "acme's");
        writeAs(before, beta, "shared-id", "beta's");
        writeAs(before, Tenant.DEFAULT, "plain", "default");
        for (Task task : before.registry().all()) {
            String file = (task.tenant().equals(Tenant.DEFAULT.name()) ? "" : task.tenant() + TaskRegistry.QUALIFIER)
                    + task.id() + TaskPersistence.SUFFIX;
            try (TaskImage image = task.map().exportImage(task.name(), false);
                    OutputStream out = Files.newOutputStream(directory.resolve(file))) {
                image.writeTo(out);
            }
        }

        caller.set(Tenant.DEFAULT);
        Node after = node();
        after.persistence().start();
        assertRestored(after, acme, beta);
        try (Stream<Path> files = Files.list(directory)) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains(".machvm."))
                    .noneMatch(n -> n.endsWith(TaskPersistence.SUFFIX));
        }
        after.persistence().stop();

        Node again = node();
        again.persistence().start(); // now from the log alone
        assertRestored(again, acme, beta);
        again.persistence().stop();
    }

    @Test
    void aRestoredTaskIsChargedToItsTenantEvenPastALoweredQuota() throws Exception {
        Node before = node();
        before.persistence().start();
        Tenant acme = new Tenant("acme", false);
        writeAs(before, acme, "big", "acme's");
        caller.set(acme);
        before.service().allocate("big", A + 16384, 3 * 16384, 0);
        before.service().write("big", A + 16384, new byte[2 * 16384]); // three pages resident in all
        caller.set(Tenant.DEFAULT);
        before.persistence().stop();

        // acme may now hold one page: its task holds three, and comes back all the same
        TenantQuotas lowered = new TenantQuotas(TenantQuotas.Limits.NONE,
                java.util.Map.of("acme", new TenantQuotas.Limits(TenantQuotas.UNLIMITED, 16384,
                        TenantQuotas.UNLIMITED)), null, null);
        Node after = node(lowered);
        after.persistence().start();
        assertThat(readAs(after, acme, "big", 6)).isEqualTo("acme's");
        assertThat(after.registry().all()).extracting(Task::tenant).containsExactly("acme");
        assertThat(lowered.residentBytes("acme").usedUnits()).isEqualTo(3 * 16384L);
        caller.set(acme);
        assertThatThrownBy(() -> after.service().write("big", A + 3 * 16384, new byte[16384]))
                .isInstanceOf(io.machvm.vm.KernException.class).hasMessageContaining("max-resident-bytes");
        after.service().deallocate("big", A, 4 * 16384); // back under the quota: room again
        assertThat(lowered.residentBytes("acme").usedUnits()).isZero();
        after.service().allocate("big", A, 16384, 0);
        after.service().write("big", A, new byte[16384]);
        caller.set(Tenant.DEFAULT);
        after.persistence().stop();
    }

    private void assertRestored(Node after, Tenant acme, Tenant beta) {
        assertThat(after.registry().size()).isEqualTo(3);
        assertThat(readAs(after, acme, "shared-id", 6)).isEqualTo("acme's");
        assertThat(readAs(after, beta, "shared-id", 6)).isEqualTo("beta's");
        assertThat(readAs(after, Tenant.DEFAULT, "plain", 7)).isEqualTo("default");
        caller.set(acme);
        assertThat(after.registry().list()).extracting(Task::id).containsExactly("shared-id");
        caller.set(Tenant.DEFAULT);
        assertThat(after.registry().list()).extracting(Task::id).containsExactly("plain");
    }
}
