package io.machvm.vm;

import static io.machvm.vm.VmTestSupport.pattern;
import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.store.PageStore;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Copy-on-write is invisible: after a copy the two ranges are independent, whatever happens next. */
class VmCopyOnWriteTest {
    static final String CONFIGS = VmSemanticsTest.CONFIGS;
    static final long A = VmSemanticsTest.A;
    static final long B = A + 0x1000_0000L;
    static final long C = A + 0x2000_0000L;

    private static void assertStoreMatchesMap(VmMap map) {
        // One task on its own store: every store reference is one of the map's pages.
        PageStore store = map.store();
        int[] handles = MapInspection.residentHandles(map);
        assertThat(handles).hasSize((int) map.residentPages());
        assertThat(Arrays.stream(handles).distinct().count()).isEqualTo(store.residentPages());
        long shared = Arrays.stream(handles).boxed()
                .collect(java.util.stream.Collectors.groupingBy(h -> h, java.util.stream.Collectors.counting()))
                .values().stream().filter(n -> n > 1).count();
        assertThat(store.sharedPages()).isEqualTo(shared);
        for (int h : handles) {
            assertThat(store.referenceCount(h)).isEqualTo((int) Arrays.stream(handles).filter(x -> x == h).count());
        }
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void writingTheSourceAfterACopyDoesNotShowInTheDestination(Flavor f, ErrorModel m) {
        VmMap map = VmTestSupport.newMap(f, m);
        int p = f.pageSize();
        map.allocate(A, 4L * p, VmFlags.FIXED);
        map.allocate(B, 4L * p, VmFlags.FIXED);
        byte[] data = pattern(4 * p, 60);
        map.write(A, data);
        long before = map.store().residentPages();
        map.copy(A, 4L * p, B);
        assertThat(map.store().residentPages()).as("whole pages are shared, not copied").isEqualTo(before);
        assertThat(map.store().sharedPages()).isEqualTo(4);
        map.write(A + p + 3, pattern(2 * p, 61));
        assertThat(map.read(B, 4L * p)).isEqualTo(data);
        assertThat(map.store().sharedPages()).isEqualTo(1); // pages 1 and 2 (and 3, touched) were copied
        assertStoreMatchesMap(map);
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void writingTheDestinationAfterACopyDoesNotShowInTheSource(Flavor f, ErrorModel m) {
        VmMap map = VmTestSupport.newMap(f, m);
        int p = f.pageSize();
        map.allocate(A, 4L * p, VmFlags.FIXED);
        map.allocate(B, 4L * p, VmFlags.FIXED);
        byte[] data = pattern(4 * p, 62);
        map.write(A, data);
        map.copy(A, 4L * p, B);
        byte[] mark = pattern(3 * p, 63);
        map.write(B + 5, mark);
        assertThat(map.read(A, 4L * p)).isEqualTo(data);
        byte[] expected = data.clone();
        System.arraycopy(mark, 0, expected, 5, mark.length);
        assertThat(map.read(B, 4L * p)).isEqualTo(expected);
        assertStoreMatchesMap(map);
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void copiesOfCopiesStayIndependent(Flavor f, ErrorModel m) {
        VmMap map = VmTestSupport.newMap(f, m);
        int p = f.pageSize();
        for (long at : new long[] {A, B, C}) {
            map.allocate(at, 3L * p, VmFlags.FIXED);
        }
        byte[] a = pattern(3 * p, 64);
        map.write(A, a);
        map.copy(A, 3L * p, B);
        map.copy(B, 3L * p, C);
        assertThat(map.store().referenceCount(MapInspection.residentHandles(map)[0])).isEqualTo(3);
        byte[] b = pattern(p, 65);
        map.write(B + p, b);
        byte[] c = pattern(10, 66);
        map.write(C + 2L * p + 1, c);
        map.write(A, new byte[] {7});
        byte[] expectA = a.clone();
        expectA[0] = 7;
        byte[] expectB = a.clone();
        System.arraycopy(b, 0, expectB, p, p);
        byte[] expectC = a.clone();
        System.arraycopy(c, 0, expectC, 2 * p + 1, 10);
        assertThat(map.read(A, 3L * p)).isEqualTo(expectA);
        assertThat(map.read(B, 3L * p)).isEqualTo(expectB);
        assertThat(map.read(C, 3L * p)).isEqualTo(expectC);
        assertStoreMatchesMap(map);
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void copyingUntouchedZeroPagesOverDataGivesZeros(Flavor f, ErrorModel m) {
        VmMap map = VmTestSupport.newMap(f, m);
        int p = f.pageSize();
        map.allocate(A, 4L * p, VmFlags.FIXED); // untouched
        map.allocate(B, 4L * p, VmFlags.FIXED);
        map.write(B, pattern(4 * p, 67));
        map.copy(A, 2L * p, B); // whole pages
        map.copy(A + 1, p, B + 2L * p + 7); // partial pages
        byte[] expected = pattern(4 * p, 67);
        Arrays.fill(expected, 0, 2 * p, (byte) 0);
        Arrays.fill(expected, 2 * p + 7, 3 * p + 7, (byte) 0);
        assertThat(map.read(B, 4L * p)).isEqualTo(expected);
        assertThat(map.residentPages()).isEqualTo(2); // the zero pages are not resident any more
        // Zeros onto zeros costs nothing.
        map.allocate(C, 4L * p, VmFlags.FIXED);
        map.copy(A + 3, 3L * p, C + 1);
        assertThat(map.residentPages()).isEqualTo(2);
        assertThat(map.read(C, 4L * p)).isEqualTo(new byte[4 * p]);
        assertStoreMatchesMap(map);
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void copyThenDeallocateTheSource(Flavor f, ErrorModel m) {
        VmMap map = VmTestSupport.newMap(f, m);
        int p = f.pageSize();
        map.allocate(A, 3L * p, VmFlags.FIXED);
        map.allocate(B, 4L * p, VmFlags.FIXED);
        byte[] data = pattern(3 * p, 68);
        map.write(A, data);
        map.copy(A, 3L * p, B);
        map.copy(A + 1, p + 1, B + 3L * p - 1); // unaligned: bytes moved
        map.deallocate(A, 3L * p);
        assertThat(map.store().sharedPages()).isZero();
        byte[] expected = VmTestSupport.concat(data, new byte[p]);
        System.arraycopy(data, 1, expected, 3 * p - 1, p + 1);
        assertThat(map.read(B, 4L * p)).isEqualTo(expected);
        map.allocate(A, 3L * p, VmFlags.FIXED);
        assertThat(map.read(A, 3L * p)).isEqualTo(new byte[3 * p]);
        assertStoreMatchesMap(map);
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void copyOverASharedDestinationBreaksOnlyThatSharing(Flavor f, ErrorModel m) {
        VmMap map = VmTestSupport.newMap(f, m);
        int p = f.pageSize();
        map.allocate(A, 2L * p, VmFlags.FIXED);
        map.allocate(B, 2L * p, VmFlags.FIXED);
        map.allocate(C, 2L * p, VmFlags.FIXED);
        byte[] a = pattern(2 * p, 69);
        map.write(A, a);
        map.copy(A, 2L * p, B); // B shares A's pages
        byte[] c = pattern(2 * p, 70);
        map.write(C, c);
        map.copy(C + 1, p, B + 1); // partial page over a shared page
        byte[] expectB = a.clone();
        System.arraycopy(c, 1, expectB, 1, p);
        assertThat(map.read(A, 2L * p)).isEqualTo(a);
        assertThat(map.read(B, 2L * p)).isEqualTo(expectB);
        map.copy(C, 2L * p, A); // whole pages over pages shared with B
        assertThat(map.read(A, 2L * p)).isEqualTo(c);
        assertThat(map.read(B, 2L * p)).isEqualTo(expectB);
        assertStoreMatchesMap(map);
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void protectAndOverwriteDoNotDisturbSharing(Flavor f, ErrorModel m) {
        VmMap map = VmTestSupport.newMap(f, m);
        int p = f.pageSize();
        map.allocate(A, 2L * p, VmFlags.FIXED);
        map.allocate(B, 2L * p, VmFlags.FIXED);
        byte[] a = pattern(2 * p, 71);
        map.write(A, a);
        map.copy(A, 2L * p, B);
        map.protect(A, 2L * p, false, VmProt.READ);
        map.protect(A, 2L * p, false, VmProt.READ | VmProt.WRITE | VmProt.COPY);
        map.allocate(B, p, VmFlags.FIXED | VmFlags.OVERWRITE);
        assertThat(map.read(A, 2L * p)).isEqualTo(a);
        assertThat(map.read(B, 2L * p)).isEqualTo(VmTestSupport.concat(new byte[p], Arrays.copyOfRange(a, p, 2 * p)));
        assertStoreMatchesMap(map);
    }
}
