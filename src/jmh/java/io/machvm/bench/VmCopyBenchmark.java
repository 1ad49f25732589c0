package io.machvm.bench;

import io.machvm.store.PageStore;
import io.machvm.store.StoreCapacity;
import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;
import io.machvm.vm.VmFlags;
import io.machvm.vm.VmMap;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Target 1: {@code vm_copy} of 256 MiB page-aligned (copy-on-write: pages are shared, no byte moves) must be at least
 * 20x faster than the same copy misaligned by one byte (every byte moves) and than a bulk copy between two direct
 * 256 MiB {@link ByteBuffer}s.
 *
 * <ul>
 *   <li>{@link #alignedPingPong}: copies A to B, then B to A, alternately. Both ranges stay resident (all pages shared
 *       after the first copy), and every invocation does the whole COW work: capture (retain) 16,384 source pages,
 *       point 16,384 destination page-table slots at them, drop the 16,384 references they replace. No setup per
 *       invocation, so no measurement skew. It does not free pages (what it replaces is still referenced).</li>
 *   <li>{@link #alignedOverPrivate}: copies A to B where B holds 16,384 private pages (its own bytes), restored before
 *       every invocation by a {@code @Setup(Level.Invocation)} that rewrites B (untimed). Here the copy also frees
 *       the 16,384 replaced pages (and the slabs that become empty). An invocation takes milliseconds, so the
 *       per-invocation timestamps of {@code Level.Invocation} are negligible; the setup's 256 MiB write leaves
 *       caches cold, which is the pessimistic (realistic) case for the copy. The setup's and teardown's CPU time is
 *       reported to {@link CpuTimeProfiler#exclude} so that the {@code cpu} metric counts the copy alone.</li>
 *   <li>{@link #misalignedByOneByte}: copies A+1 to B (256 MiB): no page can be shared, every byte is copied.</li>
 *   <li>{@link #directByteBufferCopy}: the baseline {@code dst.put(0, src, 0, n)} between two direct 256 MiB buffers.</li>
 * </ul>
 * Only the copy is measured: nothing writes the shared pages afterwards (that would be the COW break, not the copy).
 * Each method runs in its own fork and only builds the state it uses. Setup and teardown verify that the aligned
 * copies shared pages (store resident pages stay at one range's worth) and that the copied bytes are right.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 8, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g", "-XX:MaxDirectMemorySize=4g", "-XX:+AlwaysPreTouch"})
public class VmCopyBenchmark {
    static final long SIZE = 256L << 20;
    static final Flavor FLAVOR = Flavor.ARM64;
    static final int PAGE = FLAVOR.pageSize();
    static final long PAGES = SIZE / PAGE;
    /** The service default slab size (machvm.store.slab-size). */
    static final long SLAB = 64L << 20;

    /** Writes {@code size} bytes at {@code address}, a different byte pattern per page (seeded), 1 MiB at a time. */
    static void fill(VmMap map, long address, long size, int seed) {
        byte[] chunk = new byte[1 << 20];
        for (long done = 0; done < size; done += chunk.length) {
            for (int i = 0; i < chunk.length; i++) {
                chunk[i] = (byte) (seed + i * 31 + (done >>> 14));
            }
            map.write(address + done, chunk, 0, (int) Math.min(chunk.length, size - done));
        }
    }

    static void check(boolean ok, String what) {
        if (!ok) {
            throw new IllegalStateException("benchmark invariant violated: " + what);
        }
    }

    static void checkSameBytes(VmMap map, long a, long b, long size) {
        for (long at : new long[] {0, PAGE - 7, size / 2 + 12345, size - 64}) {
            check(java.util.Arrays.equals(map.read(a + at, 64), map.read(b + at, 64)),
                    "bytes differ at offset " + at);
        }
    }

    // ------------------------------------------------------------------------------------------ aligned, ping-pong

    @State(Scope.Benchmark)
    public static class PingPong {
        PageStore store;
        VmMap map;
        long a;
        long b;
        boolean forward;

        @Setup(Level.Trial)
        public void setUp() {
            store = new PageStore(PAGE, SLAB, new StoreCapacity(1L << 30));
            map = new VmMap(store, FLAVOR, ErrorModel.DOCUMENTED);
            a = map.allocate(0, SIZE, VmFlags.ANYWHERE);
            b = map.allocate(0, SIZE, VmFlags.ANYWHERE);
            fill(map, a, SIZE, 1);
            fill(map, b, SIZE, 2);
            check(store.residentPages() == 2 * PAGES, "both ranges resident");
            map.copy(a, SIZE, b); // from here on the two ranges share every page
            check(store.residentPages() == PAGES && store.sharedPages() == PAGES, "aligned copy shared the pages");
        }

        @TearDown(Level.Iteration)
        public void verify() {
            check(store.residentPages() == PAGES && store.sharedPages() == PAGES && map.residentPages() == 2 * PAGES,
                    "ping-pong copies stayed copy-on-write");
            checkSameBytes(map, a, b, SIZE);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            map.terminate();
        }
    }

    @Benchmark
    public void alignedPingPong(PingPong s) {
        if (s.forward = !s.forward) {
            s.map.copy(s.a, SIZE, s.b);
        } else {
            s.map.copy(s.b, SIZE, s.a);
        }
    }

    // ------------------------------------------------------------------------------------------ aligned, over private

    @State(Scope.Benchmark)
    public static class OverPrivate {
        PageStore store;
        VmMap map;
        long a;
        long b;
        int round;
        byte[] chunk = new byte[1 << 20];

        @Setup(Level.Trial)
        public void setUp() {
            store = new PageStore(PAGE, SLAB, new StoreCapacity(3L << 30));
            map = new VmMap(store, FLAVOR, ErrorModel.DOCUMENTED);
            a = map.allocate(0, SIZE, VmFlags.ANYWHERE);
            b = map.allocate(0, SIZE, VmFlags.ANYWHERE);
            fill(map, a, SIZE, 1);
        }

        /** Untimed: gives B 16,384 private pages of its own bytes again (COW-breaking writes of every page). */
        @Setup(Level.Invocation)
        public void privatizeDestination() {
            long cpu = CpuTimeProfiler.threadCpuNanos();
            java.util.Arrays.fill(chunk, (byte) ++round);
            for (long done = 0; done < SIZE; done += chunk.length) {
                map.write(b + done, chunk, 0, chunk.length);
            }
            check(store.residentPages() == 2 * PAGES && store.sharedPages() == 0, "destination is private");
            CpuTimeProfiler.exclude(CpuTimeProfiler.threadCpuNanos() - cpu);
        }

        @TearDown(Level.Invocation)
        public void verifyShared() {
            long cpu = CpuTimeProfiler.threadCpuNanos();
            check(store.residentPages() == PAGES && store.sharedPages() == PAGES, "aligned copy shared the pages");
            CpuTimeProfiler.countInvocation();
            CpuTimeProfiler.exclude(CpuTimeProfiler.threadCpuNanos() - cpu);
        }

        /**
         * Untimed, like the per-invocation setup: JMH runs it on the worker thread before the profiler closes the
         * last iteration, whose CPU time would otherwise count the release of both ranges as part of the copies.
         */
        @TearDown(Level.Trial)
        public void tearDown() {
            long cpu = CpuTimeProfiler.threadCpuNanos();
            checkSameBytes(map, a, b, SIZE);
            map.terminate();
            CpuTimeProfiler.exclude(CpuTimeProfiler.threadCpuNanos() - cpu);
        }
    }

    @Benchmark
    public void alignedOverPrivate(OverPrivate s) {
        s.map.copy(s.a, SIZE, s.b);
    }

    // ------------------------------------------------------------------------------------------ misaligned

    @State(Scope.Benchmark)
    public static class Misaligned {
        PageStore store;
        VmMap map;
        long a;
        long b;

        @Setup(Level.Trial)
        public void setUp() {
            store = new PageStore(PAGE, SLAB, new StoreCapacity(1L << 30));
            map = new VmMap(store, FLAVOR, ErrorModel.DOCUMENTED);
            a = map.allocate(0, SIZE + PAGE, VmFlags.ANYWHERE);
            b = map.allocate(0, SIZE, VmFlags.ANYWHERE);
            fill(map, a, SIZE + PAGE, 1);
            fill(map, b, SIZE, 2);
        }

        @TearDown(Level.Iteration)
        public void verify() {
            check(store.sharedPages() == 0 && store.residentPages() == 2 * PAGES + 1, "misaligned copy moved bytes");
            checkSameBytes(map, a + 1, b, SIZE);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            map.terminate();
        }
    }

    @Benchmark
    public void misalignedByOneByte(Misaligned s) {
        s.map.copy(s.a + 1, SIZE, s.b);
    }

    // ------------------------------------------------------------------------------------------ direct ByteBuffer

    @State(Scope.Benchmark)
    public static class Direct {
        ByteBuffer src;
        ByteBuffer dst;

        @Setup(Level.Trial)
        public void setUp() {
            src = ByteBuffer.allocateDirect((int) SIZE);
            dst = ByteBuffer.allocateDirect((int) SIZE);
            for (int i = 0; i < SIZE; i += 8) {
                src.putLong(i, i * 0x9E3779B97F4A7C15L);
                dst.putLong(i, ~i);
            }
        }

        @TearDown(Level.Iteration)
        public void verify() {
            check(src.getLong((int) SIZE - 8) == dst.getLong((int) SIZE - 8), "direct copy happened");
        }
    }

    @Benchmark
    public ByteBuffer directByteBufferCopy(Direct s) {
        return s.dst.put(0, s.src, 0, (int) SIZE);
    }
}
