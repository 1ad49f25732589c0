package io.machvm.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.profile.InternalProfiler;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.ScalarResult;

/**
 * Adds the secondary result {@code cpu}: the CPU time the JMH worker threads spent per operation, in the primary
 * score's unit ({@code score * workerCpu / wall} over the iteration). On a shared machine the wall-clock score
 * includes the time the benchmark thread waited for a core while other processes ran; this one does not, so ratios of
 * it are steadier. A benchmark with {@code @Setup(Level.Invocation)} must report that work with {@link #exclude} and
 * count its invocations with {@link #countInvocation} (then cpu = (worker CPU - excluded) / invocations). Use with
 * {@code -prof io.machvm.bench.CpuTimeProfiler}.
 */
public final class CpuTimeProfiler implements InternalProfiler {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private static final AtomicLong EXCLUDED_NANOS = new AtomicLong();
    private static final AtomicLong INVOCATIONS = new AtomicLong();
    private final Map<Long, Long> cpuAtStart = new HashMap<>();
    private long wallAtStart;

    /** CPU time of the current thread, for {@link #exclude}. */
    public static long threadCpuNanos() {
        return THREADS.getCurrentThreadCpuTime();
    }

    /** Leaves {@code nanos} of worker CPU time (untimed per-invocation setup/teardown) out of the metric. */
    public static void exclude(long nanos) {
        EXCLUDED_NANOS.addAndGet(nanos);
    }

    /** Counts one invocation of a benchmark that uses {@link #exclude}. */
    public static void countInvocation() {
        INVOCATIONS.incrementAndGet();
    }

    @Override
    public String getDescription() {
        return "CPU time of the benchmark threads per operation";
    }

    @Override
    public void beforeIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams) {
        cpuAtStart.clear();
        EXCLUDED_NANOS.set(0);
        INVOCATIONS.set(0);
        for (long id : workers()) {
            cpuAtStart.put(id, THREADS.getThreadCpuTime(id));
        }
        wallAtStart = System.nanoTime();
    }

    @Override
    public Collection<? extends Result> afterIteration(BenchmarkParams benchmarkParams,
            IterationParams iterationParams, IterationResult result) {
        long wall = System.nanoTime() - wallAtStart;
        long cpu = 0;
        for (long id : workers()) {
            long now = THREADS.getThreadCpuTime(id);
            if (now >= 0) {
                cpu += now - cpuAtStart.getOrDefault(id, 0L); // a worker started in this iteration began at 0
            }
        }
        Result<?> primary = result.getPrimaryResult();
        long invocations = INVOCATIONS.get();
        double perOp;
        if (invocations > 0) {
            double nanosPerUnit = benchmarkParams.getTimeUnit().toNanos(1);
            perOp = (cpu - EXCLUDED_NANOS.get()) / (double) invocations / nanosPerUnit;
        } else {
            perOp = primary.getScore() * cpu / (double) wall / benchmarkParams.getThreads();
        }
        return List.of(new ScalarResult("cpu", perOp, primary.getScoreUnit(), AggregationPolicy.AVG));
    }

    private static long[] workers() {
        ThreadInfo[] infos = THREADS.getThreadInfo(THREADS.getAllThreadIds());
        return java.util.Arrays.stream(infos)
                .filter(i -> i != null && i.getThreadName().contains("jmh-worker"))
                .mapToLong(ThreadInfo::getThreadId)
                .toArray();
    }
}
