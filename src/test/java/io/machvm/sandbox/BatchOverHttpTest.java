package io.machvm.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.vm.KernReturn;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/** Batches over HTTP: {@code POST /tasks/{task}/batch}, plain and atomic. */
class BatchOverHttpTest extends SandboxTestSupport {
    private static final long A = MIN;
    private static final long P = PAGE;

    private static String b64(byte[] data) {
        return Base64.getEncoder().encodeToString(data);
    }

    private Result batch(String task, boolean atomic, String... calls) {
        return json("POST", "/tasks/" + task + "/batch", "{\"atomic\":" + atomic + ",\"calls\":["
                + String.join(",", calls) + "]}");
    }

    private JsonNode results(Result r) {
        r.expect(200);
        assertThat(r.contentType()).startsWith("application/json");
        JsonNode body = r.json();
        assertThat(body.propertyNames()).containsExactly("results");
        return body.path("results");
    }

    /** Calls of every kind, succeeding and failing, as a batch would carry them. */
    private static List<String> mixedCalls() {
        List<String> calls = new ArrayList<>();
        calls.add("{\"call\":\"vm_allocate\",\"address\":\"" + hex(A) + "\",\"size\":\"" + hex(3 * P + 1) + "\"}");
        calls.add("{\"call\":\"vm_allocate\",\"size\":4096,\"anywhere\":true}");
        calls.add("{\"call\":\"vm_allocate\",\"address\":\"" + hex(A) + "\",\"size\":\"0x4000\"}"); // 409
        calls.add("{\"call\":\"vm_allocate\",\"size\":\"0\",\"anywhere\":true}");
        calls.add("{\"call\":\"vm_allocate\",\"address\":\"" + hex(A) + "\"}"); // 400: size
        calls.add("{\"call\":\"vm_write\",\"address\":\"" + hex(A + 5) + "\",\"data\":\""
                + b64(pattern(2 * PAGE, 3)) + "\"}");
        calls.add("{\"call\":\"vm_read\",\"address\":\"" + hex(A + 7) + "\",\"size\":\"100\"}");
        calls.add("{\"call\":\"vm_read\",\"address\":\"" + hex(A + 7) + "\",\"size\":\"0x100000000\"}"); // 400
        calls.add("{\"call\":\"vm_read\",\"address\":\"" + hex(A + 0x1000_0000L) + "\",\"size\":\"1\"}"); // 404
        calls.add("{\"call\":\"vm_copy\",\"sourceAddress\":\"" + hex(A) + "\",\"size\":\"" + hex(P)
                + "\",\"destAddress\":\"" + hex(A + 2 * P) + "\"}");
        calls.add("{\"call\":\"vm_protect\",\"address\":\"" + hex(A + P) + "\",\"size\":\"" + hex(P)
                + "\",\"protection\":\"r--\"}");
        calls.add("{\"call\":\"vm_protect\",\"address\":\"" + hex(A + P) + "\",\"size\":\"" + hex(P)
                + "\",\"protection\":\"0x100\"}"); // 400: bits
        calls.add("{\"call\":\"vm_write\",\"address\":\"" + hex(A + P + 3) + "\",\"data\":\"AAEC\"}"); // 403
        calls.add("{\"call\":\"vm_write\",\"address\":\"" + hex(A + P + 3) + "\",\"data\":\"!!\"}"); // 400: base64
        calls.add("{\"call\":\"vm_inherit\",\"address\":\"" + hex(A) + "\",\"size\":\"" + hex(P)
                + "\",\"inheritance\":\"share\"}");
        calls.add("{\"call\":\"vm_inherit\",\"address\":\"" + hex(A) + "\",\"size\":\"" + hex(P)
                + "\",\"inheritance\":7}"); // 400
        calls.add("{\"call\":\"vm_region\",\"address\":\"" + hex(A + P + 9) + "\"}");
        calls.add("{\"call\":\"vm_region\",\"address\":\"0xffffffffffffffff\"}"); // 404
        calls.add("{\"call\":\"vm_read_overwrite\",\"address\":\"" + hex(A + 5) + "\",\"size\":\"" + hex(P)
                + "\",\"destAddress\":\"" + hex(A + 3 * P + 5) + "\"}");
        calls.add("{\"call\":\"vm_read_overwrite\",\"address\":\"" + hex(A + 5) + "\",\"size\":\"" + hex(P)
                + "\",\"destAddress\":\"" + hex(A + P) + "\"}"); // 403
        calls.add("{\"call\":\"vm_deallocate\",\"address\":\"" + hex(A + 2 * P) + "\",\"size\":\"1\"}");
        calls.add("{\"call\":\"vm_deallocate\",\"address\":\"0xffffffffffffffff\",\"size\":\"2\"}"); // 400
        calls.add("{\"call\":\"vm_region\",\"address\":\"" + hex(A + 2 * P) + "\",\"unknown\":[1,{\"a\":2}]}");
        return calls;
    }

    /** The same call through its own endpoint. */
    private Result single(String task, String callJson) {
        ObjectNode call = (ObjectNode) JSON.readTree(callJson);
        String name = call.path("call").asString();
        call.remove("call");
        String path = "/tasks/" + task;
        return switch (name) {
            case "vm_allocate" -> json("POST", path + "/allocate", call.toString());
            case "vm_deallocate" -> json("POST", path + "/deallocate", call.toString());
            case "vm_protect" -> json("POST", path + "/protect", call.toString());
            case "vm_inherit" -> json("POST", path + "/inherit", call.toString());
            case "vm_copy" -> json("POST", path + "/copy", call.toString());
            case "vm_read_overwrite" -> json("POST", path + "/read-overwrite", call.toString());
            case "vm_write" -> json("PUT", path + "/memory/" + call.remove("address").asString(), call.toString());
            case "vm_read" -> send("GET", path + "/memory/" + call.path("address").asString() + "?size="
                    + call.path("size").asString(), null, null, "Accept", "application/json");
            case "vm_region" -> get(path + "/regions/" + call.path("address").asString());
            default -> throw new IllegalArgumentException(name);
        };
    }

    @Test
    void eachCallAnswersAsItsOwnEndpointAndTheBatchGoesOnAfterFailures() {
        List<String> calls = mixedCalls();
        String viaEndpoints = newTask();
        String viaBatch = newTask();
        List<Result> expected = new ArrayList<>();
        for (String call : calls) {
            expected.add(single(viaEndpoints, call));
        }
        JsonNode results = results(batch(viaBatch, false, calls.toArray(String[]::new)));

        assertThat(results).hasSize(calls.size());
        for (int i = 0; i < calls.size(); i++) {
            Result want = expected.get(i);
            JsonNode got = results.get(i);
            assertThat(got.propertyNames()).containsExactly("status", "body", "problem");
            assertThat(got.path("status").asInt()).as("call %d: %s", i, calls.get(i)).isEqualTo(want.status());
            if (want.status() == 204) {
                assertThat(got.path("body").isNull()).isTrue();
                assertThat(got.path("problem").isNull()).isTrue();
            } else if (want.status() < 300) {
                assertThat(got.path("body")).as("call %d", i).isEqualTo(want.json());
                assertThat(got.path("problem").isNull()).isTrue();
            } else {
                assertThat(got.path("body").isNull()).isTrue();
                JsonNode problem = got.path("problem");
                JsonNode wantProblem = want.json();
                assertProblem(problem, want.status(), KernReturn.valueOf(wantProblem.path("kern").asString()));
                assertThat(problem.path("detail")).as("call %d", i).isEqualTo(wantProblem.path("detail"));
                assertThat(problem.path("instance").asString())
                        .isEqualTo("/tasks/" + viaBatch + "/batch#/calls/" + i);
            }
        }
        // the failures are where expected, and the task ends in the same state as through the endpoints
        assertThat(results.get(2).path("problem").path("kern").asString()).isEqualTo("KERN_NO_SPACE");
        assertThat(results.get(12).path("status").asInt()).isEqualTo(403);
        assertThat(results.get(13).path("status").asInt()).isEqualTo(400);
        assertThat(regions(viaBatch)).isEqualTo(regions(viaEndpoints));
        assertThat(readBytes(viaBatch, A, 2 * P)).isEqualTo(readBytes(viaEndpoints, A, 2 * P));
        assertThat(readBytes(viaBatch, A + 3 * P, P)).isEqualTo(readBytes(viaEndpoints, A + 3 * P, P));
        terminate(viaEndpoints);
        terminate(viaBatch);
    }

    @Test
    void anAtomicBatchTakesEffectWhole() {
        String task = newTask();
        JsonNode results = results(batch(task, true,
                "{\"call\":\"vm_allocate\",\"size\":\"0x8000\",\"anywhere\":true}",
                "{\"call\":\"vm_write\",\"address\":\"" + hex(A + 1) + "\",\"data\":\"aGVsbG8=\"}",
                "{\"call\":\"vm_read\",\"address\":\"" + hex(A) + "\",\"size\":\"6\"}",
                "{\"call\":\"vm_read_overwrite\",\"address\":\"" + hex(A + 1) + "\",\"size\":\"5\",\"destTask\":\""
                        + task + "\",\"destAddress\":\"" + hex(A + P) + "\"}",
                "{\"call\":\"vm_protect\",\"address\":\"" + hex(A) + "\",\"size\":\"1\",\"protection\":\"r--\"}"));
        assertThat(results).hasSize(5);
        assertThat(results.get(0).path("status").asInt()).isEqualTo(201);
        assertThat(results.get(0).path("body").path("address").asString()).isEqualTo(hex(A));
        assertThat(results.get(1).path("status").asInt()).isEqualTo(204);
        assertThat(results.get(2).path("body").path("data").asString()).isEqualTo(b64("\0hello".getBytes(
                StandardCharsets.US_ASCII)));
        assertThat(results.get(3).path("body").path("outsize").asString()).isEqualTo("0x5");
        assertThat(readBytes(task, A + P, 5)).isEqualTo("hello".getBytes(StandardCharsets.US_ASCII));
        assertThat(regions(task).get(0).path("protection").asString()).isEqualTo("r--");
        terminate(task);
    }

    @Test
    void aFailingAtomicBatchChangesNothingAndAnswersTheFailingCallsProblem() {
        String task = newTask();
        allocate(task, A, 4 * P);
        write(task, A, pattern(4 * PAGE, 1)).expect(204);
        protect(task, A + 3 * P, P, false, "r--");
        String other = newTask();
        allocate(other, A, P);
        inherit(task, A, P, "share");
        String sibling = json("POST", "/tasks", "{\"parent\":\"" + task + "\"}").expect(201).json().path("id")
                .asString();
        JsonNode regionsBefore = regions(task);
        byte[] bytesBefore = readBytes(task, A, 4 * P);
        long resident = residentPages();

        Result r = batch(task, true,
                "{\"call\":\"vm_write\",\"address\":\"" + hex(A) + "\",\"data\":\"" + b64(pattern(PAGE, 9)) + "\"}",
                "{\"call\":\"vm_write\",\"address\":\"" + hex(A + 2 * P) + "\",\"data\":\"" + b64(pattern(PAGE, 9))
                        + "\"}",
                "{\"call\":\"vm_deallocate\",\"address\":\"" + hex(A + P) + "\",\"size\":\"" + hex(P) + "\"}",
                "{\"call\":\"vm_allocate\",\"size\":\"0x100000\",\"anywhere\":true}",
                "{\"call\":\"vm_copy\",\"sourceAddress\":\"" + hex(A) + "\",\"size\":\"" + hex(P)
                        + "\",\"destAddress\":\"" + hex(A + 2 * P) + "\"}",
                "{\"call\":\"vm_write\",\"address\":\"" + hex(A + 3 * P + 1) + "\",\"data\":\"AAEC\"}", // 403
                "{\"call\":\"vm_write\",\"address\":\"" + hex(A) + "\",\"data\":\"AAEC\"}");
        JsonNode problem = r.problem(403, KernReturn.KERN_PROTECTION_FAILURE);
        assertThat(problem.path("instance").asString()).isEqualTo("/tasks/" + task + "/batch");
        assertThat(problem.path("detail").asString()).startsWith("call 5 (vm_write) failed, so no call of the atomic "
                + "batch took effect: ");
        assertThat(problem.path("failedIndex").asInt()).isEqualTo(5);
        JsonNode results = problem.path("results");
        assertThat(results).hasSize(7);
        for (int i = 0; i < 7; i++) {
            if (i == 5) {
                assertThat(results.get(i).path("status").asInt()).isEqualTo(403);
                assertProblem(results.get(i).path("problem"), 403, KernReturn.KERN_PROTECTION_FAILURE);
                assertThat(results.get(i).path("problem").path("instance").asString()).endsWith("/batch#/calls/5");
            } else {
                assertThat(results.get(i).path("status").asInt()).as("call %d", i).isEqualTo(424);
                assertThat(results.get(i).path("problem").isNull()).isTrue();
            }
            assertThat(results.get(i).path("body").isNull()).isTrue();
        }

        assertThat(regions(task)).isEqualTo(regionsBefore);
        assertThat(readBytes(task, A, 4 * P)).isEqualTo(bytesBefore);
        assertThat(readBytes(sibling, A, P)).as("shared memory is put back too")
                .isEqualTo(java.util.Arrays.copyOf(bytesBefore, PAGE));
        assertThat(residentPages()).isEqualTo(resident);

        // an argument refused in the middle ends the batch the same way
        problem = batch(task, true,
                "{\"call\":\"vm_write\",\"address\":\"" + hex(A) + "\",\"data\":\"AAEC\"}",
                "{\"call\":\"vm_allocate\",\"anywhere\":true}",
                "{\"call\":\"vm_frobnicate\"}").problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        assertThat(problem.path("failedIndex").asInt()).isEqualTo(1);
        assertThat(problem.path("detail").asString()).contains("call 1 (vm_allocate)", "size is required");
        // in an atomic batch vm_read_overwrite writes only into the batch's task
        problem = batch(task, true,
                "{\"call\":\"vm_write\",\"address\":\"" + hex(A) + "\",\"data\":\"AAEC\"}",
                "{\"call\":\"vm_read_overwrite\",\"address\":\"" + hex(A) + "\",\"size\":\"1\",\"destTask\":\""
                        + other + "\",\"destAddress\":\"" + hex(A) + "\"}").problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        assertThat(problem.path("failedIndex").asInt()).isEqualTo(1);
        assertThat(problem.path("detail").asString()).contains(other);
        assertThat(readBytes(task, A, 4 * P)).isEqualTo(bytesBefore);
        assertThat(readBytes(other, A, 1)).containsExactly(0);
        // without atomic it may
        JsonNode results2 = results(batch(task, false,
                "{\"call\":\"vm_read_overwrite\",\"address\":\"" + hex(A) + "\",\"size\":\"1\",\"destTask\":\""
                        + other + "\",\"destAddress\":\"" + hex(A) + "\"}"));
        assertThat(results2.get(0).path("status").asInt()).isEqualTo(200);
        assertThat(readBytes(other, A, 1)).containsExactly(bytesBefore[0]);
        terminate(sibling);
        terminate(other);
        terminate(task);
    }

    @Test
    void malformedBatchesAreRefusedWholeAndRunNothing() throws java.io.IOException {
        String task = newTask();
        String allocate = "{\"call\":\"vm_allocate\",\"size\":\"0x4000\",\"anywhere\":true}";
        String path = "/tasks/" + task + "/batch";
        for (String body : new String[] {
            "{\"calls\":[" + allocate + ",]}",
            "{\"calls\":[" + allocate + "]} trailing",
            "{\"calls\":" + allocate + "}",
            "{\"calls\":[" + allocate + ", 7]}",
            "{\"atomic\":\"yes\",\"calls\":[" + allocate + "]}",
            "{\"atomic\":false}",
            "{\"calls\":[" + allocate + "],\"calls\":[]}",
            "{\"calls\":[{\"call\":\"vm_allocate\",\"size\":1,\"size\":2,\"anywhere\":true}]}",
            "[" + allocate + "]",
            "null"}) {
            json("POST", path, body).problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        }
        send("POST", path, "application/json", new byte[0]).problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        send("POST", path, "text/plain", allocate.getBytes(StandardCharsets.UTF_8))
                .problem(415, KernReturn.KERN_INVALID_ARGUMENT);
        send("POST", path, "multipart/form-data; boundary=x", "--x--".getBytes(StandardCharsets.UTF_8))
                .problem(415, KernReturn.KERN_INVALID_ARGUMENT);
        String many = "{\"calls\":[" + String.join(",", java.util.Collections.nCopies(10_001,
                "{\"call\":\"vm_region\",\"address\":0}")) + "]}";
        json("POST", path, many).problem(413, KernReturn.KERN_INVALID_ARGUMENT);
        String tooLarge = rawHead("POST " + path, "Content-Type: application/json\r\nContent-Length: "
                + ((16 << 20) + 1) + "\r\n");
        assertThat(tooLarge).startsWith("HTTP/1.1 413").contains("application/problem+json", "16777216");
        assertThat(taskInfo(task).path("regionCount").asInt()).as("nothing ran").isZero();

        String none = newId("none");
        json("POST", "/tasks/" + none + "/batch", "{\"calls\":[" + allocate + "]}")
                .problem(404, KernReturn.MACH_SEND_INVALID_DEST);
        JsonNode p = json("POST", "/tasks/" + none + "/batch", "{\"atomic\":true,\"calls\":[" + allocate + "]}")
                .problem(404, KernReturn.MACH_SEND_INVALID_DEST);
        assertThat(p.has("failedIndex")).isFalse();

        assertThat(results(json("POST", path, "{\"calls\":[]}"))).isEmpty();
        assertThat(results(json("POST", path, "{\"atomic\":true,\"calls\":[]}"))).isEmpty();
        // 10,000 calls are fine
        String most = "{\"calls\":[" + String.join(",", java.util.Collections.nCopies(10_000,
                "{\"call\":\"vm_deallocate\",\"address\":0,\"size\":0}")) + "]}";
        assertThat(results(json("POST", path, most))).hasSize(10_000);
        terminate(task);
    }

    @Test
    void callsAreCheckedOneByOne() {
        String task = newTask();
        allocate(task, A, 24L << 20);
        JsonNode results = results(batch(task, false,
                "{\"call\":\"vm_protect\"}",
                "{\"size\":1}",
                "{\"call\":7}",
                "{\"call\":\"vm_frobnicate\"}",
                "{\"call\":\"vm_write\",\"address\":\"" + hex(A) + "\"}",
                "{\"call\":\"vm_write\",\"address\":\"" + hex(A) + "\",\"data\":5}",
                "{\"call\":\"vm_read\",\"address\":-1,\"size\":1}",
                "{\"call\":\"vm_read\",\"address\":\"" + hex(A) + "\",\"size\":\"" + hex(12L << 20) + "\"}",
                "{\"call\":\"vm_read\",\"address\":\"" + hex(A) + "\",\"size\":\"" + hex(5L << 20) + "\"}",
                "{\"call\":\"vm_read\",\"address\":\"" + hex(A) + "\",\"size\":\"" + hex(4L << 20) + "\"}",
                "{\"call\":\"vm_allocate\",\"size\":\"18446744073709551615\",\"anywhere\":true}"));
        int[] statuses = {400, 400, 400, 400, 400, 400, 400, 200, 413, 200, 400};
        for (int i = 0; i < statuses.length; i++) {
            assertThat(results.get(i).path("status").asInt()).as("call %d: %s", i, results.get(i))
                    .isEqualTo(statuses[i]);
        }
        assertThat(results.get(0).path("problem").path("detail").asString()).isEqualTo("address is required");
        assertThat(results.get(3).path("problem").path("detail").asString()).contains("vm_frobnicate");
        assertThat(results.get(8).path("problem").path("detail").asString()).contains("16777216");
        assertThat(results.get(7).path("body").path("data").asString()).hasSize((int) ((12L << 20) + 2) / 3 * 4);
        terminate(task);
    }
}
