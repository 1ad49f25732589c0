package io.machvm.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PageStoreTest {
    static final int P = 4096;

    static PageStore store(int pages, int slabPages) {
        return new PageStore(P, (long) slabPages * P, new StoreCapacity((long) pages * P));
    }

    static byte[] bytes(int length, int seed) {
        byte[] out = new byte[length];
        new Random(seed).nextBytes(out);
        return out;
    }

    static byte[] read(PageStore s, int handle) {
        byte[] out = new byte[s.pageSize()];
        s.read(handle, 0, out, 0, out.length);
        return out;
    }

    @Test
    void constructorArgumentsAreChecked() {
        StoreCapacity c = new StoreCapacity(1 << 20);
        assertThatThrownBy(() -> new PageStore(3000, 1 << 20, c)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new PageStore(256, 1 << 20, c)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new PageStore(P, P / 2, c)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new PageStore(P, 3 * P, c)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new PageStore(P, 1L << 31, c)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new StoreCapacity(0)).isInstanceOf(IllegalArgumentException.class);
        // 2^31 pages would not fit in int handles.
        assertThatThrownBy(() -> new PageStore(512, 1 << 20, new StoreCapacity(1L << 41)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theZeroPageCostsNothingAndReadsAsZeros() {
        PageStore s = store(16, 4);
        assertThat(read(s, PageStore.NO_PAGE)).isEqualTo(new byte[P]);
        assertThat(s.referenceCount(PageStore.NO_PAGE)).isZero();
        assertThat(s.isShared(PageStore.NO_PAGE)).isFalse();
        s.retain(PageStore.NO_PAGE);
        s.release(PageStore.NO_PAGE);
        s.releaseAll(new int[] {PageStore.NO_PAGE, PageStore.NO_PAGE}, 2);
        assertThat(s.residentPages()).isZero();
        assertThat(s.slabCount()).isZero();
        assertThat(s.capacity().remainingBytes()).isEqualTo(s.capacity().capacityBytes());
        assertThat(s.freePages()).isEqualTo(16);
        ByteBuffer view = s.view(PageStore.NO_PAGE);
        assertThat(view.remaining()).isEqualTo(P);
        assertThat(view.isReadOnly()).isTrue();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            s.writeTo(PageStore.NO_PAGE, 10, 100, out, new byte[7]);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
        assertThat(out.toByteArray()).isEqualTo(new byte[100]);
    }

    @Test
    void allocateGivesDistinctPagesWithOneReferenceAndSlabsOnDemand() {
        PageStore s = store(16, 4);
        int[] out = new int[10];
        s.allocate(out, 1, 9, true);
        assertThat(out[0]).isZero();
        assertThat(Arrays.stream(out, 1, 10).distinct().count()).isEqualTo(9);
        for (int i = 1; i < 10; i++) {
            assertThat(out[i]).isNotEqualTo(PageStore.NO_PAGE);
            assertThat(s.referenceCount(out[i])).isEqualTo(1);
            assertThat(read(s, out[i])).isEqualTo(new byte[P]);
        }
        assertThat(s.residentPages()).isEqualTo(9);
        assertThat(s.sharedPages()).isZero();
        assertThat(s.slabCount()).isEqualTo(3);
        assertThat(s.capacity().capacityBytes() - s.capacity().remainingBytes()).isEqualTo(12L * P);
        assertThat(s.freePages()).isEqualTo(7);
        s.allocate(out, 0, 0, true); // nothing
        assertThat(s.residentPages()).isEqualTo(9);
    }

    @Test
    void referenceCountsAndSharedCounts() {
        PageStore s = store(16, 4);
        int h = s.allocateZeroed();
        assertThat(s.isShared(h)).isFalse();
        s.retain(h);
        assertThat(s.referenceCount(h)).isEqualTo(2);
        assertThat(s.isShared(h)).isTrue();
        assertThat(s.sharedPages()).isEqualTo(1);
        s.retain(h);
        assertThat(s.sharedPages()).isEqualTo(1);
        s.release(h);
        assertThat(s.sharedPages()).isEqualTo(1);
        s.release(h);
        assertThat(s.sharedPages()).isZero();
        assertThat(s.residentPages()).isEqualTo(1);
        s.release(h);
        assertThat(s.residentPages()).isZero();
        assertThatThrownBy(() -> s.retain(h)).isInstanceOf(RuntimeException.class);
    }

    @Test
    void releaseAllHandlesDuplicatesAndZeroPages() {
        PageStore s = store(16, 4);
        int a = s.allocateZeroed();
        int b = s.allocateZeroed();
        s.retain(a);
        s.retain(a);
        assertThat(s.sharedPages()).isEqualTo(1);
        int[] batch = {a, PageStore.NO_PAGE, a, b, a};
        s.releaseAll(batch, batch.length);
        assertThat(s.residentPages()).isZero();
        assertThat(s.sharedPages()).isZero();
        assertThat(s.slabCount()).isZero();
        // Only the first count entries are released.
        int c = s.allocateZeroed();
        int d = s.allocateZeroed();
        s.releaseAll(new int[] {c, d}, 1);
        assertThat(s.referenceCount(d)).isEqualTo(1);
        assertThat(s.residentPages()).isEqualTo(1);
    }

    @Test
    void freedPagesAreZeroWhenReusedZeroed() {
        PageStore s = store(4, 4);
        int[] all = new int[4];
        s.allocate(all, 0, 4, true);
        for (int h : all) {
            s.write(h, 0, bytes(P, h), 0, P);
        }
        int victim = all[2];
        s.release(victim);
        int again = s.allocateZeroed();
        assertThat(again).as("the freed slot is reused").isEqualTo(victim);
        assertThat(read(s, again)).isEqualTo(new byte[P]);
        // The other pages are untouched.
        assertThat(read(s, all[1])).isEqualTo(bytes(P, all[1]));
        // Unzeroed allocation may hand out old bytes; the caller overwrites them all.
        s.release(all[3]);
        int[] one = new int[1];
        s.allocate(one, 0, 1, false);
        assertThat(one[0]).isEqualTo(all[3]);
    }

    @Test
    void exhaustionThrowsAndAllocatesNothing() {
        PageStore s = store(8, 4);
        int[] five = new int[5];
        s.allocate(five, 0, 5, true);
        long free = s.freePages();
        assertThat(free).isEqualTo(3);
        int[] four = new int[4];
        assertThatThrownBy(() -> s.allocate(four, 0, 4, true)).isInstanceOf(StoreExhaustedException.class);
        assertThat(s.residentPages()).isEqualTo(5);
        assertThat(s.freePages()).isEqualTo(3);
        assertThat(four).containsOnly(0);
        s.allocate(four, 0, 3, true); // what is left still works
        assertThat(s.freePages()).isZero();
        assertThatThrownBy(s::allocateZeroed).isInstanceOf(StoreExhaustedException.class);
        s.releaseAll(five, 5);
        s.releaseAll(four, 3);
        assertThat(s.slabCount()).isZero();
        assertThat(s.capacity().remainingBytes()).isEqualTo(s.capacity().capacityBytes());
    }

    @Test
    void aCapacitySharedByTwoStoresIsOneBudget() {
        StoreCapacity c = new StoreCapacity(8L * P);
        PageStore small = new PageStore(P, 2L * P, c);
        PageStore large = new PageStore(4 * P, 4L * P, c);
        int[] out = new int[8];
        large.allocate(out, 0, 1, true); // one 16 KiB slab holding one large page
        assertThat(c.capacityBytes() - c.remainingBytes()).isEqualTo(4L * P);
        assertThatThrownBy(() -> small.allocate(out, 0, 5, true)).isInstanceOf(StoreExhaustedException.class);
        small.allocate(out, 0, 4, true);
        assertThat(c.remainingBytes()).isZero();
        assertThatThrownBy(large::allocateZeroed).isInstanceOf(StoreExhaustedException.class);
        small.releaseAll(out, 4);
        assertThat(large.freePages()).isEqualTo(1);
        assertThat(large.allocateZeroed()).isNotZero();
    }

    @Test
    void slabsOfOneStoreFragmentedByAnotherStillWork() {
        // Capacity 104 KiB, 64 KiB slabs: a slab of 16 small pages, a 32 KiB slab of large pages, then the 8 KiB that
        // are left. When the large pages go, their 32 KiB can only come back as a third slab of the small store.
        StoreCapacity c = new StoreCapacity(104L * 1024);
        PageStore small = new PageStore(4096, 64L * 1024, c);
        PageStore large = new PageStore(16384, 64L * 1024, c);
        int[] smallPages = new int[32];
        small.allocate(smallPages, 0, 16, true);
        int[] largePages = new int[2];
        large.allocate(largePages, 0, 2, true);
        small.allocate(smallPages, 16, 1, true);
        assertThat(c.remainingBytes()).isZero();
        large.releaseAll(largePages, 2);
        assertThat(small.freePages()).isEqualTo(1 + 8);
        small.allocate(smallPages, 17, 9, true);
        assertThat(small.slabCount()).isEqualTo(3);
        assertThat(Arrays.stream(smallPages, 0, 26).distinct().count()).isEqualTo(26);
        for (int i = 0; i < 26; i++) {
            small.write(smallPages[i], 0, bytes(16, i), 0, 16);
        }
        for (int i = 0; i < 26; i++) {
            byte[] head = new byte[16];
            small.read(smallPages[i], 0, head, 0, 16);
            assertThat(head).isEqualTo(bytes(16, i));
        }
        small.releaseAll(smallPages, 26);
        assertThat(small.slabCount()).isZero();
        assertThat(c.remainingBytes()).isEqualTo(c.capacityBytes());
    }

    @Test
    void emptySlabsAreKeptWhileAsManyAreInUseAndAllGoBackWithTheLastPage() {
        PageStore s = store(64, 8);
        int[] out = new int[40];
        s.allocate(out, 0, 40, true);
        assertThat(s.slabCount()).isEqualTo(5);
        // Free every page of slab-sized groups except one page in the first group: one slab in use, so one empty
        // slab is kept for reuse and the other three go back.
        int[] drop = Arrays.copyOfRange(out, 1, 40);
        s.releaseAll(drop, drop.length);
        assertThat(s.slabCount()).isEqualTo(2);
        assertThat(s.emptySlabCount()).isEqualTo(1);
        assertThat(s.capacity().capacityBytes() - s.capacity().remainingBytes()).isEqualTo(16L * P);
        assertThat(s.capacity().emptySlabBytes()).isEqualTo(8L * P);
        assertThat(s.freePages()).isEqualTo(63);
        s.release(out[0]);
        assertThat(s.slabCount()).isZero();
        assertThat(s.emptySlabCount()).isZero();
        assertThat(s.capacity().remainingBytes()).isEqualTo(s.capacity().capacityBytes());
        assertThat(s.capacity().emptySlabBytes()).isZero();
        assertThat(s.freePages()).isEqualTo(64);
    }

    @Test
    void aRewriteReusesTheSlabsItEmptiedAndTheirPagesReadAsZerosWhenAskedTo() {
        PageStore s = store(64, 8);
        int[] old = new int[16];
        s.allocate(old, 0, 16, false);
        for (int h : old) {
            s.write(h, 0, bytes(P, h), 0, P);
        }
        int[] fresh = new int[16];
        s.allocate(fresh, 0, 16, false); // the new copy first, as a streamed write does
        s.releaseAll(old.clone(), 16); // then the old pages go: two slabs empty, two in use
        assertThat(s.slabCount()).isEqualTo(4);
        assertThat(s.emptySlabCount()).isEqualTo(2);

        int[] again = new int[16];
        s.allocate(again, 0, 16, true);
        assertThat(s.slabCount()).as("the kept slabs are reused, none allocated").isEqualTo(4);
        assertThat(s.emptySlabCount()).isZero();
        assertThat(s.capacity().emptySlabBytes()).isZero();
        for (int h : again) {
            assertThat(read(s, h)).as("a reused slot asked zeroed").isEqualTo(new byte[P]);
        }
        s.releaseAll(fresh, 16);
        s.releaseAll(again, 16);
        assertThat(s.slabCount()).isZero();
        assertThat(s.capacity().remainingBytes()).isEqualTo(s.capacity().capacityBytes());
    }

    @Test
    void aStoreGetsBackTheEmptySlabsAnotherStoreKeeps() {
        StoreCapacity c = new StoreCapacity(32L * P);
        PageStore small = new PageStore(P, 8L * P, c);
        PageStore large = new PageStore(4 * P, 8L * P, c);
        int[] smallPages = new int[32];
        small.allocate(smallPages, 0, 32, true); // the whole budget, four slabs
        small.releaseAll(Arrays.copyOfRange(smallPages, 16, 32), 16); // two slabs empty, kept
        assertThat(small.emptySlabCount()).isEqualTo(2);
        assertThat(c.remainingBytes()).isZero();
        assertThat(large.freePages()).as("what the other store keeps empty counts as free").isEqualTo(4);

        int[] largePages = new int[4];
        large.allocate(largePages, 0, 4, true);
        assertThat(small.emptySlabCount()).as("given back on demand").isZero();
        assertThat(small.slabCount()).isEqualTo(2);
        assertThat(large.slabCount()).isEqualTo(2);
        assertThat(c.remainingBytes()).isZero();
        assertThatThrownBy(large::allocateZeroed).isInstanceOf(StoreExhaustedException.class);
        assertThat(large.residentPages()).isEqualTo(4);

        small.releaseAll(smallPages, 16);
        large.releaseAll(largePages, 4);
        assertThat(c.remainingBytes()).isEqualTo(c.capacityBytes());
        assertThat(c.emptySlabBytes()).isZero();
    }

    @Test
    void twoStoresAskingEachOtherForTheirEmptySlabsAtOnceDoNotDeadlock() throws Exception {
        StoreCapacity c = new StoreCapacity(64L * P);
        PageStore a = new PageStore(P, 4L * P, c);
        PageStore b = new PageStore(2 * P, 8L * P, c);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> runs = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                PageStore s = t % 2 == 0 ? a : b;
                int seed = t;
                runs.add(pool.submit(() -> {
                    Random r = new Random(seed);
                    int[] pages = new int[24];
                    for (int i = 0; i < 3000; i++) {
                        int n = 1 + r.nextInt(24);
                        try {
                            s.allocate(pages, 0, n, r.nextBoolean());
                        } catch (StoreExhaustedException full) {
                            continue;
                        }
                        s.releaseAll(pages, n);
                    }
                }));
            }
            for (Future<?> run : runs) {
                run.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(a.residentPages()).isZero();
        assertThat(b.residentPages()).isZero();
        assertThat(a.slabCount()).isZero();
        assertThat(b.slabCount()).isZero();
        assertThat(c.remainingBytes()).isEqualTo(c.capacityBytes());
        assertThat(c.emptySlabBytes()).isZero();
    }

    @Test
    void aCapacityThatIsNotAWholeNumberOfSlabs() {
        PageStore s = store(10, 4); // slabs of 4, 4 and 2 pages
        int[] out = new int[10];
        s.allocate(out, 0, 10, true);
        assertThat(s.slabCount()).isEqualTo(3);
        assertThatThrownBy(s::allocateZeroed).isInstanceOf(StoreExhaustedException.class);
        s.releaseAll(out, 10);
        s.allocate(out, 0, 10, false);
        assertThat(s.residentPages()).isEqualTo(10);
    }

    @Test
    void bytesAndCopies() {
        PageStore s = store(16, 4);
        int a = s.allocateZeroed();
        int b = s.allocateZeroed();
        byte[] data = bytes(P, 1);
        s.write(a, 0, data, 0, P);
        s.write(b, 10, ByteBuffer.wrap(bytes(100, 2)));
        byte[] head = new byte[110];
        s.read(b, 0, head, 0, 110);
        assertThat(Arrays.copyOfRange(head, 10, 110)).isEqualTo(bytes(100, 2));
        assertThat(Arrays.copyOfRange(head, 0, 10)).isEqualTo(new byte[10]);
        s.copy(a, 100, b, 200, 300);
        byte[] page = read(s, b);
        assertThat(Arrays.copyOfRange(page, 200, 500)).isEqualTo(Arrays.copyOfRange(data, 100, 400));
        s.copy(PageStore.NO_PAGE, 0, b, 200, 50);
        assertThat(Arrays.copyOfRange(read(s, b), 200, 250)).isEqualTo(new byte[50]);
        s.zero(a, 1, 2);
        assertThat(read(s, a)[0]).isEqualTo(data[0]);
        assertThat(read(s, a)[1]).isZero();
        assertThat(read(s, a)[3]).isEqualTo(data[3]);
        ByteBuffer view = s.view(a);
        assertThat(view.remaining()).isEqualTo(P);
        assertThatThrownBy(() -> view.put(0, (byte) 1)).isInstanceOf(ReadOnlyBufferException.class);
        assertThat(view.get(5)).isEqualTo(data[5]);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, -1, 7, -7, 100, -100, 2048, -2048})
    void copyWithinOnePageIsAMemmove(int shift) {
        PageStore s = store(4, 4);
        int h = s.allocateZeroed();
        byte[] model = bytes(P, 3);
        s.write(h, 0, model, 0, P);
        int length = 1500;
        int from = shift < 0 ? 2500 : 100;
        s.copy(h, from, h, from + shift, length);
        System.arraycopy(model, from, model, from + shift, length);
        assertThat(read(s, h)).isEqualTo(model);
    }

    @Test
    void copyFromAnotherStore() {
        StoreCapacity c = new StoreCapacity(1 << 20);
        PageStore x = new PageStore(4096, 1 << 16, c);
        PageStore y = new PageStore(16384, 1 << 16, c);
        int src = x.allocateZeroed();
        x.write(src, 0, bytes(4096, 4), 0, 4096);
        int dst = y.allocateZeroed();
        y.copyFrom(x, src, 1, dst, 5000, 4095);
        byte[] got = new byte[4095];
        y.read(dst, 5000, got, 0, 4095);
        assertThat(got).isEqualTo(Arrays.copyOfRange(bytes(4096, 4), 1, 4096));
        y.copyFrom(x, PageStore.NO_PAGE, 0, dst, 5000, 10);
        y.read(dst, 5000, got, 0, 10);
        assertThat(Arrays.copyOfRange(got, 0, 10)).isEqualTo(new byte[10]);
        int other = y.allocateZeroed();
        y.write(other, 0, bytes(16384, 5), 0, 16384);
        y.copyFrom(y, other, 0, dst, 0, 16384);
        byte[] all = new byte[16384];
        y.read(dst, 0, all, 0, 16384);
        assertThat(all).isEqualTo(bytes(16384, 5));
    }

    @Test
    void concurrentAllocationAndReleaseKeepTheCountsConsistent() throws Exception {
        PageStore s = store(4096, 64);
        int threads = 8;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch start = new CountDownLatch(1);
        Set<Integer> live = ConcurrentHashMap.newKeySet();
        List<Future<?>> futures = new ArrayList<>();
        try {
            for (int t = 0; t < threads; t++) {
                int seed = t;
                futures.add(pool.submit(() -> {
                    Random random = new Random(seed);
                    List<int[]> mine = new ArrayList<>(); // {handle, references, stamp}
                    start.await();
                    for (int i = 0; i < 20_000; i++) {
                        int op = random.nextInt(10);
                        if (op < 4 || mine.isEmpty()) {
                            int n = 1 + random.nextInt(8);
                            int[] out = new int[n];
                            try {
                                s.allocate(out, 0, n, random.nextBoolean());
                            } catch (StoreExhaustedException e) {
                                continue;
                            }
                            for (int h : out) {
                                assertThat(live.add(h)).as("handle %d handed out twice", h).isTrue();
                                int stamp = random.nextInt();
                                s.write(h, 0, ByteBuffer.allocate(4).putInt(0, stamp));
                                mine.add(new int[] {h, 1, stamp});
                            }
                        } else if (op < 6) {
                            int[] page = mine.get(random.nextInt(mine.size()));
                            s.retain(page[0]);
                            page[1]++;
                        } else {
                            int index = random.nextInt(mine.size());
                            int[] page = mine.get(index);
                            byte[] stamp = new byte[4];
                            s.read(page[0], 0, stamp, 0, 4);
                            assertThat(ByteBuffer.wrap(stamp).getInt()).as("page content survives").isEqualTo(page[2]);
                            assertThat(s.referenceCount(page[0])).isEqualTo(page[1]);
                            if (--page[1] == 0) {
                                mine.remove(index);
                                live.remove(page[0]);
                            }
                            if (random.nextBoolean()) {
                                s.release(page[0]);
                            } else {
                                s.releaseAll(new int[] {page[0]}, 1);
                            }
                        }
                    }
                    for (int[] page : mine) {
                        live.remove(page[0]);
                        for (int r = 0; r < page[1]; r++) {
                            s.release(page[0]);
                        }
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : futures) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(s.residentPages()).isZero();
        assertThat(s.sharedPages()).isZero();
        assertThat(s.slabCount()).isZero();
        assertThat(s.capacity().remainingBytes()).isEqualTo(s.capacity().capacityBytes());
        assertThat(s.freePages()).isEqualTo(4096);
        Set<Integer> handles = new HashSet<>();
        int[] all = new int[4096];
        s.allocate(all, 0, 4096, true);
        for (int h : all) {
            handles.add(h);
        }
        assertThat(handles).hasSize(4096);
    }
}
