package io.machvm.api;

import io.machvm.vm.KernReturn;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.Operation;
import io.swagger.v3.oas.models.PathItem;
import io.swagger.v3.oas.models.headers.Header;
import io.swagger.v3.oas.models.media.Content;
import io.swagger.v3.oas.models.media.IntegerSchema;
import io.swagger.v3.oas.models.media.MediaType;
import io.swagger.v3.oas.models.media.Schema;
import io.swagger.v3.oas.models.media.StringSchema;
import io.swagger.v3.oas.models.responses.ApiResponse;
import io.swagger.v3.oas.models.responses.ApiResponses;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.springdoc.core.customizers.OpenApiCustomizer;
import org.springframework.stereotype.Component;

/**
 * The answers a call may get from a cluster of shards ({@code machvm.cluster.enabled}) rather than from the task's
 * own shard, declared on every operation that a shard routes: {@code 421 KERN_NOT_RECEIVER} naming the owner (a
 * shard asked directly about another shard's task) and {@code 503 MACH_SEND_TIMED_OUT} with {@code Retry-After} (the
 * owner is down, restarting or handing the task off) on the operations of one task, a create and a restore;
 * {@code 503} on the listings that merge every shard. In one place, so that the controllers' annotations stay about
 * the calls.
 */
@Component
class ClusterResponses implements OpenApiCustomizer {
    private static final String PROBLEM_REF = "#/components/schemas/" + OpenApiConfiguration.PROBLEM_SCHEMA;
    private static final String OWNER_URL = "http://machvm-1.machvm-shards.default.svc.cluster.local:8080";

    @Override
    public void customise(OpenAPI openApi) {
        if (openApi.getPaths() == null) {
            return;
        }
        openApi.getPaths().forEach((path, item) -> item.readOperationsMap().forEach((method, operation) -> {
            boolean routed = path.startsWith("/tasks/")
                    || (path.equals("/tasks") && method == PathItem.HttpMethod.POST);
            boolean merged = method == PathItem.HttpMethod.GET
                    && (path.equals("/tasks") || path.equals("/host/statistics"));
            if (routed) {
                add(operation, KernReturn.KERN_NOT_RECEIVER, misdirected());
            }
            if (routed || merged) {
                add(operation, KernReturn.MACH_SEND_TIMED_OUT, unavailable(merged ? path : null));
            }
        }));
    }

    private static ApiResponse misdirected() {
        Map<String, Object> example = problem(KernReturn.KERN_NOT_RECEIVER, "task build-42 is owned by shard 1: "
                + "send the request to " + OWNER_URL + " (or through the cluster's entry point)", "/tasks/build-42");
        example.put("shard", 0);
        example.put("owner", 1);
        example.put("ownerUrl", OWNER_URL);
        example.put("slot", 8392);
        example.put("epoch", 2);
        return new ApiResponse()
                .description("Not receiver (KERN_NOT_RECEIVER): in a cluster, a shard asked directly (Machvm-Direct: "
                        + "1) about a task that another shard owns. owner, ownerUrl, slot and epoch name the owner, "
                        + "and so does the header Machvm-Owner; send the call there or through the entry point. It "
                        + "never means that the task does not exist.")
                .content(problemContent(example))
                .addHeaderObject("Machvm-Owner", new Header().description("The owner: its index and base URL.")
                        .schema(new StringSchema().example("1 " + OWNER_URL)))
                .addHeaderObject("Machvm-Shard", shardHeader());
    }

    /** The 503 of a call on a task, or with {@code mergedPath} of a listing that merges every shard. */
    private static ApiResponse unavailable(String mergedPath) {
        boolean merged = mergedPath != null;
        Map<String, Object> example = merged
                ? problem(KernReturn.MACH_SEND_TIMED_OUT, "shard(s) 1 (" + OWNER_URL + ") did not answer: the "
                        + "cluster-wide " + mergedPath + " would be incomplete; each shard's own answer is had with "
                        + "the header Machvm-Direct: 1", mergedPath)
                : problem(KernReturn.MACH_SEND_TIMED_OUT, "shard 1 (" + OWNER_URL + "), which owns task build-42, "
                        + "is not reachable; retry", "/tasks/build-42");
        example.put(merged ? "shards" : "shard", merged ? List.of("1 (" + OWNER_URL + ")") : 1);
        return new ApiResponse()
                .description("Send timed out (MACH_SEND_TIMED_OUT): in a cluster, "
                        + (merged ? "a shard did not answer, so the cluster-wide answer would be incomplete"
                                : "the shard that owns the task is down or restarting, or the task is being handed "
                                        + "off to another shard and the wait ran out. The call did not happen, and "
                                        + "no other shard answers for the task (never a 404 for a task that exists)")
                        + ". Retry after Retry-After seconds.")
                .content(problemContent(example))
                .addHeaderObject("Retry-After", new Header().description("Seconds to wait before retrying.")
                        .schema(new IntegerSchema().example(1)))
                .addHeaderObject("Machvm-Shard", shardHeader());
    }

    private static Header shardHeader() {
        return new Header().description("The shard that answered (all: the answer of every shard).")
                .schema(new StringSchema().example("0"));
    }

    private static Map<String, Object> problem(KernReturn kern, String detail, String instance) {
        return ProblemTypes.members(kern, detail, instance);
    }

    private static Content problemContent(Map<String, Object> example) {
        return new Content().addMediaType(ProblemWriter.PROBLEM_JSON,
                new MediaType().schema(new Schema<>().$ref(PROBLEM_REF)).example(example));
    }

    /** Adds the response under the kern's status, keeping the responses in the order of their status. */
    private static void add(Operation operation, KernReturn kern, ApiResponse response) {
        String status = Integer.toString(ProblemTypes.status(kern));
        ApiResponses responses = operation.getResponses() == null ? new ApiResponses() : operation.getResponses();
        if (responses.containsKey(status)) {
            return;
        }
        List<Map.Entry<String, ApiResponse>> all = new ArrayList<>(responses.entrySet());
        all.add(Map.entry(status, response));
        all.sort(Comparator.comparing(Map.Entry::getKey));
        ApiResponses sorted = new ApiResponses();
        all.forEach(entry -> sorted.addApiResponse(entry.getKey(), entry.getValue()));
        operation.setResponses(sorted);
    }
}
