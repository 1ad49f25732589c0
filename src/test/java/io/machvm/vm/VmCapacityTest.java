package io.machvm.vm;

import static io.machvm.vm.KernReturn.KERN_INVALID_ADDRESS;
import static io.machvm.vm.KernReturn.KERN_RESOURCE_SHORTAGE;
import static io.machvm.vm.VmTestSupport.assertKern;
import static io.machvm.vm.VmTestSupport.assertSuccess;
import static io.machvm.vm.VmTestSupport.pattern;
import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.store.PageStore;
import io.machvm.store.StoreCapacity;
import java.io.ByteArrayInputStream;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Exhausting the page store is KERN_RESOURCE_SHORTAGE, checked after the Mach checks, and changes nothing. */
class VmCapacityTest {
    static final String CONFIGS = VmSemanticsTest.CONFIGS;
    static final long A = VmSemanticsTest.A;
    static final long B = A + 0x1000_0000L;

    /** Everything a failed call must leave as it was (arrays compared by content). */
    record State(List<RegionInfo> regions, byte[] a, byte[] b, long storePages, long mapPages) {
        static State of(VmMap map, int bytes) {
            return new State(map.regions(), map.read(A, bytes), map.read(B, bytes), map.store().residentPages(),
                    map.residentPages());
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof State s && regions.equals(s.regions) && java.util.Arrays.equals(a, s.a)
                    && java.util.Arrays.equals(b, s.b) && storePages == s.storePages && mapPages == s.mapPages;
        }

        @Override
        public int hashCode() {
            return regions.hashCode();
        }

        @Override
        public String toString() {
            return "State[regions=" + regions + ", a#" + java.util.Arrays.hashCode(a) + ", b#"
                    + java.util.Arrays.hashCode(b) + ", storePages=" + storePages + ", mapPages=" + mapPages + "]";
        }
    }

    /** A map whose store holds exactly {@code pages} pages. */
    static VmMap mapWithPages(Flavor f, ErrorModel m, int pages) {
        return VmTestSupport.newMap(f, m, (long) pages * f.pageSize());
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void aWriteNeedingMorePagesThanAreLeft(Flavor f, ErrorModel m) {
        int p = f.pageSize();
        VmMap map = mapWithPages(f, m, 4);
        map.allocate(A, 8L * p, VmFlags.FIXED);
        map.allocate(B, 8L * p, VmFlags.FIXED);
        map.write(A + 1, pattern(3 * p - 2, 120)); // 3 pages
        State before = State.of(map, 8 * p);
        assertKern(KERN_RESOURCE_SHORTAGE, () -> map.write(B + p - 1, new byte[2])); // 2 pages, 1 left
        assertKern(KERN_RESOURCE_SHORTAGE, () -> map.write(A + 3L * p, new byte[2 * p]));
        assertThat(State.of(map, 8 * p)).isEqualTo(before);
        // The Mach checks come first.
        assertKern(KERN_INVALID_ADDRESS, () -> map.write(A + 7L * p, new byte[2 * p]));
        map.protect(B, p, false, VmProt.READ);
        assertKern(VmTestSupport.protectionCode(map, 2), () -> map.write(B + p - 1, new byte[2]));
        map.protect(B, p, false, VmProt.READ | VmProt.WRITE);
        // Writing pages the task owns alone needs nothing new.
        assertSuccess(() -> map.write(A, pattern(3 * p, 121)));
        assertSuccess(() -> map.write(B, new byte[1]));
        assertKern(KERN_RESOURCE_SHORTAGE, () -> map.write(B + p, new byte[1]));
        // Freeing pages makes room again.
        map.deallocate(A, p);
        assertSuccess(() -> map.write(B + p, new byte[1]));
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void aCopyWhoseCopyOnWriteBreaksExceedTheCapacity(Flavor f, ErrorModel m) {
        int p = f.pageSize();
        VmMap map = mapWithPages(f, m, 4);
        map.allocate(A, 8L * p, VmFlags.FIXED);
        map.allocate(B, 8L * p, VmFlags.FIXED);
        byte[] a = pattern(3 * p, 122);
        map.write(A, a);
        map.copy(A, 3L * p, B); // shared: no new page
        assertThat(map.store().residentPages()).isEqualTo(3);
        State before = State.of(map, 8 * p);
        // Partial pages over the three shared destination pages: three copies needed, one page left.
        assertKern(KERN_RESOURCE_SHORTAGE, () -> map.copy(A + 1, 3L * p - 2, B + 1));
        // Unaligned onto untouched pages: needs fresh pages too.
        assertKern(KERN_RESOURCE_SHORTAGE, () -> map.copy(A + 1, 3L * p, B + 4L * p + 3));
        // Writes over shared pages break sharing too.
        assertKern(KERN_RESOURCE_SHORTAGE, () -> map.write(A, new byte[2 * p]));
        assertThat(State.of(map, 8 * p)).isEqualTo(before);
        // Aligned copies only share, whatever is left.
        assertSuccess(() -> map.copy(A, 3L * p, B + 4L * p));
        assertThat(map.store().residentPages()).isEqualTo(3);
        assertThat(map.read(B + 4L * p, 3L * p)).isEqualTo(a);
        // The source problem is reported, not the shortage.
        assertKern(KERN_INVALID_ADDRESS, () -> map.copy(A + 7L * p, 2L * p, B + 1));
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void aStreamingWriteThatRunsOutChangesNothing(Flavor f, ErrorModel m) {
        int p = f.pageSize();
        VmMap map = mapWithPages(f, m, 4);
        map.allocate(A, 8L * p, VmFlags.FIXED);
        map.allocate(B, 8L * p, VmFlags.FIXED);
        map.write(A, pattern(2 * p, 123));
        State before = State.of(map, 8 * p);
        for (long declared : new long[] {5L * p, -1}) {
            assertKern(KERN_RESOURCE_SHORTAGE,
                    () -> map.write(B + 1, new ByteArrayInputStream(pattern(5 * p, 124)), declared, 1L << 30));
            assertThat(State.of(map, 8 * p)).isEqualTo(before);
        }
        // A streaming write needs fresh pages for the whole range, even where the task owns the pages already.
        assertSuccess(() -> map.write(A, new ByteArrayInputStream(pattern(2 * p, 125)), 2L * p, 1L << 30));
        assertThat(map.read(A, 2L * p)).isEqualTo(pattern(2 * p, 125));
        assertThat(map.store().residentPages()).isEqualTo(2);
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void readOverwriteAcrossStoresRunsOutCleanly(Flavor f, ErrorModel m) {
        int p = f.pageSize();
        Flavor g = f == Flavor.ARM64 ? Flavor.X86_64 : Flavor.ARM64;
        StoreCapacity capacity = new StoreCapacity(3L * Flavor.ARM64.pageSize());
        VmMap src = new VmMap(new PageStore(f.pageSize(), f.pageSize(), capacity), f, m);
        VmMap dst = new VmMap(new PageStore(g.pageSize(), g.pageSize(), capacity), g, m);
        int big = Math.max(f.pageSize(), g.pageSize());
        src.allocate(A, 2L * big, VmFlags.FIXED);
        src.write(A, pattern(2 * big, 126)); // uses 2 of the 3 arm64-page budget
        dst.allocate(A, 4L * big, VmFlags.FIXED);
        List<RegionInfo> regions = dst.regions();
        assertKern(KERN_RESOURCE_SHORTAGE, () -> VmMap.readOverwrite(src, A, 2L * big, dst, A));
        assertThat(dst.regions()).isEqualTo(regions);
        assertThat(dst.residentPages()).isZero();
        assertThat(dst.read(A, 4L * big)).isEqualTo(new byte[4 * big]);
        assertThat(src.read(A, 2L * big)).isEqualTo(pattern(2 * big, 126));
        // What fits, fits.
        assertSuccess(() -> VmMap.readOverwrite(src, A + 1, p / 2, dst, A + 7));
        src.terminate();
        dst.terminate();
        assertThat(capacity.remainingBytes()).isEqualTo(capacity.capacityBytes());
    }
}
