package io.machvm.api;

import io.machvm.service.Batch;
import io.machvm.service.MachCall;
import io.machvm.service.VmService;
import io.machvm.vm.KernException;
import io.machvm.vm.RegionInfo;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A batch of Mach calls on one task ({@code POST /tasks/{task}/batch}), as HTTP sees it. The body is bound as a whole
 * first (JSON, at most {@value #MAX_CALLS} calls, at most 16 MiB: {@link BodyLimits}), then each call to its
 * endpoint's request record and from there to a {@link MachCall}, checked as that endpoint checks it; a call whose
 * arguments are refused becomes a {@link Batch.Refused} that fails with that problem when its turn comes. All of this
 * happens before anything runs: {@link VmService#runBatch} then makes the calls (atomic: under the task's lock), and
 * only once it has returned are its results turned into JSON, each failure by the same translation as a failing
 * request ({@link ProblemHandler#answer}). No api code runs under the task's lock.
 *
 * <p>Non-atomic, a failing call is that call's result and the next one runs. Atomic, the first failure ends the batch,
 * the task is put back exactly as it was, and the answer is that call's problem with {@code failedIndex} and the
 * results.
 */
final class SandboxBatch {
    /** The most calls in one batch. */
    static final int MAX_CALLS = 10_000;
    /** The status of each other call when a call of an atomic batch failed: undone, or not run. */
    static final int FAILED_DEPENDENCY = 424;

    private static final List<String> CALL_NAMES = List.of("vm_allocate", "vm_deallocate", "vm_protect",
            "vm_inherit", "vm_write", "vm_read", "vm_copy", "vm_read_overwrite", "vm_region");
    private static final String CALLS = String.join(", ", CALL_NAMES);

    private SandboxBatch() {
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
        List<JsonNode> nodes = calls(body);
        boolean atomic = body.atomic() != null && body.atomic();
        Binder binder = new Binder(mapper, task, atomic);
        List<Batch.Step> steps = new ArrayList<>(nodes.size());
        ProblemHandler.Answer[] refusals = new ProblemHandler.Answer[nodes.size()];
        for (int i = 0; i < nodes.size(); i++) {
            try {
                steps.add(new Batch.Call(binder.bind(nodes.get(i))));
            } catch (ApiProblem | KernException | JacksonException e) {
                refusals[i] = ProblemHandler.answer(e, instance, "POST");
                steps.add(new Batch.Refused(refusals[i].kern()));
            }
        }
        Batch.Outcome outcome = service.runBatch(task, atomic, steps);
        Answers answers = new Answers(instance, steps, refusals);
        if (outcome.failed()) {
            return new Failed(answers.failure(outcome, nodes));
        }
        List<Responses.BatchResult> results = new ArrayList<>(nodes.size());
        for (int i = 0; i < nodes.size(); i++) {
            results.add(answers.of(i, outcome.results().get(i)));
        }
        return new Ran(new Responses.BatchResults(results));
    }

    /** Binds the calls of a batch on {@code task}. */
    private record Binder(JsonMapper mapper, String task, boolean atomic) {
        /** The call {@code node} names, its arguments bound and checked as its own endpoint checks them. */
        MachCall<?> bind(JsonNode node) {
            JsonNode name = node.get("call");
            if (name == null || name.isNull()) {
                throw ApiProblem.invalidArgument("call is required: one of " + CALLS);
            }
            if (!name.isString()) {
                throw ApiProblem.invalidArgument("call must be a JSON string: one of " + CALLS);
            }
            String call = name.asString();
            return switch (call) {
                case "vm_allocate" -> bind(node, Requests.AllocateRequest.class).call();
                case "vm_deallocate" -> bind(node, Requests.RangeRequest.class).call();
                case "vm_protect" -> bind(node, Requests.ProtectRequest.class).call();
                case "vm_inherit" -> bind(node, Requests.InheritRequest.class).call();
                case "vm_write" -> bind(node, Requests.WriteRequest.class).call();
                case "vm_read" -> read(bind(node, Requests.RangeRequest.class));
                case "vm_copy" -> bind(node, Requests.CopyRequest.class).call();
                case "vm_read_overwrite" -> intoThisTask(bind(node, Requests.ReadOverwriteRequest.class).call());
                case "vm_region" -> new MachCall.Region(Requests.required("address",
                        bind(node, Requests.RangeRequest.class).address()));
                default -> throw ApiProblem.invalidArgument("call must be one of " + CALLS + ", not "
                        + Texts.quote(call));
            };
        }

        private <T> T bind(JsonNode node, Class<T> type) {
            return mapper.treeToValue(node, type);
        }

        private static MachCall.Read read(Requests.RangeRequest range) {
            return new MachCall.Read(Requests.required("address", range.address()),
                    Requests.required("size", range.size()));
        }

        /** In an atomic batch, vm_read_overwrite may write only into the batch's task, which alone is put back. */
        private MachCall.ReadOverwrite intoThisTask(MachCall.ReadOverwrite call) {
            String destTask = call.destTask();
            if (atomic && destTask != null && !destTask.equals(task)) {
                throw ApiProblem.invalidArgument("in an atomic batch vm_read_overwrite writes only into the batch's "
                        + "task " + Texts.quote(task) + ", not into " + Texts.quote(destTask)
                        + ": another task could not be put back if the batch failed");
            }
            return call;
        }
    }

    /** The JSON of a batch's results: {@code refusals} are the problems of the calls refused when bound. */
    private record Answers(String instance, List<Batch.Step> steps, ProblemHandler.Answer[] refusals) {
        Responses.BatchResult of(int index, Batch.Result result) {
            return switch (result) {
                case Batch.Done done -> done(((Batch.Call) steps.get(index)).call(), done.value());
                case Batch.Failed failed -> problem(index, ProblemHandler.answer(failed.failure(), instance, "POST"));
                case Batch.Refused refused -> problem(index, refusals[index]);
            };
        }

        /** The problem of an atomic batch whose call at {@code outcome.failedIndex()} failed. */
        Responses.BatchProblem failure(Batch.Outcome outcome, List<JsonNode> nodes) {
            int index = outcome.failedIndex();
            Responses.BatchResult failing = of(index, outcome.results().get(index));
            Responses.Problem p = failing.problem();
            List<Responses.BatchResult> results = new ArrayList<>(nodes.size());
            Responses.BatchResult dependent = new Responses.BatchResult(FAILED_DEPENDENCY, null, null);
            for (int i = 0; i < nodes.size(); i++) {
                results.add(i == index ? failing : dependent);
            }
            String call = knownCall(nodes.get(index));
            return new Responses.BatchProblem(p.type(), p.title(), p.status(), "call " + index
                    + (call == null ? "" : " (" + call + ")") + " failed, so no call of the atomic batch took effect: "
                    + p.detail(), instance, p.kern(), p.kernReturn(), index, results);
        }

        private static Responses.BatchResult done(MachCall<?> call, Object value) {
            return switch (call) {
                case MachCall.Allocate a -> ok(201, Responses.Allocation.of((MachCall.Allocation) value));
                case MachCall.Read read -> ok(200, new Responses.ReadData(U64.format(read.address()),
                        U64.format(read.size()), Base64.getEncoder().encodeToString((byte[]) value)));
                case MachCall.ReadOverwrite r -> ok(200, new Responses.ReadOverwriteResult(U64.format((Long) value)));
                case MachCall.Region r -> ok(200, Responses.Region.of((RegionInfo) value));
                case MachCall.Deallocate _, MachCall.Protect _, MachCall.Inherit _, MachCall.Write _,
                        MachCall.Copy _ -> ok(204, null);
            };
        }

        private static Responses.BatchResult ok(int status, Object body) {
            return new Responses.BatchResult(status, body, null);
        }

        private Responses.BatchResult problem(int index, ProblemHandler.Answer answer) {
            ProblemTypes.ProblemType type = ProblemTypes.of(answer.kern());
            return new Responses.BatchResult(answer.status(), null, new Responses.Problem(type.type(), type.title(),
                    answer.status(), answer.detail(), instance + "#/calls/" + index, answer.kern().name(),
                    answer.kern().value()));
        }
    }

    /** The call a batch element names, when it names one of the calls a batch takes. */
    private static String knownCall(JsonNode node) {
        JsonNode name = node.get("call");
        return name != null && name.isString() && CALL_NAMES.contains(name.asString()) ? name.asString() : null;
    }
}
