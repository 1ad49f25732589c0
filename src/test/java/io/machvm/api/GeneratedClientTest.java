package io.machvm.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.machvm.client.ApiClient;
import io.machvm.client.ApiException;
import io.machvm.client.api.HostApi;
import io.machvm.client.api.MemoryApi;
import io.machvm.client.api.ProblemsApi;
import io.machvm.client.api.TasksApi;
import io.machvm.client.api.VmApi;
import io.machvm.client.model.AllocateRequest;
import io.machvm.client.model.Allocation;
import io.machvm.client.model.CopyRequest;
import io.machvm.client.model.InheritRequest;
import io.machvm.client.model.ProblemDetail;
import io.machvm.client.model.ProtectRequest;
import io.machvm.client.model.RangeRequest;
import io.machvm.client.model.ReadOverwriteRequest;
import io.machvm.client.model.Region;
import io.machvm.client.model.Task;
import io.machvm.client.model.TaskSettings;
import io.machvm.client.model.WriteRequest;
import java.io.File;
import java.nio.file.Files;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Java client generated from {@code openapi/openapi.yaml} at build time (io.machvm.client) drives a whole scenario
 * against the running service, failures arriving as typed problems.
 */
class GeneratedClientTest extends ApiTestSupport {
    ApiClient client;
    TasksApi tasks;
    VmApi vm;
    MemoryApi memory;

    @BeforeEach
    void client() {
        client = new ApiClient();
        client.updateBaseUri("http://localhost:" + port);
        tasks = new TasksApi(client);
        vm = new VmApi(client);
        memory = new MemoryApi(client);
    }

    @Test
    void fullScenario() throws Exception {
        assertThat(new HostApi(client).hostPageSize().getPageSize()).isEqualTo(16384);

        Task task = tasks.taskCreate(new TaskSettings().flavor(TaskSettings.FlavorEnum.ARM64)
                .errors(TaskSettings.ErrorsEnum.DOCUMENTED).name("client-scenario"));
        String id = task.getId();
        assertThat(task.getMinAddress()).isEqualTo("0x100000000");
        assertThat(tasks.taskList()).extracting(Task::getId).contains(id);

        Allocation allocation = vm.vmAllocate(id, new AllocateRequest().size("0x8000").anywhere(true));
        assertThat(allocation.getAddress()).isEqualTo("0x100000000");
        assertThat(allocation.getSize()).isEqualTo("0x8000");

        // Java "native" (7.25.0) serializes every non-String request body with Jackson, so it cannot send raw bytes:
        // it writes through vm_write_base64, and reads the raw bytes of vm_read (into a file, as it downloads).
        byte[] hello = "hello from the generated client".getBytes(StandardCharsets.UTF_8);
        memory.vmWriteBase64(id, new WriteRequest().address("0x100000010").data(hello));
        vm.vmCopy(id, new CopyRequest().sourceAddress("0x100000010").size(Integer.toString(hello.length))
                .destAddress("0x100004000"));
        File back = memory.vmRead(id, "0x100004000", "0x" + Integer.toHexString(hello.length));
        assertThat(Files.readAllBytes(back.toPath())).isEqualTo(hello);
        Files.delete(back.toPath());

        assertThat(vm.vmReadOverwrite(id, new ReadOverwriteRequest().address("0x100000010").size("4")
                .destAddress("0x100000000")).getOutsize()).isEqualTo("0x4");
        vm.vmInherit(id, new InheritRequest().address("0x100000000").size("0x8000")
                .inheritance(InheritRequest.InheritanceEnum.SHARE));

        vm.vmProtect(id, new ProtectRequest().address("0x100000000").size("0x4000").setMaximum(false)
                .protection("r--"));
        List<Region> regions = vm.vmRegionWalk(id);
        assertThat(regions).extracting(Region::getProtection).containsExactly("r--", "rw-");
        assertThat(vm.vmRegion(id, "0x100000010").getMaxProtection()).isEqualTo("rwx");

        ApiException refused = catchThrowableOfType(ApiException.class,
                () -> memory.vmWriteBase64(id, new WriteRequest().address("0x100000010").data(hello)));
        assertThat(refused.getCode()).isEqualTo(403);
        ProblemDetail problem = client.getObjectMapper().readValue(refused.getResponseBody(), ProblemDetail.class);
        assertThat(problem.getKern()).isEqualTo(ProblemDetail.KernEnum.KERN_PROTECTION_FAILURE);
        assertThat(problem.getKernReturn()).isEqualTo(2);
        assertThat(problem.getType()).isEqualTo("/problems/KERN_PROTECTION_FAILURE");
        assertThat(problem.getInstance()).isEqualTo("/tasks/" + id + "/write");
        assertThat(new ProblemsApi(client).problemType(problem.getKern().getValue()).getStatus()).isEqualTo(403);

        vm.vmDeallocate(id, new RangeRequest().address("0x100000000").size("0x4000"));
        tasks.taskTerminate(id);
        ApiException gone = catchThrowableOfType(ApiException.class, () -> tasks.taskInfo(id));
        assertThat(gone.getCode()).isEqualTo(404);
        assertThat(client.getObjectMapper().readValue(gone.getResponseBody(), ProblemDetail.class).getKern())
                .isEqualTo(ProblemDetail.KernEnum.MACH_SEND_INVALID_DEST);
    }

    @Test
    void createWithIdIsIdempotent() throws Exception {
        String id = "client-" + System.nanoTime();
        Task created = tasks.taskCreateWithId(id, null);
        assertThat(created.getId()).isEqualTo(id);
        assertThat(tasks.taskCreateWithId(id, new TaskSettings()).getId()).isEqualTo(id);
        ApiException conflict = catchThrowableOfType(ApiException.class,
                () -> tasks.taskCreateWithId(id, new TaskSettings().flavor(TaskSettings.FlavorEnum.X86_64)));
        assertThat(conflict.getCode()).isEqualTo(409);
        tasks.taskTerminate(id);
    }
}
