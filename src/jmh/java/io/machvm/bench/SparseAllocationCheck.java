package io.machvm.bench;

import io.machvm.store.PageStore;
import io.machvm.store.StoreCapacity;
import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;
import io.machvm.vm.VmFlags;
import io.machvm.vm.VmMap;

/**
 * Target 3: allocating 1 TiB and touching one page costs one page of store and under 1 MiB of heap.
 *
 * <p>For each flavor: a fresh store (service defaults: 64 MiB slabs) and map are built first; then, measured,
 * {@code vm_allocate(ANYWHERE, 1 TiB)} and a one-byte {@code vm_write} in the middle of the range. Reported: bytes
 * the thread allocated on the heap during those two calls (everything, garbage included), the retained heap they
 * added (used heap after full GCs, map alive, before vs after), and the resident pages of store and map. A first
 * round on a throw-away map loads and warms the code so that class loading is not counted.
 *
 * <pre>java -XX:MaxDirectMemorySize=1g -cp target/benchmarks.jar io.machvm.bench.SparseAllocationCheck</pre>
 * Exits with status 1 when a target is missed.
 */
public final class SparseAllocationCheck {
    static final long TIB = 1L << 40;
    static final long HEAP_LIMIT = 1L << 20;

    record Row(Flavor flavor, long allocatedBytes, long retainedBytes, long storePages, long mapPages,
            long virtualBytes, long slabBytes, boolean readBack) {
        boolean pass() {
            return storePages == 1 && mapPages == 1 && readBack && virtualBytes == TIB
                    && allocatedBytes < HEAP_LIMIT && retainedBytes < HEAP_LIMIT;
        }
    }

    public static void main(String[] args) {
        boolean allPass = true;
        System.out.println("Target 3: vm_allocate 1 TiB + touch one page (limit: 1 store page, < 1 MiB heap)");
        System.out.printf("%-7s %16s %16s %11s %9s %16s %14s %6s%n", "flavor", "heap allocated B",
                "heap retained B", "store pages", "map pages", "virtual bytes", "slab reserved", "result");
        for (Flavor flavor : Flavor.values()) {
            measure(flavor); // warm-up round: class loading and first compilations
            Row r = measure(flavor);
            allPass &= r.pass();
            System.out.printf("%-7s %,16d %,16d %,11d %,9d %,16d %14s %6s%n", flavor.wireName(), r.allocatedBytes,
                    r.retainedBytes, r.storePages, r.mapPages, r.virtualBytes, HeapProbe.mib(r.slabBytes),
                    r.pass() ? "PASS" : "FAIL");
        }
        System.out.println("(heap allocated: ThreadMXBean allocated bytes during allocate+write; heap retained: "
                + "used heap after full GCs, after minus before; slab reserved: direct memory drawn from the "
                + "store capacity for that one page)");
        System.exit(allPass ? 0 : 1);
    }

    static Row measure(Flavor flavor) {
        StoreCapacity capacity = new StoreCapacity(1L << 30);
        PageStore store = new PageStore(flavor.pageSize(), 64L << 20, capacity);
        VmMap map = new VmMap(store, flavor, ErrorModel.DOCUMENTED);
        byte[] one = {42};
        long heapBefore = HeapProbe.usedAfterGc();
        long allocatedBefore = HeapProbe.allocatedByThisThread();

        long address = map.allocate(0, TIB, VmFlags.ANYWHERE);
        long touched = address + TIB / 2 + 12345;
        map.write(touched, one, 0, 1);

        long allocated = HeapProbe.allocatedByThisThread() - allocatedBefore;
        long heapAfter = HeapProbe.usedAfterGc();
        boolean readBack = map.read(touched, 1)[0] == 42 && map.read(touched + 1, 1)[0] == 0
                && map.read(address, 1)[0] == 0;
        Row row = new Row(flavor, allocated, heapAfter - heapBefore, store.residentPages(), map.residentPages(),
                map.virtualBytes(), (capacity.capacityBytes() - capacity.remainingBytes()), readBack);
        map.terminate();
        if (store.residentPages() != 0 || (capacity.capacityBytes() - capacity.remainingBytes()) != 0) {
            throw new IllegalStateException("terminate left pages behind");
        }
        return row;
    }
}
