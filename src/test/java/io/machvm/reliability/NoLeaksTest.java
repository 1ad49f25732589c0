package io.machvm.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.store.PageStore;
import io.machvm.vm.Flavor;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import tools.jackson.databind.JsonNode;

/**
 * No leaks: a workout of every kind of call (in-place and streamed writes, copy-on-write copies, streamed reads that
 * hold page snapshots, cross-flavor vm_read_overwrite, writes refused for capacity or cut off mid-body) followed by
 * terminating every task leaves no resident or shared page, no slab and no reserved capacity, and the JVM's direct
 * memory in use returns to its baseline once the released slabs are collected.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NoLeaksTest extends SmallStoreTestBase {
    private static final long P = ARM_PAGE;
    /** Less than one slab: what the JDK's own direct buffers (socket I/O) may vary by. */
    private static final long TOLERANCE = 512 * 1024;

    @Test
    void terminatingEveryTaskReleasesEveryPageAndDirectMemoryReturnsToTheBaseline() throws Exception {
        workout(); // warms up the JDK's and Tomcat's own buffers, so that they are in the baseline
        terminateAllTasks();
        long baseline = settledDirectMemory(Long.MAX_VALUE);

        for (int round = 1; round <= 2; round++) {
            long peak = workout();
            assertThat(peak - baseline).as("round %d: the workout used direct memory (slabs)", round)
                    .isGreaterThanOrEqualTo(3L << 20);
            terminateAllTasks();
            JsonNode stats = statistics();
            assertThat(stats.path("residentPages").asLong()).as("round %d: resident pages", round).isZero();
            assertThat(stats.path("sharedPages").asLong()).as("round %d: shared pages", round).isZero();
            assertThat(stats.path("freePages").asLong()).isEqualTo(CAPACITY / P);
            for (Flavor flavor : Flavor.values()) {
                PageStore store = stores.forFlavor(flavor);
                assertThat(store.residentPages()).isZero();
                assertThat(store.slabCount()).as("round %d: %s slabs still held", round, flavor).isZero();
            }
            assertThat(stores.capacity().remainingBytes()).isEqualTo(stores.capacity().capacityBytes());
            long settled = settledDirectMemory(baseline + TOLERANCE);
            assertThat(settled).as("round %d: direct memory in use after GC (baseline %d)", round, baseline)
                    .isLessThanOrEqualTo(baseline + TOLERANCE);
        }
    }

    /** Every kind of call, filling most of the store; returns the direct memory in use at the peak. */
    private long workout() throws Exception {
        String a = task("nl-a");
        String b = task("nl-b");
        String x = task("nl-x86", "x86_64");
        allocate(a, MIN, 128 * P);
        allocate(b, MIN, 128 * P);
        allocate(x, MIN, 1 << 20);
        write(a, MIN, pattern((int) (64 * P), 1)).expect(204); // streamed
        write(a, MIN + 64 * P + 7, pattern(40_000, 2)).expect(204); // in place
        http.json("PUT", "/tasks/" + a + "/memory/" + hex(MIN + 100 * P), "{\"data\":\"AAECAwQF\"}").expect(204);
        call(a, "copy", "{\"sourceAddress\":\"" + hex(MIN) + "\",\"size\":\"" + hex(32 * P)
                + "\",\"destAddress\":\"" + hex(MIN + 96 * P) + "\"}").expect(204); // shared copy-on-write
        call(a, "read-overwrite", "{\"address\":\"" + hex(MIN) + "\",\"size\":\"" + hex(64 * P) + "\",\"destTask\":\""
                + b + "\",\"destAddress\":\"" + hex(MIN) + "\"}").expect(200); // shared across tasks
        call(a, "read-overwrite", "{\"address\":\"" + hex(MIN + 3) + "\",\"size\":\"" + hex(200_000)
                + "\",\"destTask\":\"" + x + "\",\"destAddress\":\"" + hex(MIN) + "\"}").expect(200); // bytes moved
        write(b, MIN + 5, pattern(100, 3)).expect(204); // breaks one shared page
        assertThat(read(a, MIN, 64 * P)).isEqualTo(pattern((int) (64 * P), 1)); // a streamed snapshot
        http.get("/tasks/" + b + "/memory/" + hex(MIN) + "?size=" + hex(64 * P), "Accept", "application/json")
                .expect(200);
        // A write cut off mid-body and one refused for capacity take pages and must give them back.
        try (RawHttp raw = new RawHttp(port)) {
            raw.send(RawHttp.head("PUT", "/tasks/" + b + "/memory/" + hex(MIN + 64 * P),
                    "Content-Type: application/octet-stream\r\nContent-Length: " + (60 * P) + "\r\n"));
            raw.send(pattern((int) (30 * P), 4)).shutdownOutput();
            assertThat(raw.read(false).status()).isEqualTo(400);
        }
        write(b, MIN + 64 * P, pattern((int) (64 * P), 5)).expect(204);
        allocate(x, MIN + (1 << 20), 4 << 20);
        Client.Result refused = write(x, MIN + (1 << 20), pattern(2 << 20, 6));
        refused.expectProblem(507, "KERN_RESOURCE_SHORTAGE");
        long peak = directMemoryUsed();
        assertAccountingMatches();
        return peak;
    }

    private static long directMemoryUsed() {
        return ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                .filter(pool -> pool.getName().equals("direct")).mapToLong(BufferPoolMXBean::getMemoryUsed).sum();
    }

    /**
     * Direct memory in use after collecting garbage, polled until it is at most {@code target} or stops falling (freed
     * slabs are released by their cleaners after a GC).
     */
    private static long settledDirectMemory(long target) throws InterruptedException {
        long[] last = new long[5];
        Arrays.fill(last, -1);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        for (int i = 0; ; i++) {
            System.gc();
            Thread.sleep(100);
            long used = directMemoryUsed();
            last[i % last.length] = used;
            boolean stable = Arrays.stream(last).allMatch(v -> v == used);
            if (used <= target && (target != Long.MAX_VALUE || stable) || System.nanoTime() > deadline) {
                return used;
            }
        }
    }
}
