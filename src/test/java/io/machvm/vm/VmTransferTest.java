package io.machvm.vm;

import static io.machvm.vm.KernReturn.KERN_INVALID_ADDRESS;
import static io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT;
import static io.machvm.vm.KernReturn.KERN_PROTECTION_FAILURE;
import static io.machvm.vm.KernReturn.MACH_SEND_INVALID_DEST;
import static io.machvm.vm.VmProt.EXECUTE;
import static io.machvm.vm.VmProt.NONE;
import static io.machvm.vm.VmProt.READ;
import static io.machvm.vm.VmProt.WRITE;
import static io.machvm.vm.VmTestSupport.assertKern;
import static io.machvm.vm.VmTestSupport.assertSuccess;
import static io.machvm.vm.VmTestSupport.pattern;
import static io.machvm.vm.VmTestSupport.protectionCode;
import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.store.PageStore;
import io.machvm.store.StoreCapacity;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** SEMANTICS.md for the calls that move bytes: vm_read, vm_write, vm_copy, vm_read_overwrite. */
class VmTransferTest {
    static final String CONFIGS = VmSemanticsTest.CONFIGS;
    static final long A = VmSemanticsTest.A;
    static final int RW = READ | WRITE;

    /** A map with {@code pages} pages at A filled with a pattern; returns the pattern. */
    static byte[] filled(VmMap map, int pages, int seed) {
        long p = map.flavor().pageSize();
        map.allocate(A, pages * p, VmFlags.FIXED);
        byte[] data = pattern((int) (pages * p), seed);
        map.write(A, data);
        return data;
    }

    // ==================================================================== vm_read

    @Nested
    class Read {
        @ParameterizedTest
        @MethodSource(CONFIGS)
        void sizeZeroSucceedsAnywhere(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            for (long address : new long[] {0, -1L, A, f.maxAddress(), 0x8000000000000000L}) {
                assertThat(map.read(address, 0)).isEmpty();
                try (PageSnapshot s = map.snapshot(address, 0)) {
                    assertThat(s.size()).isZero();
                    assertThat(s.toByteArray()).isEmpty();
                }
            }
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void sizeAbove32BitsIsInvalidArgumentCheckedFirst(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            map.allocate(A, f.pageSize(), VmFlags.FIXED);
            for (long size : new long[] {0x100000000L, -1L, 0x8000000000000000L, 0x100000001L}) {
                assertKern(KERN_INVALID_ARGUMENT, () -> map.read(A, size));
                assertKern(KERN_INVALID_ARGUMENT, () -> map.read(0, size));
                assertKern(KERN_INVALID_ARGUMENT, () -> map.read(-1L, size)); // would wrap too
                assertKern(KERN_INVALID_ARGUMENT, () -> map.snapshot(A, size).close());
            }
            assertKern(KERN_INVALID_ADDRESS, () -> map.read(A, 0xFFFFFFFFL)); // the largest allowed size
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void wrapsUnmappedHolesAndBelowMinAreInvalidAddress(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            long min = f.minAddress();
            map.allocate(min, p, VmFlags.FIXED);
            map.allocate(A, p, VmFlags.FIXED);
            map.allocate(A + 2 * p, p, VmFlags.FIXED);
            assertKern(KERN_INVALID_ADDRESS, () -> map.read(-16L, 17)); // wraps
            assertKern(KERN_INVALID_ADDRESS, () -> map.read(-16L, 16)); // ends at 2^64: outside the map
            assertKern(KERN_INVALID_ADDRESS, () -> map.read(0, 1));
            assertKern(KERN_INVALID_ADDRESS, () -> map.read(min - 1, 2)); // starts below min
            assertKern(KERN_INVALID_ADDRESS, () -> map.read(A + p - 1, 2)); // hole after
            assertKern(KERN_INVALID_ADDRESS, () -> map.read(A, 3 * p)); // hole in the middle
            assertKern(KERN_INVALID_ADDRESS, () -> map.read(A + 3 * p - 1, 2)); // past the last entry
            assertKern(KERN_INVALID_ADDRESS, () -> map.read(f.maxAddress() - 1, 1));
            assertThat(map.read(min, p)).hasSize((int) p);
            assertThat(map.read(A + p - 1, 1)).hasSize(1);
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void unreadablePagesAreAProtectionErrorOfTheModel(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, 8 * p, VmFlags.FIXED);
            map.protect(A + 3 * p, p, false, WRITE);
            map.protect(A + 5 * p, p, false, NONE);
            map.protect(A + 7 * p, p, false, EXECUTE);
            for (long size : new long[] {1, 2, p, 4 * p}) {
                assertKern(protectionCode(map, size), () -> map.read(A + 3 * p, size));
                assertKern(protectionCode(map, size + 1), () -> map.read(A + 4 * p - size, size + 1));
            }
            assertKern(protectionCode(map, 1), () -> map.read(A + 5 * p, 1));
            assertKern(protectionCode(map, 1), () -> map.read(A + 7 * p, 1));
            assertKern(protectionCode(map, 8 * p), () -> map.read(A, 8 * p));
            // Readable entries of different protections together are fine.
            map.protect(A, p, false, READ);
            map.protect(A + p, p, true, READ | EXECUTE);
            assertThat(map.read(A + 1, 3 * p - 2)).hasSize((int) (3 * p - 2));
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void firstProblemInAddressOrderWins(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            long big = 4 * f.smallTransferLimit(); // above S: the protection code is PROTECTION_FAILURE everywhere
            int pages = (int) (big / p) + 2;
            map.allocate(A, pages * p, VmFlags.FIXED);
            map.protect(A + p, p, false, WRITE); // unreadable page
            map.deallocate(A + 3 * p, p); // hole after it
            assertKern(KERN_PROTECTION_FAILURE, () -> map.read(A, big));
            map.allocate(A + 3 * p, p, VmFlags.FIXED);
            map.deallocate(A + p, p); // now the hole comes first
            map.protect(A + 3 * p, p, false, NONE);
            assertKern(KERN_INVALID_ADDRESS, () -> map.read(A, big));
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void returnsTheBytesAtAnyUnalignedRange(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            int p = f.pageSize();
            byte[] data = filled(map, 4, 7);
            int[][] ranges = {{0, 1}, {1, 1}, {p - 1, 2}, {p - 3, p + 6}, {5, 4 * p - 5}, {0, 4 * p}, {3 * p, p},
                {2 * p + 17, 300}};
            for (int[] r : ranges) {
                assertThat(map.read(A + r[0], r[1])).as("read at +%d of %d", r[0], r[1])
                        .isEqualTo(Arrays.copyOfRange(data, r[0], r[0] + r[1]));
                try (PageSnapshot s = map.snapshot(A + r[0], r[1])) {
                    assertThat(s.toByteArray()).isEqualTo(Arrays.copyOfRange(data, r[0], r[0] + r[1]));
                    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
                    s.writeTo(out);
                    assertThat(out.toByteArray()).isEqualTo(Arrays.copyOfRange(data, r[0], r[0] + r[1]));
                } catch (java.io.IOException e) {
                    throw new AssertionError(e);
                }
            }
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void aReadIsASnapshotThatLaterWritesDoNotChange(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            int p = f.pageSize();
            byte[] data = filled(map, 3, 8);
            map.allocate(A + 3 * p, p, VmFlags.FIXED); // an untouched (zero) page too
            byte[] expected = Arrays.copyOfRange(VmTestSupport.concat(data, new byte[p]), 1, 4 * p - 1);
            long residentBefore = map.store().residentPages();
            try (PageSnapshot s = map.snapshot(A + 1, 4 * p - 2)) {
                assertThat(map.store().residentPages()).as("a snapshot shares pages").isEqualTo(residentBefore);
                map.write(A, pattern(4 * p, 9));
                map.copy(A + 2 * p, p, A);
                map.deallocate(A + p, p);
                map.allocate(A + p, p, VmFlags.FIXED);
                assertThat(s.toByteArray()).isEqualTo(expected);
            }
            assertThat(map.store().residentPages())
                    .isEqualTo(Arrays.stream(MapInspection.residentHandles(map)).distinct().count());
        }
    }

    // ==================================================================== vm_write

    @Nested
    class Write {
        @ParameterizedTest
        @MethodSource(CONFIGS)
        void writesExactlyTheBytesAndLeavesNeighboursUntouched(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            int p = f.pageSize();
            int[][] ranges = {{0, 1}, {p - 1, 2}, {p - 3, p + 6}, {7, 3 * p - 9}, {p, p}, {0, 4 * p}, {3 * p + 5, 1}};
            int seed = 20;
            byte[] model = filled(map, 4, seed++);
            map.allocate(A + 4 * p, p, VmFlags.FIXED); // plus an untouched page
            model = VmTestSupport.concat(model, new byte[p]);
            for (int[] r : ranges) {
                byte[] bytes = pattern(r[1], seed++);
                map.write(A + r[0], bytes);
                System.arraycopy(bytes, 0, model, r[0], r[1]);
                assertThat(map.read(A, 5 * p)).as("after writing +%d of %d", r[0], r[1]).isEqualTo(model);
            }
            // Into the untouched page: only the touched page becomes resident.
            long resident = map.residentPages();
            map.write(A + 4 * p + 10, new byte[] {1, 2, 3});
            assertThat(map.residentPages()).isEqualTo(resident + 1);
            System.arraycopy(new byte[] {1, 2, 3}, 0, model, 4 * p + 10, 3);
            assertThat(map.read(A, 5 * p)).isEqualTo(model);
            // The offset/length form.
            map.write(A + 2, new byte[] {9, 8, 7, 6}, 1, 2);
            model[2] = 8;
            model[3] = 7;
            assertThat(map.read(A, 5 * p)).isEqualTo(model);
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void destinationRules(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            int p = f.pageSize();
            map.allocate(A, 4 * p, VmFlags.FIXED);
            map.protect(A + p, p, false, READ);
            map.protect(A + 2 * p, p, false, WRITE); // write-only is writable
            map.protect(A + 3 * p, p, true, WRITE); // max does not matter
            assertSuccess(() -> map.write(A + 2 * p, new byte[2 * p]));
            assertKern(protectionCode(map, 1), () -> map.write(A + p, new byte[1]));
            assertKern(protectionCode(map, p + 2), () -> map.write(A + p - 1, new byte[p + 2]));
            assertKern(protectionCode(map, 4 * p), () -> map.write(A, new byte[4 * p]));
            assertKern(KERN_INVALID_ADDRESS, () -> map.write(A + 4 * p - 1, new byte[2]));
            assertKern(KERN_INVALID_ADDRESS, () -> map.write(A - 1, new byte[2]));
            assertKern(KERN_INVALID_ADDRESS, () -> map.write(0, new byte[1]));
            assertKern(KERN_INVALID_ADDRESS, () -> map.write(-1L, new byte[2])); // wraps
            assertKern(KERN_INVALID_ADDRESS, () -> map.write(f.maxAddress(), new byte[1]));
            assertSuccess(() -> map.write(-1L, new byte[0])); // size 0
            assertSuccess(() -> map.write(A + p, new byte[0]));
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void aFailedWriteChangesNothing(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            int p = f.pageSize();
            byte[] data = filled(map, 3, 30);
            map.allocate(A + 4 * p, p, VmFlags.FIXED);
            map.protect(A + 2 * p, p, false, READ);
            long resident = map.store().residentPages();
            assertKern(protectionCode(map, 2 * p), () -> map.write(A + p, pattern(2 * p, 31)));
            assertKern(protectionCode(map, 4 * p), () -> map.write(A + p, pattern(4 * p, 32))); // r--, then a hole
            assertKern(protectionCode(map, 4 * p), () -> map.write(A + 5, pattern(4 * p, 33)));
            assertKern(KERN_INVALID_ADDRESS, () -> map.write(A + 3 * p, pattern(p + 1, 34))); // the hole first
            assertKern(KERN_INVALID_ADDRESS, () -> map.write(A + 4 * p - 1, pattern(2, 35)));
            assertThat(map.read(A, 3 * p)).isEqualTo(data);
            assertThat(map.store().residentPages()).isEqualTo(resident);
        }
    }

    // ==================================================================== the small-transfer limit S

    @Nested
    class SmallTransferLimit {
        @ParameterizedTest
        @MethodSource(CONFIGS)
        void exactlySIsTheKernelBufferPathAndSPlusOneIsNot(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            int p = f.pageSize();
            int s = (int) f.smallTransferLimit();
            int pages = s / p + 2;
            map.allocate(A, pages * p, VmFlags.FIXED); // readable and writable source
            long bad = A + 0x1_0000_0000L;
            map.allocate(bad, pages * p, VmFlags.FIXED);
            map.protect(bad, pages * p, false, WRITE); // unreadable
            long ro = A + 0x2_0000_0000L;
            map.allocate(ro, pages * p, VmFlags.FIXED);
            map.protect(ro, pages * p, false, READ); // unwritable
            KernReturn small = m == ErrorModel.XNU ? KERN_INVALID_ADDRESS : KERN_PROTECTION_FAILURE;
            for (long size : new long[] {1, s - 1, s}) {
                assertKern(small, () -> map.read(bad, size));
                assertKern(small, () -> map.snapshot(bad, size).close());
                assertKern(small, () -> map.write(ro, new byte[(int) size]));
                assertKern(small, () -> map.copy(bad, size, A));
                assertKern(small, () -> map.copy(A, size, ro));
                assertKern(small, () -> VmMap.readOverwrite(map, bad, size, map, A));
                assertKern(small, () -> VmMap.readOverwrite(map, A, size, map, ro));
            }
            for (long size : new long[] {s + 1, s + p}) {
                assertKern(KERN_PROTECTION_FAILURE, () -> map.read(bad, size));
                assertKern(KERN_PROTECTION_FAILURE, () -> map.write(ro, new byte[(int) size]));
                assertKern(KERN_PROTECTION_FAILURE, () -> map.copy(bad, size, A));
                assertKern(KERN_PROTECTION_FAILURE, () -> map.copy(A, size, ro));
                assertKern(KERN_PROTECTION_FAILURE, () -> VmMap.readOverwrite(map, bad, size, map, A));
                assertKern(KERN_PROTECTION_FAILURE, () -> VmMap.readOverwrite(map, A, size, map, ro));
            }
            // Unmapped is always invalid address.
            assertKern(KERN_INVALID_ADDRESS, () -> map.read(A + pages * p - 1, s + 1));
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void theStreamingWriteFollowsTheSameRule(Flavor f, ErrorModel m) throws Exception {
            VmMap map = VmTestSupport.newMap(f, m);
            int p = f.pageSize();
            int s = (int) f.smallTransferLimit();
            map.allocate(A, 2L * s, VmFlags.FIXED);
            map.protect(A, 2L * s, false, READ);
            KernReturn small = m == ErrorModel.XNU ? KERN_INVALID_ADDRESS : KERN_PROTECTION_FAILURE;
            assertKern(small, () -> map.write(A, new java.io.ByteArrayInputStream(new byte[s]), s, 1L << 30));
            assertKern(KERN_PROTECTION_FAILURE,
                    () -> map.write(A, new java.io.ByteArrayInputStream(new byte[s + 1]), s + 1, 1L << 30));
            assertKern(small, () -> map.write(A, new java.io.ByteArrayInputStream(new byte[s]), -1, 1L << 30));
            assertKern(KERN_PROTECTION_FAILURE,
                    () -> map.write(A + p, new java.io.ByteArrayInputStream(new byte[s + 1]), -1, 1L << 30));
        }
    }

    // ==================================================================== vm_copy

    static Stream<Arguments> overlaps() {
        List<Arguments> out = new ArrayList<>();
        for (Flavor f : Flavor.values()) {
            int p = f.pageSize();
            int[][] cases = {
                // within one page: forward/backward, aligned (16-byte) and misaligned
                {16, 32, 100}, {32, 16, 100}, {3, 4, 200}, {4, 3, 200}, {0, 1, p - 1}, {1, 0, p - 1},
                // across pages, misaligned
                {p / 2, p / 2 + 3, 3 * p}, {p / 2 + 3, p / 2, 3 * p}, {p - 1, 2 * p + 1, 2 * p}, {2 * p + 1, p - 1, 2 * p},
                // page-aligned: whole pages shared
                {0, p, 3 * p}, {p, 0, 3 * p}, {0, 2 * p, 4 * p}, {2 * p, 0, 4 * p},
                // same in-page offset, not page-aligned: shared middle pages, copied ends
                {5, p + 5, 3 * p}, {p + 5, 5, 3 * p}, {p - 7, 2 * p - 7, 2 * p + 14},
                // source == destination
                {p + 3, p + 3, 2 * p},
            };
            for (int[] c : cases) {
                for (ErrorModel m : ErrorModel.values()) {
                    out.add(Arguments.of(f, m, c[0], c[1], c[2]));
                }
            }
        }
        return out.stream();
    }

    @Nested
    class Copy {
        @ParameterizedTest(name = "{0} {1} src +{2} dst +{3} size {4}")
        @MethodSource("io.machvm.vm.VmTransferTest#overlaps")
        void overlappingCopiesAreMemmove(Flavor f, ErrorModel m, int srcOffset, int dstOffset, int size) {
            VmMap map = VmTestSupport.newMap(f, m);
            int p = f.pageSize();
            int pages = 8;
            byte[] model = filled(map, pages, 40);
            // Leave one page untouched (zero) to mix resident and zero-fill pages in the source.
            map.deallocate(A + 2L * p, p);
            map.allocate(A + 2L * p, p, VmFlags.FIXED);
            Arrays.fill(model, 2 * p, 3 * p, (byte) 0);
            map.copy(A + srcOffset, size, A + dstOffset);
            System.arraycopy(model, srcOffset, model, dstOffset, size);
            assertThat(map.read(A, (long) pages * p)).isEqualTo(model);
            // Independent afterwards: writes to either side show only there.
            byte[] mark = pattern(size, 41);
            map.write(A + dstOffset, mark);
            System.arraycopy(mark, 0, model, dstOffset, size);
            assertThat(map.read(A, (long) pages * p)).isEqualTo(model);
            assertThat(map.store().residentPages()).isEqualTo(map.residentPages());
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void sourceIsCheckedBeforeDestination(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            int p = f.pageSize();
            long big = 2 * f.smallTransferLimit();
            int pages = (int) (big / p);
            map.allocate(A, pages * (long) p, VmFlags.FIXED);
            map.protect(A, pages * (long) p, false, WRITE); // unreadable source
            long unmapped = A + 0x1000_0000L;
            assertKern(KERN_PROTECTION_FAILURE, () -> map.copy(A, big, unmapped));
            assertKern(KERN_PROTECTION_FAILURE, () -> map.copy(A, big, -1L)); // destination wraps too
            assertKern(KERN_INVALID_ADDRESS, () -> map.copy(unmapped, big, A));
            map.protect(A, pages * (long) p, false, READ); // readable but not writable
            assertKern(KERN_PROTECTION_FAILURE, () -> map.copy(A, big, A));
            assertKern(KERN_INVALID_ADDRESS, () -> map.copy(A, big, unmapped));
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void argumentRules(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            int p = f.pageSize();
            byte[] data = filled(map, 2, 42);
            assertSuccess(() -> map.copy(-1L, 0, -1L)); // size 0
            assertSuccess(() -> map.copy(0, 0, A));
            assertKern(KERN_INVALID_ADDRESS, () -> map.copy(-1L, 2, A)); // source wraps
            assertKern(KERN_INVALID_ADDRESS, () -> map.copy(A, 2, -1L)); // destination wraps
            assertKern(KERN_INVALID_ADDRESS, () -> map.copy(A, -1L, A)); // both wrap
            assertKern(KERN_INVALID_ADDRESS, () -> map.copy(A, 0x100000000L, A)); // no 32-bit limit: just unmapped
            assertKern(KERN_INVALID_ADDRESS, () -> map.copy(A + p, p + 1, A));
            assertKern(KERN_INVALID_ADDRESS, () -> map.copy(A, p + 1, A + p));
            assertSuccess(() -> map.copy(A, 2L * p, A)); // source == dest
            assertThat(map.read(A, 2L * p)).isEqualTo(data);
            map.protect(A, 2L * p, false, READ);
            assertKern(protectionCode(map, 2L * p), () -> map.copy(A, 2L * p, A)); // source == dest still checked
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void aFailedCopyChangesNothing(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            int p = f.pageSize();
            byte[] data = filled(map, 6, 43);
            map.protect(A + 5L * p, p, false, READ);
            long resident = map.store().residentPages();
            List<RegionInfo> regions = map.regions();
            assertKern(protectionCode(map, 3L * p), () -> map.copy(A, 3L * p, A + 3L * p));
            assertKern(protectionCode(map, 3L * p - 2), () -> map.copy(A + 1, 3L * p - 2, A + 3L * p + 1));
            assertKern(protectionCode(map, 3L * p), () -> map.copy(A, 3L * p, A + 4L * p)); // r-- comes before the end
            assertKern(KERN_INVALID_ADDRESS, () -> map.copy(A, 3L * p, A + 6L * p));
            assertThat(VmTestSupport.peek(map, A, 6 * p)).isEqualTo(data);
            assertThat(map.regions()).isEqualTo(regions);
            assertThat(map.store().residentPages()).isEqualTo(resident);
        }
    }

    // ==================================================================== vm_read_overwrite

    @Nested
    class ReadOverwrite {
        @ParameterizedTest
        @MethodSource(CONFIGS)
        void betweenTwoTasksOfTheSameStoreSharesPages(Flavor f, ErrorModel m) {
            PageStore store = VmTestSupport.newStore(f, 64L << 20);
            VmMap src = new VmMap(store, f, m);
            VmMap dst = new VmMap(store, f, m);
            int p = f.pageSize();
            byte[] data = filled(src, 4, 50);
            dst.allocate(A, 6L * p, VmFlags.FIXED);
            long before = store.residentPages();
            assertThat(VmMap.readOverwrite(src, A, 4L * p, dst, A + p)).isEqualTo(4L * p);
            assertThat(store.residentPages()).as("whole pages are shared").isEqualTo(before);
            assertThat(store.sharedPages()).isEqualTo(4);
            assertThat(dst.read(A + p, 4L * p)).isEqualTo(data);
            assertThat(dst.read(A, p)).isEqualTo(new byte[p]);
            dst.write(A + p, new byte[] {1});
            src.write(A + 2L * p, new byte[] {2});
            assertThat(src.read(A, 1)).containsExactly(data[0]);
            assertThat(dst.read(A + 2L * p, 1)).containsExactly(data[p]);
            // Unaligned between tasks.
            assertThat(VmMap.readOverwrite(src, A + 3, 2L * p, dst, A + 5)).isEqualTo(2L * p);
            byte[] expected = src.read(A + 3, 2L * p);
            assertThat(dst.read(A + 5, 2L * p)).isEqualTo(expected);
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void betweenTasksOfDifferentFlavors(Flavor f, ErrorModel m) {
            StoreCapacity capacity = new StoreCapacity(64L << 20);
            Flavor g = f == Flavor.ARM64 ? Flavor.X86_64 : Flavor.ARM64;
            VmMap src = new VmMap(new PageStore(f.pageSize(), 1 << 20, capacity), f, m);
            VmMap dst = new VmMap(new PageStore(g.pageSize(), 1 << 20, capacity), g, m);
            int big = Math.max(f.pageSize(), g.pageSize());
            src.allocate(A, 4L * big, VmFlags.FIXED);
            byte[] data = pattern(4 * big, 51);
            src.write(A, data);
            dst.allocate(A, 6L * big, VmFlags.FIXED);
            dst.write(A, pattern(6 * big, 52));
            byte[] model = dst.read(A, 6L * big);
            for (int[] c : new int[][] {{0, 0, 4 * big}, {1, 7, 3 * big}, {big - 1, 2 * big + 1, 2 * big},
                {4096, 8192, 2 * big}}) {
                VmMap.readOverwrite(src, A + c[0], c[2], dst, A + c[1]);
                System.arraycopy(data, c[0], model, c[1], c[2]);
                assertThat(dst.read(A, 6L * big)).isEqualTo(model);
            }
            assertThat(src.read(A, 4L * big)).isEqualTo(data);
            // Zero pages of the source arrive as zeros.
            src.deallocate(A, 4L * big);
            src.allocate(A, 4L * big, VmFlags.FIXED);
            VmMap.readOverwrite(src, A + 1, 3L * big, dst, A);
            assertThat(dst.read(A, 3L * big)).isEqualTo(new byte[3 * big]);
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void withinOneTaskIsACopy(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            int p = f.pageSize();
            byte[] model = filled(map, 4, 53);
            assertThat(VmMap.readOverwrite(map, A + 1, 2L * p, map, A + p / 2)).isEqualTo(2L * p);
            System.arraycopy(model, 1, model, p / 2, 2 * p);
            assertThat(map.read(A, 4L * p)).isEqualTo(model);
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void sourceRulesThenDestinationRules(Flavor f, ErrorModel m) {
            PageStore store = VmTestSupport.newStore(f, 64L << 20);
            VmMap src = new VmMap(store, f, m);
            VmMap dst = new VmMap(store, f, m);
            int p = f.pageSize();
            long big = 2 * f.smallTransferLimit();
            src.allocate(A, big, VmFlags.FIXED);
            dst.allocate(A, big, VmFlags.FIXED);
            assertThat(VmMap.readOverwrite(src, -1L, 0, dst, -1L)).isZero(); // size 0
            assertKern(KERN_INVALID_ADDRESS, () -> VmMap.readOverwrite(src, A, 0x100000000L, dst, A)); // no 32-bit limit
            assertKern(KERN_INVALID_ADDRESS, () -> VmMap.readOverwrite(src, -1L, 2, dst, A));
            assertKern(KERN_INVALID_ADDRESS, () -> VmMap.readOverwrite(src, A, 2, dst, -1L));
            src.protect(A, big, false, NONE);
            assertKern(KERN_PROTECTION_FAILURE, () -> VmMap.readOverwrite(src, A, big, dst, 0)); // source first
            src.protect(A, big, false, READ);
            dst.protect(A, big, false, READ);
            assertKern(KERN_PROTECTION_FAILURE, () -> VmMap.readOverwrite(src, A, big, dst, A));
            assertKern(KERN_INVALID_ADDRESS, () -> VmMap.readOverwrite(src, A, big, dst, A + big));
            assertThat(store.residentPages()).isZero();
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void aTerminatedTaskOnEitherSideIsInvalidDest(Flavor f, ErrorModel m) {
            PageStore store = VmTestSupport.newStore(f, 64L << 20);
            VmMap live = new VmMap(store, f, m);
            VmMap dead = new VmMap(store, f, m);
            dead.terminate();
            live.allocate(A, f.pageSize(), VmFlags.FIXED);
            live.write(A, new byte[] {1, 2, 3});
            assertKern(MACH_SEND_INVALID_DEST, () -> VmMap.readOverwrite(dead, A, 3, live, A));
            assertKern(MACH_SEND_INVALID_DEST, () -> VmMap.readOverwrite(live, A, 3, dead, A));
            assertKern(MACH_SEND_INVALID_DEST, () -> VmMap.readOverwrite(dead, A, 0, live, A));
            assertThat(store.residentPages()).isEqualTo(1);
            assertThat(store.sharedPages()).isZero();
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void theSourceTaskDecidesTheTransferPath(Flavor f, ErrorModel m) {
            // vm_read_overwrite is a call on the source task: its flavor's S and its error model decide whether the
            // transfer takes the kernel-buffer path, which also decides the code of a destination problem.
            StoreCapacity capacity = new StoreCapacity(64L << 20);
            Flavor g = f == Flavor.ARM64 ? Flavor.X86_64 : Flavor.ARM64;
            ErrorModel other = m == ErrorModel.XNU ? ErrorModel.DOCUMENTED : ErrorModel.XNU;
            VmMap src = new VmMap(new PageStore(f.pageSize(), 1 << 20, capacity), f, m);
            VmMap dst = new VmMap(new PageStore(g.pageSize(), 1 << 20, capacity), g, other);
            long size = Math.max(f.smallTransferLimit(), g.smallTransferLimit());
            src.allocate(A, 2 * size, VmFlags.FIXED);
            dst.allocate(A, 2 * size, VmFlags.FIXED);
            dst.protect(A, 2 * size, false, READ);
            for (long n : new long[] {1, f.smallTransferLimit(), f.smallTransferLimit() + 1, 2 * size}) {
                assertKern(protectionCode(src, n), () -> VmMap.readOverwrite(src, A, n, dst, A));
            }
        }
    }
}
