package io.machvm.sandbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.machvm.client.ApiClient;
import io.machvm.client.ApiException;
import io.machvm.client.api.SandboxApi;
import io.machvm.client.api.TasksApi;
import io.machvm.client.api.VmApi;
import io.machvm.client.model.AllocateRequest;
import io.machvm.client.model.BatchCall;
import io.machvm.client.model.BatchRequest;
import io.machvm.client.model.BatchResults;
import io.machvm.client.model.InheritRequest;
import io.machvm.client.model.PageRangeQuery;
import io.machvm.client.model.Task;
import io.machvm.client.model.TaskSettings;
import java.io.File;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The Java client generated from {@code openapi/openapi.yaml} drives the sandbox features: fork, snapshot, page query,
 * dirty clear and batches, and the served document names them as documented.
 */
class SandboxClientTest extends SandboxTestSupport {

    @Test
    void theGeneratedClientForksSnapshotsQueriesAndBatches() throws Exception {
        ApiClient client = new ApiClient();
        client.updateBaseUri("http://localhost:" + port);
        TasksApi tasks = new TasksApi(client);
        VmApi vm = new VmApi(client);
        SandboxApi sandbox = new SandboxApi(client);

        Task parent = tasks.taskCreate(new TaskSettings().name("client-parent"));
        vm.vmAllocate(parent.getId(), new AllocateRequest().size("0x8000").anywhere(true));
        vm.vmInherit(parent.getId(), new InheritRequest().address("0x100004000").size("0x4000")
                .inheritance(InheritRequest.InheritanceEnum.SHARE));
        BatchResults results = sandbox.taskBatch(parent.getId(), new BatchRequest().atomic(true).calls(List.of(
                new BatchCall().call(BatchCall.CallEnum.VM_WRITE).address("0x100000000").data(new byte[] {1, 2, 3}),
                new BatchCall().call(BatchCall.CallEnum.VM_READ).address("0x100000000").size("3"),
                new BatchCall().call(BatchCall.CallEnum.VM_REGION).address("0x100000000"))));
        assertThat(results.getResults()).extracting(r -> r.getStatus()).containsExactly(204, 200, 200);
        assertThat(((Map<?, ?>) results.getResults().get(1).getBody()).get("data")).isEqualTo("AQID");

        Task child = tasks.taskCreate(new TaskSettings().parent(parent.getId()).name("client-child"));
        assertThat(child.getName()).isEqualTo("client-child");
        assertThat(child.getRegionCount()).isEqualTo(2);
        assertThat(vm.vmRegion(child.getId(), "0x100004000").getShared()).isTrue();

        PageRangeQuery pages = sandbox.vmPageRangeQuery(parent.getId(), "0x100000000", "0x8000");
        assertThat(pages.getDispositions()).containsExactly(0x1 | 0x8 | 0x20, 0x20);
        assertThat(pages.getPages().get(0).getDirty()).isTrue();
        sandbox.vmDirtyClear(parent.getId());
        assertThat(sandbox.vmPageRangeQuery(parent.getId(), "0x100000000", "0x4000").getPages().get(0).getDirty())
                .isFalse();

        File image = sandbox.taskSnapshot(parent.getId(), true);
        byte[] bytes = Files.readAllBytes(image.toPath());
        assertThat(bytes).isEqualTo(snapshot(parent.getId()));
        Files.delete(image.toPath());

        ApiException gone = catchThrowableOfType(ApiException.class,
                () -> tasks.taskCreate(new TaskSettings().parent("client-no-such-task")));
        assertThat(gone.getCode()).isEqualTo(404);
        ApiException refused = catchThrowableOfType(ApiException.class, () -> sandbox.taskBatch(parent.getId(),
                new BatchRequest().atomic(true).calls(List.of(
                        new BatchCall().call(BatchCall.CallEnum.VM_WRITE).address("0x100000000").data(new byte[] {9}),
                        new BatchCall().call(BatchCall.CallEnum.VM_WRITE).address("0x200000000")
                                .data(new byte[] {9})))));
        assertThat(refused.getCode()).isEqualTo(404);
        assertThat(refused.getResponseBody()).contains("\"failedIndex\":1", "KERN_INVALID_ADDRESS");
        assertThat(readBytes(parent.getId(), 0x1_0000_0000L, 1)).containsExactly(1);

        tasks.taskTerminate(child.getId());
        tasks.taskTerminate(parent.getId());
    }

    @Test
    void theServedDocumentDescribesTheSandboxOperations() {
        String doc = get("/v3/api-docs").expect(200).text();
        assertThat(doc).contains("\"operationId\":\"task_snapshot\"", "\"operationId\":\"vm_page_range_query\"",
                "\"operationId\":\"vm_dirty_clear\"", "\"operationId\":\"task_batch\"",
                "\"application/vnd.machvm.snapshot\"", "\"BatchProblem\"", "\"failedIndex\"", "\"PageRangeQuery\"");
        // one media type per operation, so that a generated method takes that body: settings (create, fork) and
        // images (restore) are separate operations
        tools.jackson.databind.JsonNode paths = JSON.readTree(doc).path("paths");
        JsonNodeAssert.hasOnlyBody(paths.path("/tasks").path("post"), "application/json");
        JsonNodeAssert.hasOnlyBody(paths.path("/tasks/{task}").path("put"), "application/json");
        JsonNodeAssert.hasOnlyBody(paths.path("/tasks/restore").path("post"), "application/vnd.machvm.snapshot");
        JsonNodeAssert.hasOnlyBody(paths.path("/tasks/{task}/snapshot").path("put"),
                "application/vnd.machvm.snapshot");
        assertThat(paths.path("/tasks").path("post").path("responses").has("404")).as("unknown parent").isTrue();
    }

    private static final class JsonNodeAssert {
        static void hasOnlyBody(tools.jackson.databind.JsonNode operation, String mediaType) {
            assertThat(operation.path("requestBody").path("content").propertyNames()).containsExactly(mediaType);
        }
    }
}
