package io.machvm.bench;

import io.machvm.store.PageStore;
import io.machvm.store.StoreCapacity;
import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;
import io.machvm.vm.VmFlags;
import io.machvm.vm.VmMap;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Target 2: {@code vm_write} / {@code vm_read} of 4 KiB into resident, private pages must be within 2x of a raw bulk
 * put/get of 4 KiB into a direct {@link ByteBuffer}.
 *
 * <p>The 4 KiB sit at offset 4 KiB of a resident page (one page touched, no page crossing, no COW: the page is
 * private, so a write stays in place). {@code vm_read} returns a new array by contract, so besides the strict
 * baseline {@link #bufferGet} (into a preallocated array) there is {@link #bufferGetNewArray} (allocate + get), the
 * baseline with the same allocation as {@code vm_read}. The {@code flavor} parameter runs the vm calls on arm64
 * (16 KiB pages) and x86_64 (4 KiB pages: the 4 KiB are one whole page); the raw baselines do not depend on it.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g", "-XX:MaxDirectMemorySize=1g"})
public class VmReadWriteBenchmark {
    static final int LENGTH = 4096;

    @State(Scope.Thread)
    public static class Vm {
        @Param({"ARM64", "X86_64"})
        public Flavor flavor;

        PageStore store;
        VmMap map;
        long address;
        byte[] data;
        byte[] out = new byte[LENGTH];

        @Setup(Level.Trial)
        public void setUp() {
            store = new PageStore(flavor.pageSize(), 64L << 20, new StoreCapacity(256L << 20));
            map = new VmMap(store, flavor, ErrorModel.DOCUMENTED);
            long base = map.allocate(0, 1L << 20, VmFlags.ANYWHERE);
            map.write(base, new byte[1 << 20]); // every page resident and private
            address = base + (flavor.pageSize() > LENGTH ? LENGTH : 2L * flavor.pageSize());
            data = new byte[LENGTH];
            new Random(42).nextBytes(data);
            map.write(address, data, 0, LENGTH);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            if (!java.util.Arrays.equals(map.read(address, LENGTH), data) || store.sharedPages() != 0
                    || store.residentPages() != (1L << 20) / flavor.pageSize()) {
                throw new IllegalStateException("vm_write did not land in place");
            }
            map.terminate();
        }
    }

    @State(Scope.Thread)
    public static class Raw {
        ByteBuffer buffer;
        byte[] data;
        byte[] out;

        @Setup(Level.Trial)
        public void setUp() {
            buffer = ByteBuffer.allocateDirect(64 << 20); // like a store slab: same allocation, same alignment
            data = new byte[LENGTH];
            new Random(42).nextBytes(data);
            out = new byte[LENGTH];
            buffer.put(LENGTH, data);
        }
    }

    @Benchmark
    public void vmWrite(Vm s) {
        s.map.write(s.address, s.data, 0, LENGTH);
    }

    @Benchmark
    public byte[] vmRead(Vm s) {
        return s.map.read(s.address, LENGTH);
    }

    /** vm_read into the caller's array, like the baseline's get: the target's like-for-like comparison. */
    @Benchmark
    public byte[] vmReadInto(Vm s) {
        s.map.read(s.address, s.out, 0, LENGTH);
        return s.out;
    }

    @Benchmark
    public ByteBuffer bufferPut(Raw s) {
        return s.buffer.put(LENGTH, s.data, 0, LENGTH);
    }

    @Benchmark
    public byte[] bufferGet(Raw s) {
        s.buffer.get(LENGTH, s.out, 0, LENGTH);
        return s.out;
    }

    @Benchmark
    public byte[] bufferGetNewArray(Raw s) {
        byte[] out = new byte[LENGTH];
        s.buffer.get(LENGTH, out, 0, LENGTH);
        return out;
    }
}
