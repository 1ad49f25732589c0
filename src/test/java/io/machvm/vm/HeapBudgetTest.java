package io.machvm.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machvm.store.Budget;
import io.machvm.store.PageStore;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Every heap structure a call can make grow is counted against the map's budgets (security findings F1, F2, F4, F6):
 * beyond one, the call fails with {@code KERN_RESOURCE_SHORTAGE} and changes nothing, and whatever a map charged is
 * given back when it terminates.
 */
class HeapBudgetTest {
    private static final Flavor ARM = Flavor.ARM64;
    /** One page-table leaf covers 1,024 pages: 16 MiB of an arm64 map. */
    private static final long LEAF_SPAN = 1024L * 16384;
    private static final long MIN = 0x1_0000_0000L;

    private final PageStore store = VmTestSupport.newStore(ARM, 64L << 20);

    private static MapBudgets budgets(long entries, long nodes, long bytes) {
        return new MapBudgets(Budget.root("entries", entries), Budget.root("nodes", nodes),
                Budget.root("bytes", bytes));
    }

    private VmMap map(MapBudgets budgets) {
        return new VmMap(store, ARM, ErrorModel.DOCUMENTED, budgets);
    }

    private static void assertFreed(MapBudgets b) {
        assertThat(b.entries().usedUnits()).isZero();
        assertThat(b.pageTableNodes().usedUnits()).isZero();
        assertThat(b.residentBytes().usedUnits()).isZero();
    }

    private static void assertShortage(Runnable call) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(KernException.class,
                e -> assertThat(e.kern()).isEqualTo(KernReturn.KERN_RESOURCE_SHORTAGE));
    }

    /**
     * F1: one written page, doubled with vm_copy so that each copy-on-write reference lands in a page-table leaf of
     * its own, costs a leaf of heap per reference while the store counts one page. The doubling that would pass the
     * page-table budget is refused and changes nothing.
     */
    @Test
    void copyOnWriteReferencesSpreadOverLeavesAreBoundedByThePageTableBudget() {
        MapBudgets b = budgets(Budget.UNLIMITED, 300, Budget.UNLIMITED);
        VmMap map = map(b);
        long base = map.allocate(0, 1L << 42, VmFlags.ANYWHERE);
        map.write(base, new byte[] {42});
        KernException refused = null;
        int k = 0;
        for (; k < 18 && refused == null; k++) {
            long size = LEAF_SPAN << k;
            int[] before = MapInspection.residentHandles(map);
            long nodesBefore = b.pageTableNodes().usedUnits();
            try {
                map.copy(base, size, base + size);
            } catch (KernException e) {
                refused = e;
                assertThat(MapInspection.residentHandles(map)).isEqualTo(before);
                assertThat(b.pageTableNodes().usedUnits()).isEqualTo(nodesBefore);
            }
            assertThat(b.pageTableNodes().usedUnits()).isLessThanOrEqualTo(300);
        }
        assertThat(refused).isNotNull();
        assertThat(refused.kern()).isEqualTo(KernReturn.KERN_RESOURCE_SHORTAGE);
        assertThat(k).isLessThan(10); // 2^8 references fill 300 nodes
        assertThat(store.residentPages()).isEqualTo(1);
        map.terminate();
        assertFreed(b);
        assertThat(store.residentPages()).isZero();
    }

    /** The same spread through two tasks under one node budget: the node level refuses what neither task could. */
    @Test
    void theNodeLevelBoundsTasksTogether() {
        Budget node = Budget.root("node nodes", 160);
        MapBudgets one = new MapBudgets(Budget.root("e", Budget.UNLIMITED), node.child("task nodes", 120),
                Budget.root("b", Budget.UNLIMITED));
        MapBudgets two = new MapBudgets(Budget.root("e", Budget.UNLIMITED), node.child("task nodes", 120),
                Budget.root("b", Budget.UNLIMITED));
        VmMap a = map(one);
        VmMap c = map(two);
        long baseA = a.allocate(0, 1L << 42, VmFlags.ANYWHERE);
        for (long i = 0; i < 80; i++) {
            a.write(baseA + i * LEAF_SPAN, new byte[] {1});
        }
        long baseC = c.allocate(0, 1L << 42, VmFlags.ANYWHERE);
        long written = 0;
        try {
            for (; written < 100; written++) {
                c.write(baseC + written * LEAF_SPAN, new byte[] {1});
            }
        } catch (KernException e) {
            assertThat(e.kern()).isEqualTo(KernReturn.KERN_RESOURCE_SHORTAGE);
            assertThat(e.getMessage()).contains("node nodes");
        }
        assertThat(written).isLessThan(80);
        assertThat(node.usedUnits()).isLessThanOrEqualTo(160);
        assertThat(two.pageTableNodes().usedUnits()).isLessThan(120);
        a.terminate();
        c.terminate();
        assertThat(node.usedUnits()).isZero();
    }

    /** F2: entries beyond the budget are refused, whether made by allocation or by a split. */
    @Test
    void mapEntriesAreBounded() {
        MapBudgets b = budgets(10, Budget.UNLIMITED, Budget.UNLIMITED);
        VmMap map = map(b);
        KernException refused = null;
        for (int made = 0; refused == null && made < 100; made++) {
            try {
                map.allocate(0, 3 * 16384, VmFlags.ANYWHERE);
            } catch (KernException e) {
                refused = e;
            }
        }
        assertThat(refused).isNotNull();
        assertThat(refused.kern()).isEqualTo(KernReturn.KERN_RESOURCE_SHORTAGE);
        assertThat(map.regionCount()).isEqualTo(10);
        assertThat(b.entries().usedUnits()).isEqualTo(10);
        map.deallocate(map.regions().get(9).address(), 3 * 16384);
        List<RegionInfo> before = map.regions();
        RegionInfo first = before.get(0);
        // Protecting the middle page would cut one entry into three: 11 entries, over the budget by one.
        assertShortage(() -> map.protect(first.address() + 16384, 16384, false, VmProt.READ));
        assertShortage(() -> map.inherit(first.address() + 16384, 16384, VmInherit.NONE));
        assertThat(map.regions()).isEqualTo(before);
        map.protect(first.address(), 16384, false, VmProt.READ); // one cut: 10 entries
        assertThat(map.regionCount()).isEqualTo(10);
        map.terminate();
        assertFreed(b);
    }

    /** F2/F4: a fork whose child cannot hold a copy of the parent is refused before anything changes. */
    @Test
    void aForkBeyondTheBudgetsChangesNothing() {
        Budget node = Budget.root("node entries", 30);
        MapBudgets parentBudgets = new MapBudgets(node.child("task", 20), Budget.root("n", Budget.UNLIMITED),
                Budget.root("b", Budget.UNLIMITED));
        VmMap parent = map(parentBudgets);
        for (int i = 0; i < 16; i++) {
            long at = parent.allocate(0, 16384, VmFlags.ANYWHERE);
            parent.write(at, new byte[] {(byte) i});
            parent.protect(at, 16384, false, i % 2 == 0 ? VmProt.READ : VmProt.READ | VmProt.WRITE);
        }
        int regions = parent.regionCount();
        long resident = store.residentPages();
        MapBudgets childBudgets = new MapBudgets(node.child("task", 20), Budget.root("n", Budget.UNLIMITED),
                Budget.root("b", Budget.UNLIMITED));
        assertShortage(() -> parent.fork(childBudgets));
        assertFreed(childBudgets);
        assertThat(parent.regionCount()).isEqualTo(regions);
        assertThat(store.residentPages()).isEqualTo(resident);
        assertThat(store.sharedPages()).isZero();
        parent.terminate();
        assertThat(node.usedUnits()).isZero();
        assertThat(store.residentPages()).isZero();
    }

    /** F2: an image with more entries than the budget allows is refused as soon as its entry count is read. */
    @Test
    void aRestoreBeyondTheBudgetIsRefusedAndHoldsNothing() throws IOException {
        VmMap source = map(MapBudgets.unlimited());
        for (int i = 0; i < 12; i++) {
            long at = source.allocate(0, 16384, VmFlags.ANYWHERE);
            source.write(at, new byte[] {(byte) i});
            source.protect(at, 16384, false, i % 2 == 0 ? VmProt.READ : VmProt.READ | VmProt.WRITE);
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TaskImage image = source.exportImage("x", false)) {
            image.writeTo(bytes);
        }
        source.terminate();
        MapBudgets small = budgets(11, Budget.UNLIMITED, Budget.UNLIMITED);
        assertShortage(() -> {
            try {
                TaskImage.read(new ByteArrayInputStream(bytes.toByteArray()), f -> store, small);
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        });
        assertFreed(small);
        assertThat(store.residentPages()).isZero();
        MapBudgets enough = budgets(12, Budget.UNLIMITED, Budget.UNLIMITED);
        VmMap restored = TaskImage.read(new ByteArrayInputStream(bytes.toByteArray()), f -> store, enough).map();
        assertThat(restored.regionCount()).isEqualTo(12);
        restored.terminate();
        assertFreed(enough);
    }

    /**
     * An aligned copy is bounded by what it really adds: over a destination as resident as its source it adds no page
     * and fits a budget that is already full; onto untouched memory it adds a page per source page, and beyond the
     * budget it is refused and changes nothing.
     */
    @Test
    void anAlignedCopyIsBoundedByWhatItAdds() {
        long range = 4 * 16384;
        MapBudgets b = budgets(Budget.UNLIMITED, Budget.UNLIMITED, 2 * range);
        VmMap map = map(b);
        long source = map.allocate(0, range, VmFlags.ANYWHERE);
        long dest = map.allocate(0, range, VmFlags.ANYWHERE);
        long untouched = map.allocate(0, range, VmFlags.ANYWHERE);
        byte[] bytes = new byte[(int) range];
        java.util.Arrays.fill(bytes, (byte) 7);
        map.write(source, bytes);
        map.write(dest, new byte[(int) range]);
        assertThat(b.residentBytes().usedUnits()).isEqualTo(2 * range);

        assertThat(map.copy(source, range, dest)).isEqualTo(range);
        assertThat(map.read(dest, range)).isEqualTo(bytes);
        assertThat(store.residentPages()).isEqualTo(4);
        assertThat(b.residentBytes().usedUnits()).isEqualTo(2 * range);

        int[] handles = MapInspection.residentHandles(map);
        int[] dispositions = map.pageDispositions(source, 3 * range);
        long nodes = b.pageTableNodes().usedUnits();
        assertShortage(() -> map.copy(source, range, untouched));
        assertThat(MapInspection.residentHandles(map)).isEqualTo(handles);
        assertThat(map.pageDispositions(source, 3 * range)).isEqualTo(dispositions);
        assertThat(b.residentBytes().usedUnits()).isEqualTo(2 * range);
        assertThat(b.pageTableNodes().usedUnits()).isEqualTo(nodes);
        map.terminate();
        assertFreed(b);
        assertThat(store.residentPages()).isZero();
    }

    /** Resident bytes: pages written, copied or forked count; a streamed write beyond them is refused. */
    @Test
    void residentBytesAreCharged() throws IOException {
        MapBudgets b = budgets(Budget.UNLIMITED, Budget.UNLIMITED, 4 * 16384);
        VmMap map = map(b);
        long at = map.allocate(0, 16 * 16384, VmFlags.ANYWHERE);
        map.write(at, new byte[3 * 16384]);
        assertThat(b.residentBytes().usedUnits()).isEqualTo(3 * 16384);
        assertShortage(() -> map.write(at + 3 * 16384, new byte[2 * 16384]));
        assertShortage(() -> {
            try {
                map.write(at + 3 * 16384, new ByteArrayInputStream(new byte[2 * 16384]), -1, 1 << 30);
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        });
        assertThat(store.residentPages()).isEqualTo(3);
        assertThat(b.residentBytes().usedUnits()).isEqualTo(3 * 16384);
        map.write(at + 3 * 16384, new ByteArrayInputStream(new byte[16384]), 16384, 1 << 30);
        assertThat(b.residentBytes().usedUnits()).isEqualTo(4 * 16384);
        map.deallocate(at, 2 * 16384);
        assertThat(b.residentBytes().usedUnits()).isEqualTo(2 * 16384);
        map.terminate();
        assertFreed(b);
    }

    /**
     * F6: the pages an unfinished streamed write holds count against the task, and terminating the task frees them
     * at once, without waiting for the writer.
     */
    @Test
    void anUnfinishedUploadIsChargedAndFreedWhenTheTaskTerminates() throws Exception {
        MapBudgets b = budgets(Budget.UNLIMITED, Budget.UNLIMITED, Budget.UNLIMITED);
        VmMap map = map(b);
        long at = map.allocate(0, 64 * 16384, VmFlags.ANYWHERE);
        CountDownLatch sent = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        InputStream trickle = new InputStream() {
            private int given;

            @Override
            public int read() {
                throw new UnsupportedOperationException();
            }

            @Override
            public int read(byte[] buffer, int offset, int length) throws IOException {
                if (given >= 8 * 16384) {
                    sent.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        throw new IOException(e);
                    }
                    buffer[offset] = 1;
                    return 1;
                }
                int n = Math.min(length, 8 * 16384 - given);
                given += n;
                return n;
            }
        };
        CompletableFuture<Long> upload = CompletableFuture.supplyAsync(() -> {
            try {
                return map.write(at, trickle, 32 * 16384, 1 << 30);
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        });
        assertThat(sent.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(store.residentPages()).isEqualTo(8);
        assertThat(b.residentBytes().usedUnits()).isEqualTo(8 * 16384);
        map.terminate();
        assertThat(store.residentPages()).isZero(); // freed now, while the writer still waits
        assertThat(b.residentBytes().usedUnits()).isZero();
        release.countDown();
        assertThatThrownBy(() -> upload.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(KernException.class)
                .cause().satisfies(e -> assertThat(((KernException) e).kern())
                        .isEqualTo(KernReturn.MACH_SEND_INVALID_DEST));
        assertThat(store.residentPages()).isZero();
        assertFreed(b);
    }

    /** An atomic group's checkpoint is charged while it lives, and a group that fails leaves the charges as before. */
    @Test
    void atomicGroupsAndForksSettleTheirCharges() {
        MapBudgets b = budgets(Budget.UNLIMITED, Budget.UNLIMITED, Budget.UNLIMITED);
        VmMap map = map(b);
        long at = map.allocate(0, 1L << 40, VmFlags.ANYWHERE);
        for (int i = 0; i < 20; i++) {
            map.write(at + i * LEAF_SPAN, new byte[] {(byte) i});
        }
        long entries = b.entries().usedUnits();
        long nodes = b.pageTableNodes().usedUnits();
        long bytes = b.residentBytes().usedUnits();
        assertThatThrownBy(() -> map.atomically(() -> {
            map.write(at + 40 * LEAF_SPAN, new byte[] {1});
            map.protect(at, 16384, false, VmProt.READ);
            throw new KernException(KernReturn.KERN_FAILURE, "rolled back");
        })).isInstanceOf(KernException.class);
        assertThat(b.entries().usedUnits()).isEqualTo(entries);
        assertThat(b.pageTableNodes().usedUnits()).isEqualTo(nodes);
        assertThat(b.residentBytes().usedUnits()).isEqualTo(bytes);
        map.inherit(at, 1L << 39, VmInherit.SHARE);
        MapBudgets childBudgets = budgets(Budget.UNLIMITED, Budget.UNLIMITED, Budget.UNLIMITED);
        VmMap child = map.fork(childBudgets);
        child.write(at + 2 * LEAF_SPAN + 5, new byte[] {7});
        child.write(at + (1L << 39) + 5, new byte[] {7});
        map.terminate();
        child.terminate();
        assertFreed(b);
        assertFreed(childBudgets);
        assertThat(store.residentPages()).isZero();
    }
}
