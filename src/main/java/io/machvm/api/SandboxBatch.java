package io.machvm.api;

import io.machvm.service.VmService;
import io.machvm.vm.KernException;
import io.machvm.vm.KernReturn;
import io.machvm.vm.PageSnapshot;
import io.machvm.vm.TransferLimitException;
import jakarta.servlet.http.HttpServletRequest;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import tools.jackson.core.Base64Variants;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonToken;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A batch of Mach calls on one task ({@code POST /tasks/{task}/batch}): the body is checked as a whole first (JSON, at
 * most {@value #MAX_CALLS} calls, at most 16 MiB), then the calls run in order through the same {@link VmService}
 * methods as their own endpoints, each call's arguments checked when its turn comes, as its endpoint checks them.
 *
 * <p>Non-atomic, a failing call is that call's result and the next one runs. Atomic, the batch runs inside
 * {@link VmService#atomically}: the first failure ends it, the task is put back exactly as it was, and the answer is
 * that call's problem with {@code failedIndex} and the results.
 */
final class SandboxBatch {
    /** The most calls in one batch. */
    static final int MAX_CALLS = 10_000;
    /** The largest batch body, base64 data included. */
    static final long MAX_BODY_BYTES = 16L << 20;
    /** The most bytes the vm_read calls of one batch may answer with (before base64). */
    static final long MAX_READ_BYTES = 16L << 20;
    /** The status of each other call when a call of an atomic batch failed: undone, or not run. */
    static final int FAILED_DEPENDENCY = 424;

    static final JsonMapper MAPPER = JsonMapper.builder(Json.FACTORY.rebuild()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private final VmService service;
    private final String task;
    private final String instance;
    private final boolean atomic;
    private long readBudget = MAX_READ_BYTES;

    private SandboxBatch(VmService service, String task, String instance, boolean atomic) {
        this.service = service;
        this.task = task;
        this.instance = instance;
        this.atomic = atomic;
    }

    /** A parsed batch body: the mode and the calls, each still a JSON object to check when it runs. */
    record Body(boolean atomic, List<JsonNode> calls) {
    }

    /** The outcome of a batch: results when it ran, or the problem of the call that failed an atomic batch. */
    sealed interface Outcome permits Ran, Failed {
    }

    record Ran(Responses.BatchResults results) implements Outcome {
    }

    record Failed(Responses.BatchProblem problem) implements Outcome {
    }

    /** Reads and checks the whole body: media type, size, JSON, shape and the number of calls. */
    static Body read(HttpServletRequest request) {
        long length = request.getContentLengthLong();
        if (length == 0) {
            throw ApiProblem.invalidArgument("a JSON object request body is required: {\"atomic\": …, \"calls\": […]}");
        }
        String contentType = request.getContentType();
        if (contentType != null && !JsonRequest.isJson(contentType)) {
            throw ApiProblem.unsupportedMediaType("Content-Type " + Texts.quote(contentType) + " is not supported: "
                    + "send application/json (vm_write data as base64)");
        }
        InputStream in = JsonRequest.body(request, MAX_BODY_BYTES, "for a batch");
        JsonNode root;
        try {
            root = MAPPER.readTree(in);
        } catch (JacksonException e) {
            throw JsonRequest.translate(e, null);
        }
        if (root == null || root.isMissingNode()) {
            throw ApiProblem.invalidArgument("a JSON object request body is required: {\"atomic\": …, \"calls\": […]}");
        }
        if (!root.isObject()) {
            throw ApiProblem.invalidArgument("request body must be a JSON object");
        }
        JsonNode atomic = root.get("atomic");
        if (atomic != null && !atomic.isNull() && !atomic.isBoolean()) {
            throw ApiProblem.invalidArgument("atomic must be a JSON boolean (true or false)");
        }
        JsonNode calls = root.get("calls");
        if (calls == null || calls.isNull()) {
            throw ApiProblem.invalidArgument("calls is required: an array of {\"call\": \"vm_…\", …} objects");
        }
        if (!calls.isArray()) {
            throw ApiProblem.invalidArgument("calls must be a JSON array of {\"call\": \"vm_…\", …} objects");
        }
        if (calls.size() > MAX_CALLS) {
            throw ApiProblem.tooLarge("a batch has at most " + MAX_CALLS + " calls, not " + calls.size());
        }
        List<JsonNode> list = new ArrayList<>(calls.size());
        for (int i = 0; i < calls.size(); i++) {
            JsonNode call = calls.get(i);
            if (!call.isObject()) {
                throw ApiProblem.invalidArgument("calls[" + i + "] must be a JSON object {\"call\": \"vm_…\", …}");
            }
            list.add(call);
        }
        return new Body(atomic != null && atomic.asBoolean(), list);
    }

    /** Runs the calls of {@code body} on {@code task}; {@code instance} is the request path. */
    static Outcome run(VmService service, String task, String instance, Body body) {
        SandboxBatch batch = new SandboxBatch(service, task, instance, body.atomic());
        List<JsonNode> calls = body.calls();
        List<Responses.BatchResult> results = new ArrayList<>(calls.size());
        if (!body.atomic()) {
            service.batch(() -> {
                service.pageSize(task); // an unknown task fails the batch as a whole
                for (int i = 0; i < calls.size(); i++) {
                    results.add(batch.runOne(i, calls.get(i)));
                }
                return null;
            });
            return new Ran(new Responses.BatchResults(results));
        }
        try {
            service.atomically(task, () -> {
                for (int i = 0; i < calls.size(); i++) {
                    Responses.BatchResult result = batch.runOne(i, calls.get(i));
                    if (result.problem() != null) {
                        throw new Abort(i, calls.get(i), result);
                    }
                    results.add(result);
                }
                return null;
            });
        } catch (Abort abort) {
            return new Failed(batch.failure(abort, calls.size()));
        }
        return new Ran(new Responses.BatchResults(results));
    }

    /** Ends an atomic batch, so that {@link VmService#atomically} undoes it and records the failing call's kern. */
    private static final class Abort extends KernException {
        final int index;
        final JsonNode node;
        final Responses.BatchResult result;

        Abort(int index, JsonNode node, Responses.BatchResult result) {
            super(KernReturn.valueOf(result.problem().kern()), result.problem().detail());
            this.index = index;
            this.node = node;
            this.result = result;
        }
    }

    private Responses.BatchProblem failure(Abort abort, int count) {
        Responses.Problem p = abort.result.problem();
        List<Responses.BatchResult> results = new ArrayList<>(count);
        Responses.BatchResult dependent = new Responses.BatchResult(FAILED_DEPENDENCY, null, null);
        for (int i = 0; i < count; i++) {
            results.add(i == abort.index ? abort.result : dependent);
        }
        String call = knownCall(abort.node);
        return new Responses.BatchProblem(p.type(), p.title(), p.status(), "call " + abort.index
                + (call == null ? "" : " (" + call + ")") + " failed, so no call of the atomic batch took effect: "
                + p.detail(), instance, p.kern(), p.kernReturn(), abort.index, results);
    }

    /** The call a batch element names, when it names one of the calls a batch takes. */
    private static String knownCall(JsonNode node) {
        JsonNode name = node.get("call");
        return name != null && name.isString() && CALL_NAMES.contains(name.asString()) ? name.asString() : null;
    }

    /** Runs one call; its failure (a Mach failure or a refused argument) is its result. */
    private Responses.BatchResult runOne(int index, JsonNode node) {
        try {
            JsonNode name = node.get("call");
            if (name == null || name.isNull()) {
                throw ApiProblem.invalidArgument("call is required: one of " + CALLS);
            }
            if (!name.isString()) {
                throw ApiProblem.invalidArgument("call must be a JSON string: one of " + CALLS);
            }
            String call = name.asString();
            try (JsonRequest json = JsonRequest.start(MAPPER.treeAsTokens(node), true)) {
                return switch (call) {
                    case "vm_allocate" -> allocate(json);
                    case "vm_deallocate" -> deallocate(json);
                    case "vm_protect" -> protect(json);
                    case "vm_inherit" -> inherit(json);
                    case "vm_write" -> write(json);
                    case "vm_read" -> read(json);
                    case "vm_copy" -> copy(json);
                    case "vm_read_overwrite" -> readOverwrite(json);
                    case "vm_region" -> region(json);
                    default -> throw ApiProblem.invalidArgument("call must be one of " + CALLS + ", not "
                            + Texts.quote(call));
                };
            }
        } catch (ApiProblem e) {
            return problem(index, e.status(), e.kern(), e.detail());
        } catch (TransferLimitException e) {
            return problem(index, 413, e.kern(), e.detail());
        } catch (KernException e) {
            return problem(index, ProblemTypes.status(e.kern()), e.kern(), e.detail());
        }
    }

    private static final List<String> CALL_NAMES = List.of("vm_allocate", "vm_deallocate", "vm_protect",
            "vm_inherit", "vm_write", "vm_read", "vm_copy", "vm_read_overwrite", "vm_region");
    private static final String CALLS = String.join(", ", CALL_NAMES);

    private Responses.BatchResult problem(int index, int status, KernReturn kern, String detail) {
        ProblemTypes.ProblemType type = ProblemTypes.of(kern);
        return new Responses.BatchResult(status, null, new Responses.Problem(type.type(), type.title(), status, detail,
                instance + "#/calls/" + index, kern.name(), kern.value()));
    }

    private static Responses.BatchResult ok(int status, Object body) {
        return new Responses.BatchResult(status, body, null);
    }

    // ---------------------------------------------------------------- the calls, as their endpoints read them

    private Responses.BatchResult allocate(JsonRequest json) {
        return ok(201, CallArgs.Allocate.read(json).run(service, task));
    }

    private Responses.BatchResult deallocate(JsonRequest json) {
        CallArgs.Range.read(json).deallocate(service, task);
        return ok(204, null);
    }

    private Responses.BatchResult protect(JsonRequest json) {
        CallArgs.Protect.read(json).run(service, task);
        return ok(204, null);
    }

    private Responses.BatchResult inherit(JsonRequest json) {
        CallArgs.Inherit.read(json).run(service, task);
        return ok(204, null);
    }

    private Responses.BatchResult write(JsonRequest json) {
        Long address = null;
        byte[] data = null;
        for (String field; (field = json.nextField()) != null; ) {
            switch (field) {
                case "address" -> address = json.u64(field);
                case "data" -> data = base64(json, field);
                default -> json.skip();
            }
        }
        long at = CallArgs.required("address", address);
        if (data == null) {
            throw ApiProblem.invalidArgument("data is required: the bytes to write, base64");
        }
        service.write(task, at, data);
        return ok(204, null);
    }

    /** Base64 data as vm_write's JSON body takes it, with the same problems. */
    private static byte[] base64(JsonRequest json, String field) {
        JsonToken token = json.token();
        if (token == JsonToken.VALUE_NULL) {
            return null;
        }
        if (token != JsonToken.VALUE_STRING) {
            return json.binary(field); // reports the wrong type as vm_write does
        }
        try {
            return Base64Variants.getDefaultVariant().decode(json.string(field));
        } catch (IllegalArgumentException e) {
            throw ApiProblem.invalidArgument(field + " is not valid base64: " + e.getMessage());
        }
    }

    private Responses.BatchResult read(JsonRequest json) {
        CallArgs.Range range = CallArgs.Range.read(json);
        long at = range.at();
        long bytes = range.bytes();
        byte[] data;
        if (Long.compareUnsigned(bytes, VmService.SMALL_TRANSFER) <= 0) {
            data = service.read(task, at, bytes);
            spendReadBudget(bytes);
        } else {
            // The Mach checks first (the snapshot), then the batch's own limit, as for a single vm_read.
            try (PageSnapshot snapshot = service.readSnapshot(task, at, bytes)) {
                spendReadBudget(bytes);
                data = snapshot.toByteArray();
            }
        }
        return ok(200, new Responses.ReadData(U64.format(at), U64.format(bytes),
                Base64.getEncoder().encodeToString(data)));
    }

    private void spendReadBudget(long bytes) {
        if (Long.compareUnsigned(bytes, readBudget) > 0) {
            throw ApiProblem.tooLarge("the vm_read calls of a batch answer at most " + MAX_READ_BYTES
                    + " bytes in all; " + readBudget + " are left, not " + Long.toUnsignedString(bytes)
                    + " (use GET /tasks/{task}/memory/{address} for large reads)");
        }
        readBudget -= bytes;
    }

    private Responses.BatchResult copy(JsonRequest json) {
        CallArgs.Copy.read(json).run(service, task);
        return ok(204, null);
    }

    private Responses.BatchResult readOverwrite(JsonRequest json) {
        return ok(200, CallArgs.ReadOverwrite.read(json).run(service, task, destTask -> {
            if (atomic && destTask != null && !destTask.equals(task)) {
                throw ApiProblem.invalidArgument("in an atomic batch vm_read_overwrite writes only into the batch's "
                        + "task " + Texts.quote(task) + ", not into " + Texts.quote(destTask)
                        + ": another task could not be put back if the batch failed");
            }
        }));
    }

    private Responses.BatchResult region(JsonRequest json) {
        Long address = null;
        for (String field; (field = json.nextField()) != null; ) {
            if (field.equals("address")) {
                address = json.u64(field);
            } else {
                json.skip();
            }
        }
        return ok(200, Responses.Region.of(service.region(task, CallArgs.required("address", address))));
    }
}
