package io.machvm.bench;

import io.machvm.store.PageStore;
import io.machvm.store.StoreCapacity;
import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;
import io.machvm.vm.VmFlags;
import io.machvm.vm.VmMap;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Target 4: heap overhead of the page table at most 16 bytes per resident page, with 1 GiB resident (arm64: 65,536
 * pages of 16 KiB; x86_64: 262,144 pages of 4 KiB).
 *
 * <p>Per flavor and round: a store (service defaults: 64 MiB slabs) and map; 1 GiB allocated and written in full
 * (every page resident and private); retained heap measured with the map alive, then again after
 * {@code terminate()} (the map object itself is still reachable). Overhead per page = (alive - terminated) / resident
 * pages. This counts everything the resident pages keep on the heap: the map's page table and the store's per-page
 * bookkeeping (reference counts, free lists, slab objects). Two independent measures: used heap after full GCs
 * ({@code MemoryMXBean}) and the live-object class histogram ({@code GC.class_histogram}), which also gives the
 * breakdown by class. The target uses the larger of the two (median of the rounds).
 *
 * <pre>java -XX:MaxDirectMemorySize=2g -cp target/benchmarks.jar io.machvm.bench.PageTableHeapCheck</pre>
 * Exits with status 1 when the target is missed.
 */
public final class PageTableHeapCheck {
    static final long RESIDENT = 1L << 30;
    static final double LIMIT = 16.0;
    static final int ROUNDS = 3;

    /** Classes reported one by one in the breakdown; the rest of the histogram total is "other". */
    static final String[] CLASSES = {"[I", "[Ljava.lang.Object;", "io.machvm.vm.PageTable$Node",
            "io.machvm.store.PageStore$Slab", "java.nio.DirectByteBuffer", "jdk.internal.ref.Cleaner",
            "java.nio.DirectByteBuffer$Deallocator"};

    /** Per round: resident pages, used-heap delta, then the histogram delta per class of CLASSES and in total. */
    record Round(long pages, long usedDelta, long[] histogramDelta) {
        long histogramTotal() {
            return histogramDelta[CLASSES.length];
        }
    }

    public static void main(String[] args) {
        boolean allPass = true;
        List<String> breakdowns = new ArrayList<>();
        System.out.println("Target 4: heap per resident page with 1 GiB resident (limit: 16 B/page)");
        System.out.printf("%-7s %9s %15s %8s %15s %8s %6s%n", "flavor", "pages", "used-heap delta", "B/page",
                "histogram delta", "B/page", "result");
        for (Flavor flavor : Flavor.values()) {
            measure(flavor); // warm-up round
            Round[] rounds = new Round[ROUNDS];
            for (int i = 0; i < ROUNDS; i++) {
                rounds[i] = measure(flavor);
            }
            long pages = rounds[0].pages;
            long used = median(Arrays.stream(rounds).mapToLong(Round::usedDelta).toArray());
            long histo = median(Arrays.stream(rounds).mapToLong(Round::histogramTotal).toArray());
            double usedPerPage = (double) used / pages;
            double histoPerPage = (double) histo / pages;
            boolean pass = Math.max(usedPerPage, histoPerPage) <= LIMIT;
            allPass &= pass;
            System.out.printf("%-7s %,9d %,15d %8.2f %,15d %8.2f %6s%n", flavor.wireName(), pages, used,
                    usedPerPage, histo, histoPerPage, pass ? "PASS" : "FAIL");
            StringBuilder b = new StringBuilder("  " + flavor.wireName()
                    + " breakdown (class histogram, live bytes that terminate() freed, median round):");
            Round r = Arrays.stream(rounds).filter(x -> x.histogramTotal() == histo).findFirst().orElseThrow();
            long named = 0;
            for (int i = 0; i < CLASSES.length; i++) {
                long bytes = r.histogramDelta[i];
                named += bytes;
                if (bytes != 0) {
                    b.append(String.format("%n    %-40s %,12d B %7.2f B/page", CLASSES[i], bytes,
                            (double) bytes / pages));
                }
            }
            b.append(String.format("%n    %-40s %,12d B %7.2f B/page", "(other)", r.histogramTotal() - named,
                    (double) (r.histogramTotal() - named) / pages));
            breakdowns.add(b.toString());
        }
        System.out.println("(median of " + ROUNDS + " rounds; delta = retained heap with the map alive minus after "
                + "terminate(), map still reachable)");
        breakdowns.forEach(System.out::println);
        System.exit(allPass ? 0 : 1);
    }

    static Round measure(Flavor flavor) {
        long[] alive = new long[CLASSES.length + 1];
        long[] dead = new long[CLASSES.length + 1];
        PageStore store = new PageStore(flavor.pageSize(), 64L << 20, new StoreCapacity(2L << 30));
        VmMap map = new VmMap(store, flavor, ErrorModel.DOCUMENTED);
        byte[] chunk = new byte[1 << 20];
        Arrays.fill(chunk, (byte) 1);
        long address = map.allocate(0, RESIDENT, VmFlags.ANYWHERE);
        for (long done = 0; done < RESIDENT; done += chunk.length) {
            map.write(address + done, chunk, 0, chunk.length);
        }
        long pages = map.residentPages();
        if (pages != RESIDENT / flavor.pageSize() || store.residentPages() != pages || store.sharedPages() != 0) {
            throw new IllegalStateException("expected " + RESIDENT / flavor.pageSize() + " private resident pages, "
                    + "map has " + pages + ", store " + store.residentPages());
        }
        long usedAlive = HeapProbe.usedAfterGc();
        HeapProbe.histogram(CLASSES, alive);
        map.terminate();
        if (store.residentPages() != 0) {
            throw new IllegalStateException("terminate left " + store.residentPages() + " pages");
        }
        long usedDead = HeapProbe.usedAfterGc();
        HeapProbe.histogram(CLASSES, dead);
        for (int i = 0; i < alive.length; i++) {
            alive[i] -= dead[i];
        }
        // map, store and chunk stay reachable up to here: only what terminate() released is counted
        Reference.reachabilityFence(map);
        Reference.reachabilityFence(store);
        Reference.reachabilityFence(chunk);
        return new Round(pages, usedAlive - usedDead, alive);
    }

    static long median(long[] values) {
        long[] v = values.clone();
        Arrays.sort(v);
        return v[v.length / 2];
    }
}
