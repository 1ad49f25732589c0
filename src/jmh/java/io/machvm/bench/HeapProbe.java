package io.machvm.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.util.Arrays;
import javax.management.ObjectName;

/** Heap measurements for the heap checks: live heap after full GCs, and the live-object class histogram. */
final class HeapProbe {
    private static final MemoryMXBean MEMORY = ManagementFactory.getMemoryMXBean();
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private HeapProbe() {
    }

    /** Bytes allocated on the heap by the current thread so far (TLAB accounting). */
    static long allocatedByThisThread() {
        return THREADS.getCurrentThreadAllocatedBytes();
    }

    /** Used heap after repeated full GCs, once two consecutive readings agree (to 1 KiB). */
    static long usedAfterGc() {
        long previous = -1;
        for (int i = 0; i < 10; i++) {
            System.gc();
            long used = MEMORY.getHeapMemoryUsage().getUsed();
            if (i >= 2 && Math.abs(used - previous) <= 1024) {
                return used;
            }
            previous = used;
        }
        return previous;
    }

    /**
     * The live-object histogram (a full GC first, like {@code jcmd GC.class_histogram}), reduced to the bytes of
     * {@code classes} into {@code out[0..classes.length)} and the heap total into {@code out[classes.length]}. Only
     * {@code out} is written, so nothing the probe allocates outlives the call and skews the next measurement.
     */
    static void histogram(String[] classes, long[] out) {
        Object text;
        try {
            text = ManagementFactory.getPlatformMBeanServer().invoke(
                    new ObjectName("com.sun.management:type=DiagnosticCommand"), "gcClassHistogram",
                    new Object[] {new String[0]}, new String[] {String[].class.getName()});
        } catch (Exception e) {
            throw new IllegalStateException("class histogram unavailable", e);
        }
        Arrays.fill(out, 0);
        for (String line : text.toString().split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 4 && f[0].endsWith(":")) {
                for (int i = 0; i < classes.length; i++) {
                    if (classes[i].equals(f[3])) {
                        out[i] += Long.parseLong(f[2]);
                    }
                }
            } else if (f.length >= 3 && f[0].equals("Total")) {
                out[classes.length] = Long.parseLong(f[2]);
            }
        }
    }

    static String mib(long bytes) {
        return String.format("%.2f MiB", bytes / (1024.0 * 1024.0));
    }
}
