package io.machvm.bench;

import io.machvm.store.PageStore;
import io.machvm.store.StoreCapacity;
import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;
import io.machvm.vm.VmFlags;
import io.machvm.vm.VmInherit;
import io.machvm.vm.VmMap;
import java.lang.management.ManagementFactory;
import java.util.Arrays;

/**
 * Fork of a task with 1 GiB resident, on the core ({@link VmMap#fork()}, what {@code POST /tasks {"parent"}} runs
 * under the registry): wall and thread CPU time per fork, heap allocated per fork, store pages before and after (a
 * fork must copy no byte), and the cost of the first write into a copy-on-write page afterwards. A plain main, not a
 * JMH benchmark: one fork is milliseconds, and the store page counts are the point.
 *
 * <pre>
 * ./mvnw -q -Pjmh package
 * java -Xms1g -Xmx1g -XX:MaxDirectMemorySize=2g -cp target/benchmarks.jar io.machvm.bench.ForkBenchmark [rounds]
 * </pre>
 */
public final class ForkBenchmark {
    private static final long GIB = 1L << 30;

    private ForkBenchmark() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        for (Flavor flavor : Flavor.values()) {
            run(flavor, VmInherit.COPY, rounds);
        }
        run(Flavor.ARM64, VmInherit.SHARE, rounds);
    }

    private static void run(Flavor flavor, VmInherit inheritance, int rounds) {
        int pageSize = flavor.pageSize();
        PageStore store = new PageStore(pageSize, 64L << 20, new StoreCapacity(GIB + (64L << 20)));
        VmMap parent = new VmMap(store, flavor, ErrorModel.DOCUMENTED);
        long base = parent.allocate(0, GIB, VmFlags.ANYWHERE);
        byte[] chunk = new byte[1 << 20];
        for (long at = 0; at < GIB; at += chunk.length) {
            Arrays.fill(chunk, (byte) (at >>> 20));
            parent.write(base + at, chunk, 0, chunk.length);
        }
        if (inheritance != VmInherit.COPY) {
            parent.inherit(base, GIB, inheritance);
        }
        long resident = store.residentPages();
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

        long[] wall = new long[rounds];
        long[] cpu = new long[rounds];
        long[] heap = new long[rounds];
        long[] terminateWall = new long[rounds];
        long firstWriteNanos = 0;
        long nextWritesNanos = 0;
        int nextWrites = 100;
        int warmup = Math.max(5, rounds / 3);
        for (int i = -warmup; i < rounds; i++) {
            long heap0 = threads.getCurrentThreadAllocatedBytes();
            long cpu0 = threads.getCurrentThreadCpuTime();
            long wall0 = System.nanoTime();
            VmMap child = parent.fork();
            long wall1 = System.nanoTime();
            long cpu1 = threads.getCurrentThreadCpuTime();
            long heap1 = threads.getCurrentThreadAllocatedBytes();
            if (store.residentPages() != resident) {
                throw new AssertionError("fork copied pages: " + store.residentPages() + " != " + resident);
            }
            if (i == rounds - 1 && inheritance == VmInherit.COPY) {
                long w0 = System.nanoTime();
                child.write(base + GIB / 2, new byte[] {1}, 0, 1);
                firstWriteNanos = System.nanoTime() - w0;
                if (store.residentPages() != resident + 1) {
                    throw new AssertionError("the first write copied more than its page");
                }
                long w1 = System.nanoTime();
                for (int k = 1; k <= nextWrites; k++) {
                    child.write(base + GIB / 2 + (long) k * pageSize, new byte[] {1}, 0, 1);
                }
                nextWritesNanos = (System.nanoTime() - w1) / nextWrites;
            }
            long t0 = System.nanoTime();
            child.terminate();
            long t1 = System.nanoTime();
            if (i >= 0) {
                wall[i] = wall1 - wall0;
                cpu[i] = cpu1 - cpu0;
                heap[i] = heap1 - heap0;
                terminateWall[i] = t1 - t0;
            }
        }
        System.out.printf("%s, 1 GiB resident (%,d pages of %d B), inheritance %s, %d forks after %d warm-up:%n",
                flavor.wireName(), resident, pageSize, inheritance.wireName(), rounds, warmup);
        System.out.printf("  fork      wall  median %7.2f ms  min %7.2f ms  max %7.2f ms%n", median(wall) / 1e6,
                min(wall) / 1e6, max(wall) / 1e6);
        System.out.printf("  fork      CPU   median %7.2f ms  (%.1f ns per resident page)%n", median(cpu) / 1e6,
                (double) median(cpu) / resident);
        System.out.printf("  fork      heap  median %,d B allocated (%.2f B per resident page)%n", median(heap),
                (double) median(heap) / resident);
        System.out.printf("  terminate wall  median %7.2f ms (releases the child's references)%n",
                median(terminateWall) / 1e6);
        System.out.printf("  store pages before and after each fork: %,d (no byte copied)%n", resident);
        if (inheritance == VmInherit.COPY) {
            System.out.printf("  first write into the child afterwards (copies one page; the store maps a new slab): "
                    + "%.1f us; each of the next %d writes into other pages: %.1f us%n", firstWriteNanos / 1e3,
                    nextWrites, nextWritesNanos / 1e3);
        }
        parent.terminate();
        if (store.residentPages() != 0) {
            throw new AssertionError("pages leaked: " + store.residentPages());
        }
    }

    private static long median(long[] values) {
        long[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    private static long min(long[] values) {
        return Arrays.stream(values).min().orElse(0);
    }

    private static long max(long[] values) {
        return Arrays.stream(values).max().orElse(0);
    }
}
