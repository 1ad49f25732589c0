package io.machvm.api;

import io.machvm.service.MachCall;
import io.machvm.service.VmService;
import io.machvm.vm.KernException;
import io.machvm.vm.KernReturn;
import io.machvm.vm.PageSnapshot;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A batch of Mach calls on one task ({@code POST /tasks/{task}/batch}): the body is bound as a whole first (JSON, at
 * most {@value #MAX_CALLS} calls, at most 16 MiB: {@link BodyLimits}), then the calls run in order through the same
 * {@link VmService} methods as their own endpoints, each call's arguments bound to its endpoint's request record when
 * its turn comes, so they are checked as that endpoint checks them. A failing call is answered by the same translation
 * as a failing request ({@link ProblemHandler#answer}).
 *
 * <p>Non-atomic, a failing call is that call's result and the next one runs. Atomic, the batch runs inside
 * {@link VmService#atomically}: the first failure ends it, the task is put back exactly as it was, and the answer is
 * that call's problem with {@code failedIndex} and the results.
 */
final class SandboxBatch {
    /** The most calls in one batch. */
    static final int MAX_CALLS = 10_000;
    /** The most bytes the vm_read calls of one batch may answer with (before base64). */
    static final long MAX_READ_BYTES = 16L << 20;
    /** The status of each other call when a call of an atomic batch failed: undone, or not run. */
    static final int FAILED_DEPENDENCY = 424;

    private final VmService service;
    private final JsonMapper mapper;
    private final String task;
    private final String instance;
    private final boolean atomic;
    private long readBudget = MAX_READ_BYTES;

    private SandboxBatch(VmService service, JsonMapper mapper, String task, String instance, boolean atomic) {
        this.service = service;
        this.mapper = mapper;
        this.task = task;
        this.instance = instance;
        this.atomic = atomic;
    }

    /** The outcome of a batch: results when it ran, or the problem of the call that failed an atomic batch. */
    sealed interface Outcome permits Ran, Failed {
    }

    record Ran(Responses.BatchResults results) implements Outcome {
    }

    record Failed(Responses.BatchProblem problem) implements Outcome {
    }

    /** Checks the shape of the whole body: the calls, their number, each an object. */
    static List<JsonNode> calls(Requests.BatchRequest body) {
        List<JsonNode> calls = body.calls();
        if (calls == null) {
            throw ApiProblem.invalidArgument("calls is required: an array of {\"call\": \"vm_…\", …} objects");
        }
        if (calls.size() > MAX_CALLS) {
            throw ApiProblem.tooLarge("a batch has at most " + MAX_CALLS + " calls, not " + calls.size());
        }
        for (int i = 0; i < calls.size(); i++) {
            if (calls.get(i) == null || !calls.get(i).isObject()) {
                throw ApiProblem.invalidArgument("calls[" + i + "] must be a JSON object {\"call\": \"vm_…\", …}");
            }
        }
        return calls;
    }

    /** Runs the calls of {@code body} on {@code task}; {@code instance} is the request path. */
    static Outcome run(VmService service, JsonMapper mapper, String task, String instance,
            Requests.BatchRequest body) {
        List<JsonNode> calls = calls(body);
        boolean atomic = body.atomic() != null && body.atomic();
        SandboxBatch batch = new SandboxBatch(service, mapper, task, instance, atomic);
        List<Responses.BatchResult> results = new ArrayList<>(calls.size());
        if (!atomic) {
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
            return switch (call) {
                case "vm_allocate" -> ok(201, bind(node, Requests.AllocateRequest.class).run(service, task));
                case "vm_deallocate" -> {
                    bind(node, Requests.RangeRequest.class).deallocate(service, task);
                    yield ok(204, null);
                }
                case "vm_protect" -> {
                    bind(node, Requests.ProtectRequest.class).run(service, task);
                    yield ok(204, null);
                }
                case "vm_inherit" -> {
                    bind(node, Requests.InheritRequest.class).run(service, task);
                    yield ok(204, null);
                }
                case "vm_write" -> {
                    bind(node, Requests.WriteRequest.class).run(service, task);
                    yield ok(204, null);
                }
                case "vm_read" -> read(bind(node, Requests.RangeRequest.class));
                case "vm_copy" -> {
                    bind(node, Requests.CopyRequest.class).run(service, task);
                    yield ok(204, null);
                }
                case "vm_read_overwrite" -> readOverwrite(bind(node, Requests.ReadOverwriteRequest.class));
                case "vm_region" -> ok(200, Responses.Region.of(service.region(task,
                        Requests.required("address", bind(node, Requests.RangeRequest.class).address()))));
                default -> throw ApiProblem.invalidArgument("call must be one of " + CALLS + ", not "
                        + Texts.quote(call));
            };
        } catch (ApiProblem | KernException | JacksonException e) {
            ProblemHandler.Answer a = ProblemHandler.answer(e, instance, "POST");
            return problem(index, a.status(), a.kern(), a.detail());
        }
    }

    private <T> T bind(JsonNode node, Class<T> type) {
        return mapper.treeToValue(node, type);
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

    // ---------------------------------------------------------------- the calls with a batch's own rules

    private Responses.BatchResult read(Requests.RangeRequest range) {
        long at = Requests.required("address", range.address());
        long bytes = Requests.required("size", range.size());
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

    private Responses.BatchResult readOverwrite(Requests.ReadOverwriteRequest request) {
        MachCall.ReadOverwrite call = request.call();
        String destTask = call.destTask();
        if (atomic && destTask != null && !destTask.equals(task)) {
            throw ApiProblem.invalidArgument("in an atomic batch vm_read_overwrite writes only into the batch's "
                    + "task " + Texts.quote(task) + ", not into " + Texts.quote(destTask)
                    + ": another task could not be put back if the batch failed");
        }
        return ok(200, new Responses.ReadOverwriteResult(U64.format(service.call(task, call))));
    }
}
