package io.machvm.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.machvm.client.okhttp.ApiClient;
import io.machvm.client.okhttp.ApiException;
import io.machvm.client.okhttp.api.HostApi;
import io.machvm.client.okhttp.api.MemoryApi;
import io.machvm.client.okhttp.api.ProblemsApi;
import io.machvm.client.okhttp.api.SandboxApi;
import io.machvm.client.okhttp.api.TasksApi;
import io.machvm.client.okhttp.api.VmApi;
import io.machvm.client.okhttp.model.AllocateRequest;
import io.machvm.client.okhttp.model.BatchCall;
import io.machvm.client.okhttp.model.BatchProblem;
import io.machvm.client.okhttp.model.BatchRequest;
import io.machvm.client.okhttp.model.BatchResults;
import io.machvm.client.okhttp.model.CopyRequest;
import io.machvm.client.okhttp.model.InheritRequest;
import io.machvm.client.okhttp.model.ProblemDetail;
import io.machvm.client.okhttp.model.ProtectRequest;
import io.machvm.client.okhttp.model.RangeRequest;
import io.machvm.client.okhttp.model.ReadOverwriteRequest;
import io.machvm.client.okhttp.model.Task;
import io.machvm.client.okhttp.model.TaskSettings;
import io.machvm.client.okhttp.model.WriteRequest;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client openapi-generator makes by default for Java (library okhttp-gson), generated from
 * {@code openapi/openapi.yaml} in the build, drives every operation through its generated methods only: no header
 * overrides, no interceptors, no hand-written HTTP.
 */
class OkHttpGsonClientTest extends ApiTestSupport {
    private static final int SIZE = 64 * 1024;

    @TempDir
    Path dir;

    @Test
    void everyOperationThroughTheGeneratedMethods() throws Exception {
        ApiClient client = new ApiClient();
        client.setBasePath("http://localhost:" + port);
        HostApi host = new HostApi(client);
        TasksApi tasks = new TasksApi(client);
        VmApi vm = new VmApi(client);
        MemoryApi memory = new MemoryApi(client);
        SandboxApi sandbox = new SandboxApi(client);

        assertThat(host.hostPageSize().getPageSize()).isEqualTo(16384);
        Task task = tasks.taskCreate(new TaskSettings().name("okhttp"));
        String id = task.getId();
        assertThat(tasks.taskInfo(id).getName()).isEqualTo("okhttp");
        assertThat(tasks.taskList()).extracting(Task::getId).contains(id);
        assertThat(host.hostStatistics().getTasks()).isPositive();
        assertThat(vm.vmAllocate(id, new AllocateRequest().size("0x20000").anywhere(true)).getAddress())
                .isEqualTo("0x100000000");

        // raw bytes both ways: 64 KiB written from a file, read back into one, byte for byte
        byte[] bytes = new byte[SIZE];
        new Random(12).nextBytes(bytes);
        File upload = Files.write(dir.resolve("upload.bin"), bytes).toFile();
        memory.vmWrite(id, "0x100000000", upload);
        File read = memory.vmRead(id, "0x100000000", "0x10000");
        assertThat(Files.readAllBytes(read.toPath())).isEqualTo(bytes);
        memory.vmWriteBase64(id, new WriteRequest().address("0x100010000").data(new byte[] {1, 2, 3}));

        vm.vmCopy(id, new CopyRequest().sourceAddress("0x100000000").size("0x4000").destAddress("0x100014000"));
        assertThat(vm.vmReadOverwrite(id, new ReadOverwriteRequest().address("0x100000000").size("16")
                .destAddress("0x100018000")).getOutsize()).isEqualTo("0x10");
        vm.vmInherit(id, new InheritRequest().address("0x10001c000").size("0x4000")
                .inheritance(InheritRequest.InheritanceEnum.SHARE));
        vm.vmProtect(id, new ProtectRequest().address("0x10001c000").size("0x4000").setMaximum(false)
                .protection("r--"));
        assertThat(vm.vmRegion(id, "0x10001c000").getProtection()).isEqualTo("r--");
        assertThat(vm.vmRegionWalk(id)).hasSize(2);
        assertThat(sandbox.vmPageRangeQuery(id, "0x100000000", "0x4000").getDispositions()).containsExactly(0x1 | 0x8 | 0x20); // written, and shared by vm_copy
        sandbox.vmDirtyClear(id);

        // a 403 whose kern is read from the generated problem model
        ApiException refused = catchThrowableOfType(ApiException.class,
                () -> memory.vmWrite(id, "0x10001c000", upload));
        assertThat(refused.getCode()).isEqualTo(403);
        ProblemDetail problem = ProblemDetail.fromJson(refused.getResponseBody());
        assertThat(problem.getKern()).isEqualTo(ProblemDetail.KernEnum.KERN_PROTECTION_FAILURE);
        assertThat(problem.getKernReturn()).isEqualTo(2);
        assertThat(new ProblemsApi(client).problemType(problem.getKern().getValue()).getStatus()).isEqualTo(403);

        // batches: one that succeeds (problem null in each result), one atomic that fails and changes nothing
        BatchResults ran = sandbox.taskBatch(id, new BatchRequest().atomic(true).calls(List.of(
                new BatchCall().call(BatchCall.CallEnum.VM_WRITE).address("0x100010000").data(new byte[] {7}),
                new BatchCall().call(BatchCall.CallEnum.VM_READ).address("0x100010000").size("3"))));
        assertThat(ran.getResults()).extracting(r -> r.getStatus()).containsExactly(204, 200);
        assertThat(ran.getResults().get(0).getProblem()).isNull();
        ApiException atomic = catchThrowableOfType(ApiException.class, () -> sandbox.taskBatch(id,
                new BatchRequest().atomic(true).calls(List.of(
                        new BatchCall().call(BatchCall.CallEnum.VM_WRITE).address("0x100010000").data(new byte[] {9}),
                        new BatchCall().call(BatchCall.CallEnum.VM_WRITE).address("0x10001c000")
                                .data(new byte[] {9})))));
        assertThat(atomic.getCode()).isEqualTo(403);
        BatchProblem batchProblem = BatchProblem.fromJson(atomic.getResponseBody());
        assertThat(batchProblem.getFailedIndex()).isEqualTo(1);
        assertThat(batchProblem.getResults()).extracting(r -> r.getStatus()).containsExactly(424, 403);
        File first = memory.vmRead(id, "0x100010000", "1");
        assertThat(Files.readAllBytes(first.toPath())).containsExactly(7);

        // snapshot download, and restore with a minted and with a chosen id
        File image = sandbox.taskSnapshot(id, false);
        Task restored = tasks.taskRestore(image);
        assertThat(Files.readAllBytes(memory.vmRead(restored.getId(), "0x100000000", "0x10000").toPath()))
                .isEqualTo(bytes);
        String chosen = "okhttp-restored-" + System.nanoTime();
        assertThat(tasks.taskRestoreWithId(chosen, image).getId()).isEqualTo(chosen);
        // the same uploads as a form's file part
        Task formRestored = tasks.taskRestoreForm(image);
        assertThat(tasks.taskRestoreWithIdForm(chosen + "-form", image).getId()).isEqualTo(chosen + "-form");
        assertThat(Files.readAllBytes(memory.vmRead(formRestored.getId(), "0x100000000", "0x10000").toPath()))
                .isEqualTo(bytes);
        memory.vmWriteForm(chosen + "-form", "0x100010000", Files.write(dir.resolve("three.bin"),
                new byte[] {4, 5, 6}).toFile());
        assertThat(Files.readAllBytes(memory.vmRead(chosen + "-form", "0x100010000", "3").toPath()))
                .containsExactly(4, 5, 6);
        assertThat(tasks.taskCreateWithId(chosen + "-x", new TaskSettings()).getId()).isEqualTo(chosen + "-x");

        vm.vmDeallocate(id, new RangeRequest().address("0x100000000").size("0x4000"));
        for (String t : List.of(id, restored.getId(), chosen, chosen + "-x", formRestored.getId(), chosen + "-form")) {
            tasks.taskTerminate(t);
        }
        ApiException gone = catchThrowableOfType(ApiException.class, () -> tasks.taskInfo(id));
        assertThat(ProblemDetail.fromJson(gone.getResponseBody()).getKern())
                .isEqualTo(ProblemDetail.KernEnum.MACH_SEND_INVALID_DEST);
    }
}
