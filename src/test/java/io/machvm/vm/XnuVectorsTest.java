package io.machvm.vm;

import static io.machvm.vm.VmTestSupport.hex;
import static io.machvm.vm.VmTestSupport.kernOf;
import static io.machvm.vm.VmTestSupport.pattern;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Runs every trial of {@code vectors/xnu_vm_allocation_tests.json} (asserted by XNU's own
 * {@code tests/vm/vm_allocation.c}) against a fresh arm64 task in the XNU error model, as the vectors README says.
 */
class XnuVectorsTest {
    private static final String RESOURCE = "/vectors/xnu_vm_allocation_tests.json";
    /** All trials in the file; the suite fails if the file shrinks. */
    private static final int TOTAL_TRIALS = 228;
    /** Trials expecting MACH_SEND_INVALID_MEMORY (a bad buffer in the caller's task): no equivalent here. */
    private static final int SKIPPED_TRIALS = 24;
    private static final int RUN_TRIALS = TOTAL_TRIALS - SKIPPED_TRIALS;

    private static final AtomicInteger ran = new AtomicInteger();
    private static final AtomicInteger skipped = new AtomicInteger();
    private static final AtomicInteger generated = new AtomicInteger();

    static List<JsonNode> trials() throws IOException {
        try (InputStream in = XnuVectorsTest.class.getResourceAsStream(RESOURCE)) {
            assertThat(in).as("test resource %s", RESOURCE).isNotNull();
            JsonNode root = JsonMapper.builder().build().readTree(in);
            List<JsonNode> out = new ArrayList<>();
            root.forEach(out::add);
            return out;
        }
    }

    @Test
    void theFileHoldsEveryTrial() throws IOException {
        List<JsonNode> all = trials();
        assertThat(all).hasSize(TOTAL_TRIALS);
        assertThat(all.stream().map(t -> t.get("id").asString()).distinct()).hasSize(TOTAL_TRIALS);
        assertThat(all.stream().filter(XnuVectorsTest::hasNoEquivalent)).hasSize(SKIPPED_TRIALS);
    }

    @TestFactory
    Stream<DynamicTest> xnuTrials() throws IOException {
        return trials().stream().map(trial -> {
            generated.incrementAndGet();
            String name = trial.get("id").asString() + " " + trial.get("call").asString() + " "
                    + trial.get("args") + " -> " + trial.get("expect").asString();
            return DynamicTest.dynamicTest(name, () -> runTrial(trial));
        });
    }

    @AfterAll
    static void everyTrialRanOrWasSkippedVisibly() {
        if (generated.get() == 0) {
            return; // the factory was filtered out (e.g. -Dtest=...#method): nothing to count
        }
        assertThat(generated.get()).as("trials generated").isEqualTo(TOTAL_TRIALS);
        assertThat(skipped.get()).as("trials skipped (MACH_SEND_INVALID_MEMORY)").isEqualTo(SKIPPED_TRIALS);
        assertThat(ran.get()).as("trials run").isEqualTo(RUN_TRIALS);
    }

    private static boolean hasNoEquivalent(JsonNode trial) {
        return "MACH_SEND_INVALID_MEMORY".equals(trial.get("expect").asString());
    }

    private void runTrial(JsonNode trial) throws Exception {
        if (hasNoEquivalent(trial)) {
            skipped.incrementAndGet();
            assumeFalse(true, "MACH_SEND_INVALID_MEMORY (bad buffer in the caller's task) has no equivalent");
        }
        VmMap map = VmTestSupport.newMap(Flavor.ARM64, ErrorModel.XNU);
        String call = trial.get("call").asString();
        JsonNode args = trial.get("args");
        KernReturn expected = KernReturn.byName(trial.get("expect").asString());
        assertThat(expected).as("known kern name").isNotNull();
        assertThat(expected.value()).isEqualTo(trial.get("expect_code").asInt());

        // Setup: allocate FIXED, lower the max when not rwx, set cur when not rw-; fill with a pattern.
        List<byte[]> contents = new ArrayList<>();
        JsonNode regions = trial.get("setup").get("regions");
        int seed = 1;
        for (JsonNode r : regions) {
            long start = hex(r.get("start").asString());
            long size = hex(r.get("size").asString());
            assertThat(map.allocate(start, size, VmFlags.FIXED)).isEqualTo(start);
            byte[] fill = pattern((int) size, seed++);
            map.write(start, fill);
            contents.add(fill);
            int max = VmProt.parse(r.get("max_prot").asString());
            int prot = VmProt.parse(r.get("prot").asString());
            if (max != VmProt.ALL) {
                map.protect(start, size, true, max);
            }
            if (prot != (VmProt.READ | VmProt.WRITE)) {
                map.protect(start, size, false, prot);
            }
        }
        List<RegionInfo> before = map.regions();
        long residentBefore = map.residentPages();

        boolean nullTask = args.has("target_task");
        if (nullTask) {
            assertThat(args.get("target_task").asString()).isEqualTo("MACH_PORT_NULL");
            map.terminate();
        }
        AtomicLong addressOut = new AtomicLong(-1);
        byte[][] readOut = new byte[1][];
        byte[] written = null;
        KernReturn actual;
        switch (call) {
            case "vm_allocate" -> actual = kernOf(() -> addressOut.set(nullTask
                    ? map.allocate(0, 0x4000, VmFlags.ANYWHERE)
                    : map.allocate(u64(args, "address"), u64(args, "size"), (int) u64(args, "flags"))));
            case "vm_deallocate" -> actual = kernOf(() -> {
                if (nullTask) {
                    map.deallocate(0x280000000L, 0x4000);
                } else {
                    map.deallocate(u64(args, "address"), u64(args, "size"));
                }
            });
            case "vm_read" -> actual = kernOf(() -> readOut[0] = nullTask
                    ? map.read(0x280000000L, 0x4000)
                    : map.read(u64(args, "address"), u64(args, "size")));
            case "vm_write" -> {
                byte[] body = nullTask ? new byte[0x4000] : pattern((int) u64(args, "data_count"), 99);
                long address = nullTask ? 0x280000000L : u64(args, "address");
                written = body;
                actual = kernOf(() -> map.write(address, body));
            }
            case "vm_copy" -> actual = kernOf(() -> {
                if (nullTask) {
                    map.copy(0x280000000L, 0x4000, 0x2c0000000L);
                } else {
                    map.copy(u64(args, "source_address"), u64(args, "size"), u64(args, "dest_address"));
                }
            });
            case "vm_protect" -> actual = kernOf(() -> map.protect(u64(args, "address"), u64(args, "size"),
                    args.get("set_maximum").asBoolean(), (int) u64(args, "new_protection")));
            default -> throw new AssertionError("unknown call " + call);
        }
        ran.incrementAndGet();
        assertThat(actual).as("kern of %s", trial.get("id").asString()).isEqualTo(expected);

        if (trial.has("expect_address_out")) {
            String out = trial.get("expect_address_out").asString();
            if (out.startsWith("0x")) {
                assertThat(addressOut.get()).isEqualTo(hex(out));
            } else {
                assertThat(out).startsWith("page-aligned, searched from the bottom of the map");
                assertThat(addressOut.get() & (Flavor.ARM64.pageSize() - 1)).isZero();
                assertThat(addressOut.get()).isEqualTo(Flavor.ARM64.minAddress());
            }
        }
        if (nullTask) {
            assertThat(map.residentPages()).isZero();
            assertThat(map.store().residentPages()).isZero();
            return;
        }
        if (actual != KernReturn.KERN_SUCCESS) {
            // All or nothing: the regions and every byte are as they were.
            assertThat(map.regions()).isEqualTo(before);
            assertThat(map.residentPages()).isEqualTo(residentBefore);
            int i = 0;
            for (JsonNode r : regions) {
                long start = hex(r.get("start").asString());
                assertThat(VmTestSupport.peek(map, start, contents.get(i).length))
                        .as("bytes of setup region %s", r.get("start").asString()).isEqualTo(contents.get(i));
                i++;
            }
            return;
        }
        // Successful calls: check their effect where it is simple to state.
        switch (call) {
            case "vm_write" -> {
                if (written.length > 0) {
                    assertThat(VmTestSupport.peek(map, u64(args, "address"), written.length)).isEqualTo(written);
                }
            }
            case "vm_read" -> assertThat(readOut[0]).hasSize((int) u64(args, "size"));
            case "vm_copy" -> {
                long size = u64(args, "size");
                if (size > 0) {
                    long src = u64(args, "source_address");
                    long dst = u64(args, "dest_address");
                    byte[] expectedBytes = sourceBytes(regions, contents, src, (int) size);
                    assertThat(VmTestSupport.peek(map, dst, (int) size)).isEqualTo(expectedBytes);
                }
            }
            default -> {
            }
        }
    }

    /** The bytes the setup put at {@code [address, address + size)} (which lies inside setup regions). */
    private static byte[] sourceBytes(JsonNode regions, List<byte[]> contents, long address, int size) {
        byte[] out = new byte[size];
        int i = 0;
        for (JsonNode r : regions) {
            long start = hex(r.get("start").asString());
            byte[] c = contents.get(i++);
            long lo = Math.max(start, address);
            long hi = Math.min(start + c.length, address + size);
            if (lo < hi) {
                System.arraycopy(c, (int) (lo - start), out, (int) (lo - address), (int) (hi - lo));
            }
        }
        return out;
    }

    private static long u64(JsonNode args, String field) {
        return hex(args.get(field).asString());
    }
}
