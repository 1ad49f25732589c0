import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * Two or more builds of the core side by side in one JVM, each jar in a class loader of its own, run interleaved
 * (A B, then B A, ...), so that the machine's load hits them alike: the thread CPU time of each call, and the median
 * of the ratios of each build to the first, round by round. Steadier than separate JMH runs for a change of a few
 * percent on a shared machine. Run as a single-file program with Java 25 on the {@code -Pjmh} jars:
 *
 * <pre>
 * java -Xms1g -Xmx1g -XX:MaxDirectMemorySize=6g bench/CoreAB.java MODE ROUNDS WARMUP BEFORE.jar AFTER.jar ...
 * </pre>
 *
 * <ul>
 *   <li>{@code overprivate}: {@code vm_copy} of 256 MiB page-aligned onto 16,384 private pages (arm64), which are
 *       written again, untimed, before each copy (as {@code VmCopyBenchmark.alignedOverPrivate}).</li>
 *   <li>{@code pingpong}: the same copy back and forth between two ranges that share every page.</li>
 *   <li>{@code write}: 20,000 {@code vm_write}s of 4 KiB into one private, dirty x86_64 page per sample (as
 *       {@code VmReadWriteBenchmark.vmWrite}); the figure is per write.</li>
 * </ul>
 */
public class CoreAB {
    private static final long COPY_BYTES = 256L << 20;
    private static final int WRITES_PER_SAMPLE = 20_000;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private static final class Build {
        final String name;
        final String mode;
        final MethodHandle copy;
        final MethodHandle write;
        final long a;
        final long b;
        final byte[] page = new byte[4096];
        final double[] samples;
        int count;

        Build(String jar, String mode, int rounds) throws Throwable {
            this.name = Path.of(jar).getFileName().toString();
            this.mode = mode;
            ClassLoader loader = new URLClassLoader(new URL[] {Path.of(jar).toUri().toURL()},
                    ClassLoader.getPlatformClassLoader());
            Class<?> storeType = loader.loadClass("io.machvm.store.PageStore");
            Class<?> capacityType = loader.loadClass("io.machvm.store.StoreCapacity");
            Class<?> flavorType = loader.loadClass("io.machvm.vm.Flavor");
            Class<?> errorsType = loader.loadClass("io.machvm.vm.ErrorModel");
            Class<?> mapType = loader.loadClass("io.machvm.vm.VmMap");
            boolean writing = mode.equals("write");
            Object flavor = flavorType.getField(writing ? "X86_64" : "ARM64").get(null);
            int pageSize = writing ? 4096 : 16384;
            Object capacity = capacityType.getConstructor(long.class).newInstance(3L << 30);
            Object store = storeType.getConstructor(int.class, long.class, capacityType)
                    .newInstance(pageSize, 64L << 20, capacity);
            Object map = mapType.getConstructor(storeType, flavorType, errorsType)
                    .newInstance(store, flavor, errorsType.getField("DOCUMENTED").get(null));
            MethodHandles.Lookup lookup = MethodHandles.publicLookup();
            MethodHandle allocate = lookup.findVirtual(mapType, "allocate",
                    MethodType.methodType(long.class, long.class, long.class, int.class)).bindTo(map);
            copy = lookup.findVirtual(mapType, "copy",
                    MethodType.methodType(long.class, long.class, long.class, long.class)).bindTo(map);
            write = lookup.findVirtual(mapType, "write",
                    MethodType.methodType(void.class, long.class, byte[].class, int.class, int.class)).bindTo(map);
            long size = writing ? 1L << 20 : COPY_BYTES;
            a = (long) allocate.invokeExact(0L, size, 1); // VM_FLAGS_ANYWHERE
            b = (long) allocate.invokeExact(0L, size, 1);
            fill(a, size, (byte) 1);
            if (!mode.equals("overprivate")) {
                fill(b, size, (byte) 2);
            }
            samples = new double[rounds];
        }

        void fill(long address, long size, byte value) throws Throwable {
            byte[] chunk = new byte[1 << 20];
            Arrays.fill(chunk, value);
            for (long done = 0; done < size; done += chunk.length) {
                write.invokeExact(address + done, chunk, 0, chunk.length);
            }
        }

        void run(int round, boolean record) throws Throwable {
            double nanos;
            if (mode.equals("write")) {
                long at = a + 2 * 4096;
                long start = THREADS.getCurrentThreadCpuTime();
                for (int i = 0; i < WRITES_PER_SAMPLE; i++) {
                    write.invokeExact(at, page, 0, page.length);
                }
                nanos = (double) (THREADS.getCurrentThreadCpuTime() - start) / WRITES_PER_SAMPLE;
            } else {
                boolean back = mode.equals("pingpong") && (round & 1) == 1;
                if (mode.equals("overprivate")) {
                    fill(b, COPY_BYTES, (byte) (round + 3));
                }
                long start = THREADS.getCurrentThreadCpuTime();
                long shared = (long) copy.invokeExact(back ? b : a, COPY_BYTES, back ? a : b);
                nanos = THREADS.getCurrentThreadCpuTime() - start;
                if (shared != COPY_BYTES) {
                    throw new IllegalStateException(name + ": the copy shared " + shared + " bytes, not all");
                }
            }
            if (record) {
                samples[count++] = nanos;
            }
        }
    }

    private static double at(double[] sorted, double q) {
        return sorted[(int) Math.min(sorted.length - 1, Math.round(q * (sorted.length - 1)))];
    }

    public static void main(String[] args) throws Throwable {
        if (args.length < 4) {
            System.err.println("usage: CoreAB overprivate|pingpong|write ROUNDS WARMUP JAR [JAR ...]");
            System.exit(2);
        }
        String mode = args[0];
        int rounds = Integer.parseInt(args[1]);
        int warmup = Integer.parseInt(args[2]);
        Build[] builds = new Build[args.length - 3];
        for (int i = 0; i < builds.length; i++) {
            builds[i] = new Build(args[3 + i], mode, rounds);
        }
        for (int r = 0; r < warmup + rounds; r++) {
            for (int k = 0; k < builds.length; k++) {
                builds[(r & 1) == 0 ? k : builds.length - 1 - k].run(r, r >= warmup);
            }
        }
        String unit = mode.equals("write") ? "ns" : "ms";
        double scale = mode.equals("write") ? 1 : 1e6;
        for (Build build : builds) {
            double[] sorted = build.samples.clone();
            Arrays.sort(sorted);
            System.out.printf(Locale.ROOT, "%-28s %-11s median %8.3f %s  (p25 %.3f, p75 %.3f; %d rounds)%n", build.name,
                    mode, at(sorted, 0.5) / scale, unit, at(sorted, 0.25) / scale, at(sorted, 0.75) / scale, rounds);
        }
        for (int i = 1; i < builds.length; i++) {
            double[] ratios = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                ratios[r] = builds[i].samples[r] / builds[0].samples[r];
            }
            Arrays.sort(ratios);
            System.out.printf(Locale.ROOT, "%s / %s: median of the paired ratios %.3f (p25 %.3f, p75 %.3f)%n",
                    builds[i].name, builds[0].name, at(ratios, 0.5), at(ratios, 0.25), at(ratios, 0.75));
        }
    }
}
