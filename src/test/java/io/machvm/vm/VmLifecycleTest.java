package io.machvm.vm;

import static io.machvm.vm.KernReturn.MACH_SEND_INVALID_DEST;
import static io.machvm.vm.VmTestSupport.assertKern;
import static io.machvm.vm.VmTestSupport.pattern;
import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.store.PageStore;
import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** terminate releases everything; a terminated task answers MACH_SEND_INVALID_DEST; one task's calls are linearizable. */
class VmLifecycleTest {
    static final String CONFIGS = VmSemanticsTest.CONFIGS;
    static final long A = VmSemanticsTest.A;

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void terminateReleasesEveryPage(Flavor f, ErrorModel m) {
        PageStore store = VmTestSupport.newStore(f, 64L << 20);
        VmMap map = new VmMap(store, f, m);
        VmMap neighbour = new VmMap(store, f, m);
        int p = f.pageSize();
        map.allocate(A, 8L * p, VmFlags.FIXED);
        map.write(A, pattern(8 * p, 110));
        map.allocate(A + 0x1000_0000L, 8L * p, VmFlags.FIXED);
        map.copy(A, 8L * p, A + 0x1000_0000L);
        map.allocate(f.maxAddress() - p, p, VmFlags.FIXED);
        map.write(f.maxAddress() - 1, new byte[] {1});
        neighbour.allocate(A, 2L * p, VmFlags.FIXED);
        VmMap.readOverwrite(map, A, 2L * p, neighbour, A);
        PageSnapshot snapshot = map.snapshot(A + 1, 3L * p);
        byte[] expected = map.read(A + 1, 3L * p);
        assertThat(store.sharedPages()).isPositive();
        map.terminate();
        assertThat(MapInspection.isTerminated(map)).isTrue();
        assertThat(map.residentPages()).isZero();
        assertThat(map.virtualBytes()).isZero();
        assertThat(map.regionCount()).isZero();
        assertThat(snapshot.toByteArray()).as("a snapshot outlives its task").isEqualTo(expected);
        snapshot.close();
        snapshot.close(); // closing twice is harmless
        assertThat(store.residentPages()).isEqualTo(2); // the neighbour's copies
        assertThat(store.sharedPages()).isZero();
        neighbour.terminate();
        assertThat(store.residentPages()).isZero();
        assertThat(store.slabCount()).as("empty slabs are given back").isZero();
        assertThat(store.capacity().remainingBytes()).isEqualTo(store.capacity().capacityBytes());
        map.terminate(); // twice is fine
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void everyCallOnATerminatedTaskIsInvalidDest(Flavor f, ErrorModel m) {
        VmMap map = VmTestSupport.newMap(f, m);
        VmMap live = VmTestSupport.newMap(f, m);
        int p = f.pageSize();
        map.allocate(A, p, VmFlags.FIXED);
        live.allocate(A, p, VmFlags.FIXED);
        map.terminate();
        List<VmTestSupport.Call> calls = new ArrayList<>();
        calls.add(() -> map.allocate(A, p, VmFlags.FIXED));
        calls.add(() -> map.allocate(0, p, VmFlags.ANYWHERE));
        calls.add(() -> map.allocate(0, 0, VmFlags.FIXED));
        calls.add(() -> map.allocate(0, p, 0x8000)); // bad flags too: the port is checked first
        calls.add(() -> map.deallocate(A, p));
        calls.add(() -> map.deallocate(A, 0));
        calls.add(() -> map.protect(A, p, false, VmProt.READ));
        calls.add(() -> map.protect(A, 0, false, 0x80));
        calls.add(() -> map.inherit(A, p, VmInherit.SHARE));
        calls.add(() -> map.read(A, 1));
        calls.add(() -> map.read(A, 0));
        calls.add(() -> map.snapshot(A, 1).close());
        calls.add(() -> map.write(A, new byte[1]));
        calls.add(() -> map.write(A, new byte[0]));
        calls.add(() -> map.write(A, new ByteArrayInputStream(new byte[1]), 1, 10));
        calls.add(() -> map.copy(A, 1, A));
        calls.add(() -> map.copy(A, 0, A));
        calls.add(() -> map.region(A));
        calls.add(map::regions);
        calls.add(() -> VmMap.readOverwrite(map, A, 1, live, A));
        calls.add(() -> VmMap.readOverwrite(live, A, 1, map, A));
        calls.add(() -> VmMap.readOverwrite(map, A, 1, map, A));
        for (VmTestSupport.Call call : calls) {
            assertKern(MACH_SEND_INVALID_DEST, call);
        }
        assertThat(map.store().residentPages()).isZero();
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void differentTasksProceedInParallelWithoutDeadlock(Flavor f, ErrorModel m) throws Exception {
        // Copies between two tasks in both directions at once, plus writes: no lock order, so no deadlock; in the end
        // every page is accounted for.
        PageStore store = VmTestSupport.newStore(f, 64L << 20);
        VmMap a = new VmMap(store, f, m);
        VmMap b = new VmMap(store, f, m);
        int p = f.pageSize();
        for (VmMap map : new VmMap[] {a, b}) {
            map.allocate(A, 8L * p, VmFlags.FIXED);
            map.write(A, pattern(8 * p, map == a ? 300 : 301));
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                int worker = w;
                futures.add(pool.submit(() -> {
                    for (int i = 0; i < 500; i++) {
                        VmMap from = (worker + i) % 2 == 0 ? a : b;
                        VmMap to = from == a ? b : a;
                        long offset = (long) ((i * 7 + worker) % 4) * p + (i % 3 == 0 ? 5 : 0);
                        VmMap.readOverwrite(from, A + offset, 3L * p, to, A + (long) ((i + worker) % 5) * p);
                        if (i % 5 == 0) {
                            to.write(A + offset, new byte[] {(byte) i});
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> future : futures) {
                future.get(30, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        java.util.Map<Integer, Integer> counts = new java.util.HashMap<>();
        for (VmMap map : new VmMap[] {a, b}) {
            for (int h : MapInspection.residentHandles(map)) {
                counts.merge(h, 1, Integer::sum);
            }
        }
        counts.forEach((h, n) -> assertThat(store.referenceCount(h)).isEqualTo(n));
        assertThat(store.residentPages()).isEqualTo(counts.size());
        a.terminate();
        b.terminate();
        assertThat(store.residentPages()).isZero();
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void callsOnOneTaskAreLinearizable(Flavor f, ErrorModel m) throws Exception {
        // Writers each own a page and write whole-page patterns; readers must only ever see whole patterns.
        VmMap map = VmTestSupport.newMap(f, m);
        int p = f.pageSize();
        int pages = 4;
        map.allocate(A, (long) pages * p, VmFlags.FIXED);
        byte[][] patterns = new byte[8][];
        for (int i = 0; i < patterns.length; i++) {
            patterns[i] = pattern(p, 200 + i);
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        CountDownLatch start = new CountDownLatch(1);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int w = 0; w < 2; w++) {
                int seed = w;
                futures.add(pool.submit(() -> {
                    start.await();
                    for (int i = 0; i < 400; i++) {
                        int page = (i + seed) % pages;
                        byte[] data = patterns[(i * 3 + seed) % patterns.length];
                        if (i % 3 == 0) {
                            map.write(A + (long) page * p, new ByteArrayInputStream(data), -1, 1L << 30);
                        } else if (i % 3 == 1) {
                            map.write(A + (long) page * p, data);
                        } else {
                            map.copy(A + (long) ((page + 1) % pages) * p, p, A + (long) page * p);
                        }
                    }
                    return null;
                }));
            }
            for (int r = 0; r < 2; r++) {
                futures.add(pool.submit(() -> {
                    start.await();
                    for (int i = 0; i < 400; i++) {
                        byte[] page;
                        try (PageSnapshot s = map.snapshot(A + (long) (i % pages) * p, p)) {
                            page = s.toByteArray();
                        }
                        boolean whole = java.util.Arrays.equals(page, new byte[p]);
                        for (byte[] candidate : patterns) {
                            whole |= java.util.Arrays.equals(page, candidate);
                        }
                        assertThat(whole).as("a page is always one whole pattern").isTrue();
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> future : futures) {
                future.get(30, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(map.store().residentPages()).isLessThanOrEqualTo(pages);
        map.terminate();
        assertThat(map.store().residentPages()).isZero();
    }
}
