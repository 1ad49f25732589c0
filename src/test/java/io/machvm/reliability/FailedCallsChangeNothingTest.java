package io.machvm.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import tools.jackson.databind.JsonNode;

/**
 * Failed calls change nothing: for each call (allocate, deallocate, protect, inherit, write, copy, read_overwrite) a
 * request body that ends early or whose connection is reset mid-stream, page-store capacity running out halfway
 * through a copy-on-write break or a large write, and a problem on the last page of a range must leave the tasks'
 * regions, bytes, page handles (so copy-on-write sharing) and resident page counts exactly as they were.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class FailedCallsChangeNothingTest extends SmallStoreTestBase {
    private static final long P = ARM_PAGE;
    /** 80 written pages. */
    private static final long A = MIN;
    private static final int A_PAGES = 80;
    /** 8 pages shared copy-on-write with the first 8 of A. */
    private static final long B = MIN + 96 * P;
    /** 4 written pages, the last one read-only. */
    private static final long C = MIN + 112 * P;
    /** 4 untouched pages, the last one with max protection r--. */
    private static final long D = MIN + 128 * P;
    /** In t3: 16 written pages, the last one read-only; then 4 unreadable (---) pages. */
    private static final long E = MIN;
    /** In t3: 8 untouched pages. */
    private static final long F = MIN + 32 * P;

    private String t;
    private String t2;
    private String t3;

    @BeforeEach
    void layOutTasks() {
        t = task("fc-main");
        allocate(t, A, A_PAGES * P);
        write(t, A, pattern((int) (A_PAGES * P), 1)).expect(204);
        allocate(t, B, 8 * P);
        call(t, "copy", copy(A, 8 * P, B)).expect(204);
        allocate(t, C, 4 * P);
        write(t, C, pattern((int) (4 * P), 2)).expect(204);
        protect(t, C + 3 * P, P, false, "r--");
        allocate(t, D, 4 * P);
        protect(t, D + 3 * P, P, true, "r--");

        t2 = task("fc-x86", "x86_64");
        allocate(t2, MIN, 64 * 4096);
        write(t2, MIN, pattern(64 * 4096, 3)).expect(204);

        t3 = task("fc-dest");
        allocate(t3, E, 20 * P);
        write(t3, E, pattern((int) (16 * P), 4)).expect(204);
        protect(t3, E + 15 * P, P, false, "r--");
        protect(t3, E + 16 * P, 4 * P, false, "---");
        allocate(t3, F, 8 * P);
        assertThat(statistics().path("sharedPages").asLong()).isEqualTo(8);
    }

    // ---------------------------------------------------------------- the calls, as requests that would change state

    /** One call with a body that would change the tasks if it arrived whole. */
    record Call(String name, String method, String path, String contentType, byte[] body) {
    }

    private List<Call> calls() {
        List<Call> calls = new ArrayList<>();
        calls.add(json("allocate", t, "{\"address\":\"" + hex(MIN + 200 * P) + "\",\"size\":\"" + hex(4 * P) + "\"}"));
        calls.add(json("deallocate", t, "{\"address\":\"" + hex(A) + "\",\"size\":\"" + hex(8 * P) + "\"}"));
        calls.add(json("protect", t, "{\"address\":\"" + hex(A) + "\",\"size\":\"" + hex(8 * P)
                + "\",\"setMaximum\":false,\"protection\":\"r--\"}"));
        calls.add(json("inherit", t, "{\"address\":\"" + hex(A) + "\",\"size\":\"" + hex(8 * P)
                + "\",\"inheritance\":\"share\"}"));
        calls.add(json("copy", t, copy(A + 100, 6 * P, B + 7)));
        calls.add(json("read-overwrite", t, "{\"address\":\"" + hex(A + 5) + "\",\"size\":\"" + hex(6 * P)
                + "\",\"destTask\":\"" + t3 + "\",\"destAddress\":\"" + hex(F + 3) + "\"}"));
        calls.add(new Call("vm_write small", "PUT", "/tasks/" + t + "/memory/" + hex(B + 3), "application/octet-stream",
                pattern(40_000, 7)));
        calls.add(new Call("vm_write streamed", "PUT", "/tasks/" + t + "/memory/" + hex(A + 3),
                "application/octet-stream", pattern((int) (40 * P), 8)));
        calls.add(new Call("vm_write streamed over shared pages", "PUT", "/tasks/" + t + "/memory/" + hex(B),
                "application/octet-stream", pattern((int) (8 * P), 9)));
        calls.add(new Call("vm_write json", "PUT", "/tasks/" + t + "/memory/" + hex(B + 3), "application/json",
                ("{\"data\":\"" + Base64.getEncoder().encodeToString(pattern(30_000, 10)) + "\"}")
                        .getBytes(StandardCharsets.US_ASCII)));
        calls.add(new Call("vm_write json streamed", "PUT", "/tasks/" + t + "/memory/" + hex(A),
                "application/json", ("{\"data\":\"" + Base64.getEncoder().encodeToString(pattern((int) (72 * P), 11))
                        + "\"}").getBytes(StandardCharsets.US_ASCII)));
        return calls;
    }

    private static Call json(String op, String task, String json) {
        return new Call(op, "POST", "/tasks/" + task + "/" + op, "application/json",
                json.getBytes(StandardCharsets.UTF_8));
    }

    private static String copy(long source, long size, long dest) {
        return "{\"sourceAddress\":\"" + hex(source) + "\",\"size\":\"" + hex(size) + "\",\"destAddress\":\""
                + hex(dest) + "\"}";
    }

    private List<State> states() {
        return List.of(state(t), state(t2), state(t3));
    }

    private void assertUnchanged(List<State> before, String what) {
        List<State> after = states();
        for (int i = 0; i < before.size(); i++) {
            after.get(i).assertSameAs(before.get(i), what + " (task " + List.of(t, t2, t3).get(i) + ")");
        }
        assertAccountingMatches();
    }

    // ---------------------------------------------------------------- bodies that end early or break off

    @Test
    void aBodyThatEndsEarlyChangesNothing() throws IOException {
        List<State> before = states();
        for (Call c : calls()) {
            for (int sent : new int[] {0, c.body.length / 2, c.body.length - 1}) {
                try (RawHttp raw = new RawHttp(port)) {
                    raw.send(RawHttp.head(c.method, c.path, "Content-Type: " + c.contentType + "\r\nContent-Length: "
                            + c.body.length + "\r\n"));
                    raw.send(Arrays.copyOf(c.body, sent)).shutdownOutput();
                    RawHttp.Response answer = raw.read(false);
                    String what = c.name + " with " + sent + " of " + c.body.length + " bytes";
                    assertThat(answer).as(what + ": an answer").isNotNull();
                    assertThat(answer.status()).as(what + ": " + answer.text()).isEqualTo(400);
                    assertThat(Answers.check(what, answer.status(), answer.contentType(), answer.body(), false,
                            false)).isEqualTo("KERN_INVALID_ARGUMENT");
                }
            }
            assertUnchanged(before, c.name + " cut short");
        }
    }

    @Test
    void aChunkedBodyWithoutItsLastChunkChangesNothing() throws IOException {
        List<State> before = states();
        for (Call c : calls()) {
            byte[] chunked = RawHttp.chunked(c.body, 8192);
            byte[] withoutEnd = Arrays.copyOf(chunked, chunked.length - 5); // drops "0\r\n\r\n"
            try (RawHttp raw = new RawHttp(port)) {
                raw.send(RawHttp.head(c.method, c.path, "Content-Type: " + c.contentType
                        + "\r\nTransfer-Encoding: chunked\r\n"));
                raw.send(withoutEnd).shutdownOutput();
                RawHttp.Response answer = raw.read(false);
                assertThat(answer).as(c.name + ": an answer").isNotNull();
                assertThat(Answers.check(c.name + " chunked without its end", answer.status(), answer.contentType(),
                        answer.body(), false, false)).isEqualTo("KERN_INVALID_ARGUMENT");
            }
            assertUnchanged(before, c.name + " chunked without its last chunk");
        }
    }

    @Test
    void aConnectionResetMidBodyChangesNothing() throws Exception {
        List<State> before = states();
        for (Call c : calls()) {
            for (int sent : new int[] {1, c.body.length / 2, c.body.length - 1}) {
                try (RawHttp raw = new RawHttp(port)) {
                    raw.send(RawHttp.head(c.method, c.path, "Content-Type: " + c.contentType + "\r\nContent-Length: "
                            + c.body.length + "\r\n"));
                    raw.send(Arrays.copyOf(c.body, sent));
                    Thread.sleep(20); // let the server start on the body
                    raw.reset();
                }
            }
            // The server notices the reset on its own time: wait until the pages it took for the body are back.
            awaitResident(before.get(0).hostResident());
            assertUnchanged(before, c.name + " reset mid-body");
        }
    }

    private void awaitResident(long expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (statistics().path("residentPages").asLong() != expected && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        Thread.sleep(50);
    }

    // ---------------------------------------------------------------- capacity running out halfway

    @Test
    void runningOutOfPagesHalfwayChangesNothing() {
        String hog = task("fc-hog");
        fillUntilFree(hog, 1);
        List<State> before = states();
        List<Call> calls = calls();
        String[] needPages = {"copy", "read-overwrite", "vm_write small", "vm_write streamed",
            "vm_write streamed over shared pages", "vm_write json", "vm_write json streamed"};
        for (String name : needPages) {
            Call c = calls.stream().filter(x -> x.name.equals(name)).findFirst().orElseThrow();
            Client.Result result = http.send(c.method, c.path, c.body, "Content-Type", c.contentType);
            result.expectProblem(507, "KERN_RESOURCE_SHORTAGE");
            assertUnchanged(before, name + " out of pages");
        }
        // A copy-on-write break in place (no streaming): 4 shared pages to copy, 1 free.
        Client.Result cow = write(t, B + 10, pattern((int) (4 * P), 12));
        cow.expectProblem(507, "KERN_RESOURCE_SHORTAGE");
        assertUnchanged(before, "copy-on-write break out of pages");

        // Not a fluke of the calls: with the hog gone each of them succeeds.
        http.send("DELETE", "/tasks/" + hog, null).expect(204);
        for (String name : needPages) {
            Call c = calls.stream().filter(x -> x.name.equals(name)).findFirst().orElseThrow();
            Client.Result result = http.send(c.method, c.path, c.body, "Content-Type", c.contentType);
            assertThat(result.status()).as(name + " with room: " + result.text()).isBetween(200, 204);
        }
        write(t, B + 10, pattern((int) (4 * P), 12)).expect(204);
        assertAccountingMatches();
    }

    /** Writes pages into {@code hog} until the host has exactly {@code free} free arm64 pages. */
    private void fillUntilFree(String hog, long free) {
        long at = MIN;
        allocate(hog, MIN, 256 * P);
        while (true) {
            long available = statistics().path("freePages").asLong();
            if (available == free) {
                return;
            }
            assertThat(available).isGreaterThan(free);
            int pages = (int) Math.min(available - free, 64);
            write(hog, at, pattern((int) (pages * P), 99)).expect(204);
            at += pages * P;
        }
    }

    // ---------------------------------------------------------------- a problem on the last page of the range

    @Test
    void aProblemOnTheLastPageOfTheRangeChangesNothing() {
        List<State> before = states();
        // vm_write: C's last page is read-only.
        write(t, C + 5, pattern((int) (4 * P) - 10, 20)).expectProblem(403, "KERN_PROTECTION_FAILURE");
        assertUnchanged(before, "vm_write onto a read-only last page");
        // vm_write: the range runs past the end of A into unmapped memory.
        write(t, A + A_PAGES * P - 100, pattern((int) (2 * P), 21)).expectProblem(404, "KERN_INVALID_ADDRESS");
        assertUnchanged(before, "vm_write past the end of the region");
        // vm_copy: destination's last page read-only (shared source pages would be shared by a successful copy).
        call(t, "copy", copy(A, 4 * P, C)).expectProblem(403, "KERN_PROTECTION_FAILURE");
        call(t, "copy", copy(A + 1, 4 * P - 2, C + 1)).expectProblem(403, "KERN_PROTECTION_FAILURE");
        assertUnchanged(before, "vm_copy onto a read-only last page");
        // vm_copy: source's last page unmapped.
        call(t, "copy", copy(B + 4 * P, 5 * P, A)).expectProblem(404, "KERN_INVALID_ADDRESS");
        assertUnchanged(before, "vm_copy from a range whose last page is unmapped");
        // vm_read_overwrite: destination (another task) read-only on the last page.
        call(t, "read-overwrite", "{\"address\":\"" + hex(A) + "\",\"size\":\"" + hex(16 * P) + "\",\"destTask\":\""
                + t3 + "\",\"destAddress\":\"" + hex(E) + "\"}").expectProblem(403, "KERN_PROTECTION_FAILURE");
        // … and across flavors, bytes moved rather than pages shared.
        call(t2, "read-overwrite", "{\"address\":\"" + hex(MIN) + "\",\"size\":\"" + hex(16 * P) + "\",\"destTask\":\""
                + t3 + "\",\"destAddress\":\"" + hex(E + 1) + "\"}").expectProblem(403, "KERN_PROTECTION_FAILURE");
        // vm_read_overwrite: source unreadable on its last page.
        call(t3, "read-overwrite", "{\"address\":\"" + hex(E + 12 * P) + "\",\"size\":\"" + hex(5 * P)
                + "\",\"destTask\":\"" + t + "\",\"destAddress\":\"" + hex(A) + "\"}")
                .expectProblem(403, "KERN_PROTECTION_FAILURE");
        assertUnchanged(before, "vm_read_overwrite with a protection problem on the last page");
        // vm_protect: D's last page has max r--, so rw- cannot be set on all of D.
        call(t, "protect", "{\"address\":\"" + hex(D) + "\",\"size\":\"" + hex(4 * P)
                + "\",\"setMaximum\":false,\"protection\":\"rw-\"}").expectProblem(403, "KERN_PROTECTION_FAILURE");
        call(t, "protect", "{\"address\":\"" + hex(C) + "\",\"size\":\"" + hex(5 * P)
                + "\",\"setMaximum\":false,\"protection\":\"r--\"}").expectProblem(404, "KERN_INVALID_ADDRESS");
        assertUnchanged(before, "vm_protect with a problem on the last page");
        // vm_inherit: the range runs one page past C.
        call(t, "inherit", "{\"address\":\"" + hex(C) + "\",\"size\":\"" + hex(5 * P)
                + "\",\"inheritance\":\"share\"}").expectProblem(404, "KERN_INVALID_ADDRESS");
        assertUnchanged(before, "vm_inherit with an unmapped last page");
        // vm_allocate: the last page overlaps C.
        call(t, "allocate", "{\"address\":\"" + hex(C - 3 * P) + "\",\"size\":\"" + hex(4 * P) + "\"}")
                .expectProblem(409, "KERN_NO_SPACE");
        call(t, "allocate", "{\"address\":\"0x7fffff000000\",\"size\":\"" + hex(1L << 30) + "\",\"flags\":16384}")
                .expectProblem(404, "KERN_INVALID_ADDRESS");
        assertUnchanged(before, "vm_allocate overlapping on its last page");
        // vm_deallocate: a range that wraps.
        call(t, "deallocate", "{\"address\":\"" + hex(A) + "\",\"size\":\"0xffffffffffffffff\"}")
                .expectProblem(400, "KERN_INVALID_ARGUMENT");
        assertUnchanged(before, "vm_deallocate of a wrapping range");

        JsonNode stats = statistics();
        assertThat(stats.path("sharedPages").asLong()).isEqualTo(8);
    }
}
