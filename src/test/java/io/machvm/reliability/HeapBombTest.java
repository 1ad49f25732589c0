package io.machvm.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.test.context.TestPropertySource;
import tools.jackson.databind.JsonNode;

/**
 * Security findings F1 and F2 over HTTP: requests that would grow the heap without the page store noticing (copy-on-write
 * references spread over page-table leaves, map entries by the thousand, forks of a large task) are refused with
 * {@code 507 KERN_RESOURCE_SHORTAGE} at the configured heap limits, change nothing, and leave the node serving.
 */
@TestPropertySource(properties = {"machvm.limits.max-page-table-bytes-per-task=2MB",
    "machvm.limits.max-page-table-bytes=1536KB", "machvm.limits.max-map-entries-per-task=2000",
    "machvm.limits.max-map-entries=5000"})
class HeapBombTest extends SmallStoreTestBase {
    /** A page-table leaf covers 1,024 arm64 pages: 16 MiB. */
    private static final long LEAF_SPAN = 1024L * ARM_PAGE;

    private static String copy(long source, long size, long dest) {
        return "{\"call\":\"vm_copy\",\"sourceAddress\":\"" + hex(source) + "\",\"size\":\"" + hex(size)
                + "\",\"destAddress\":\"" + hex(dest) + "\"}";
    }

    /** F1 as one request of about 2 KB: allocate 4 TiB, write a byte, double it with vm_copy 18 times. */
    @Test
    void theOneRequestHeapBombIsRefused() {
        String t = task("bomb");
        long base = 0x100_0000_0000L;
        List<String> calls = new ArrayList<>();
        calls.add("{\"call\":\"vm_allocate\",\"address\":\"" + hex(base) + "\",\"size\":\"0x40000000000\"}");
        calls.add("{\"call\":\"vm_write\",\"address\":\"" + hex(base) + "\",\"data\":\"AQ==\"}");
        for (int k = 0; k < 18; k++) {
            long size = LEAF_SPAN << k;
            calls.add(copy(base, size, base + size));
        }
        JsonNode results = http.json("POST", "/tasks/" + t + "/batch", "{\"atomic\":false,\"calls\":["
                + String.join(",", calls) + "]}").expect(200).json().path("results");
        int firstRefused = -1;
        for (int i = 0; i < results.size(); i++) {
            int status = results.get(i).path("status").asInt();
            if (status != 201 && status != 204 && firstRefused < 0) {
                firstRefused = i;
            }
            if (firstRefused >= 0) {
                assertThat(status).as("call %d", i).isEqualTo(507);
                assertThat(results.get(i).path("problem").path("kern").asString())
                        .isEqualTo("KERN_RESOURCE_SHORTAGE");
            }
        }
        // 2 MB of page table holds about 500 leaves: the copy to 512 references is the first refused
        assertThat(firstRefused).isBetween(8, 12);
        JsonNode stats = statistics();
        assertThat(stats.path("residentPages").asLong()).isEqualTo(1);
        // the node still serves, and the task answers as before the refused copies
        assertThat(read(t, base + (LEAF_SPAN << 7), 1)).containsExactly(1);
        String other = task("victim");
        allocate(other, MIN, 4 * ARM_PAGE);
        write(other, MIN, new byte[] {9, 8, 7}).expect(204);
        assertThat(read(other, MIN, 3)).containsExactly(9, 8, 7);
    }

    /** F1 call by call, in two tasks: each task stops at its own limit, and together at the node's. */
    @Test
    void theNodeLimitHoldsAcrossTasks() {
        long base = 0x100_0000_0000L;
        int[] refusedAt = new int[2];
        for (int n = 0; n < 2; n++) {
            String t = task("spread-" + n);
            allocate(t, base, 1L << 42);
            write(t, base, new byte[] {1}).expect(204);
            refusedAt[n] = -1;
            for (int k = 0; k < 18 && refusedAt[n] < 0; k++) {
                long size = LEAF_SPAN << k;
                Client.Result r = call(t, "copy", copy(base, size, base + size).replace("\"call\":\"vm_copy\",", ""));
                if (r.status() != 204) {
                    r.expectProblem(507, "KERN_RESOURCE_SHORTAGE");
                    refusedAt[n] = k;
                }
            }
        }
        assertThat(refusedAt[0]).isBetween(7, 10);
        assertThat(refusedAt[1]).isLessThan(refusedAt[0]); // the node's 1.5 MB are shared
    }

    /** F2: vm_allocate in batches stops at the task's entry limit; another task still works. */
    @Test
    void entriesAreBoundedPerTaskAndInAll() {
        List<String> calls = new ArrayList<>();
        for (int i = 0; i < 2100; i++) {
            calls.add("{\"call\":\"vm_allocate\",\"size\":\"0x4000\",\"anywhere\":true}");
        }
        String body = "{\"atomic\":false,\"calls\":[" + String.join(",", calls) + "]}";
        int[] made = new int[3];
        for (int n = 0; n < 3; n++) {
            String t = task("entries-" + n);
            JsonNode results = http.json("POST", "/tasks/" + t + "/batch", body).expect(200).json().path("results");
            for (JsonNode r : results) {
                if (r.path("status").asInt() == 201) {
                    made[n]++;
                } else {
                    assertThat(r.path("status").asInt()).isEqualTo(507);
                }
            }
        }
        assertThat(made[0]).isEqualTo(2000);
        assertThat(made[1]).isEqualTo(2000);
        assertThat(made[2]).isEqualTo(1000); // 5,000 in all
        // a fork of a full task cannot be made, and changes nothing
        http.json("POST", "/tasks", "{\"parent\":\"entries-0\"}").expectProblem(507, "KERN_RESOURCE_SHORTAGE");
        assertThat(http.get("/tasks").expect(200).json().size()).isEqualTo(3);
        http.send("DELETE", "/tasks/entries-1", null);
        JsonNode child = http.json("POST", "/tasks", "{\"parent\":\"entries-0\"}").expect(201).json();
        assertThat(child.path("regionCount").asInt()).isEqualTo(2000);
    }
}
