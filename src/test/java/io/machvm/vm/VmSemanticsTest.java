package io.machvm.vm;

import static io.machvm.vm.KernReturn.KERN_INVALID_ADDRESS;
import static io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT;
import static io.machvm.vm.KernReturn.KERN_NO_SPACE;
import static io.machvm.vm.KernReturn.KERN_PROTECTION_FAILURE;
import static io.machvm.vm.KernReturn.KERN_SUCCESS;
import static io.machvm.vm.KernReturn.MACH_SEND_INVALID_DEST;
import static io.machvm.vm.VmProt.ALL;
import static io.machvm.vm.VmProt.COPY;
import static io.machvm.vm.VmProt.EXECUTE;
import static io.machvm.vm.VmProt.NONE;
import static io.machvm.vm.VmProt.READ;
import static io.machvm.vm.VmProt.WRITE;
import static io.machvm.vm.VmTestSupport.assertKern;
import static io.machvm.vm.VmTestSupport.assertSuccess;
import static io.machvm.vm.VmTestSupport.kernOf;
import static io.machvm.vm.VmTestSupport.pattern;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * SEMANTICS.md for the calls that shape the map: vm_allocate, vm_deallocate, vm_protect, vm_inherit, vm_region, for
 * both flavors and both error models (these calls do not depend on the error model, which the tests confirm).
 */
class VmSemanticsTest {
    static final String CONFIGS = "io.machvm.vm.VmTestSupport#configs";
    static final String FLAVORS = "io.machvm.vm.VmTestSupport#flavors";
    static final long A = 0x2_8000_0000L;
    static final int RW = READ | WRITE;

    @Test
    void flavorTableMatchesTheSpec() {
        assertThat(Flavor.ARM64.pageSize()).isEqualTo(16384);
        assertThat(Flavor.ARM64.smallTransferLimit()).isEqualTo(32768);
        assertThat(Flavor.ARM64.minAddress()).isEqualTo(0x100000000L);
        assertThat(Flavor.ARM64.maxAddress()).isEqualTo(0x7ffffe000000L);
        assertThat(Flavor.ARM64.writeExecuteAllowed()).isFalse();
        assertThat(Flavor.X86_64.pageSize()).isEqualTo(4096);
        assertThat(Flavor.X86_64.smallTransferLimit()).isEqualTo(16384);
        assertThat(Flavor.X86_64.minAddress()).isEqualTo(0x100000000L);
        assertThat(Flavor.X86_64.maxAddress()).isEqualTo(0x7fffffe00000L);
        assertThat(Flavor.X86_64.writeExecuteAllowed()).isTrue();
        assertThat(VmFlags.USER_ALLOCATE_MASK).isEqualTo(0xFF07509F);
        assertThat(KernReturn.MACH_SEND_INVALID_DEST.value()).isEqualTo(0x10000003);
    }

    // ==================================================================== vm_allocate

    @Nested
    class Allocate {
        @ParameterizedTest
        @MethodSource(CONFIGS)
        void everyFlagBitOutsideTheMaskIsRefusedAndChangesNothing(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            for (int bit = 0; bit < 32; bit++) {
                int flag = 1 << bit;
                boolean allowed = (VmFlags.USER_ALLOCATE_MASK & flag) != 0;
                long address = A + 4L * bit * f.pageSize();
                KernReturn kern = kernOf(() -> map.allocate(address, f.pageSize(), flag));
                assertThat(kern).as("flag bit 0x%x", flag).isEqualTo(allowed ? KERN_SUCCESS : KERN_INVALID_ARGUMENT);
                // Refused flags are refused before the size is looked at.
                if (!allowed) {
                    assertKern(KERN_INVALID_ARGUMENT, () -> map.allocate(0, 0, flag));
                    assertKern(KERN_INVALID_ARGUMENT, () -> map.allocate(A, f.pageSize(), flag | VmFlags.ANYWHERE));
                }
            }
            // Only the accepted flags allocated something.
            assertThat(map.regions()).hasSize(Integer.bitCount(VmFlags.USER_ALLOCATE_MASK));
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void sizeZeroSucceedsAndReturnsZeroWhateverTheAddress(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            for (long address : new long[] {0, 1, A, A + 3, -1L, f.maxAddress(), 0xffffffffffffc000L}) {
                assertThat(map.allocate(address, 0, VmFlags.FIXED)).isZero();
                assertThat(map.allocate(address, 0, VmFlags.ANYWHERE)).isZero();
                assertThat(map.allocate(address, 0, VmFlags.FIXED | VmFlags.OVERWRITE)).isZero();
            }
            assertThat(map.regions()).isEmpty();
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void fixedMapsFromTheTruncatedAddressAndReturnsIt(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            // [trunc(address), round(trunc(address) + size)): one page, although the bytes would touch two.
            assertThat(map.allocate(A + 1, p, VmFlags.FIXED)).isEqualTo(A);
            assertThat(map.regions()).containsExactly(new RegionInfo(A, p, RW, ALL, VmInherit.COPY, false, 0));
            // size p + 1 needs two pages.
            assertThat(map.allocate(A + 10 * p + (p - 1), p + 1, VmFlags.FIXED)).isEqualTo(A + 10 * p);
            assertThat(map.region(A + 10 * p).size()).isEqualTo(2 * p);
            // 1 byte: one page.
            assertThat(map.allocate(A + 20 * p + 5, 1, VmFlags.FIXED)).isEqualTo(A + 20 * p);
            assertThat(map.region(A + 20 * p).size()).isEqualTo(p);
            assertThat(map.virtualBytes()).isEqualTo(4 * p);
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void newMemoryIsZeroFilledReadWriteWithMaxRwxAndCopyInheritance(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            long at = map.allocate(0, 3 * p, VmFlags.ANYWHERE);
            assertThat(map.read(at, 3 * p)).isEqualTo(new byte[(int) (3 * p)]);
            RegionInfo r = map.region(at);
            assertThat(r.protection()).isEqualTo(RW);
            assertThat(r.maxProtection()).isEqualTo(ALL);
            assertThat(r.inheritance()).isEqualTo(VmInherit.COPY);
            assertThat(r.shared()).isFalse();
            assertThat(map.residentPages()).as("untouched memory has no pages").isZero();
            assertThat(map.store().residentPages()).isZero();
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void fixedOutsideTheMapIsInvalidAddress(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            long min = f.minAddress();
            long max = f.maxAddress();
            assertKern(KERN_INVALID_ADDRESS, () -> map.allocate(0, p, VmFlags.FIXED));
            assertKern(KERN_INVALID_ADDRESS, () -> map.allocate(0, 1, VmFlags.FIXED));
            assertKern(KERN_INVALID_ADDRESS, () -> map.allocate(min - p, p, VmFlags.FIXED));
            assertKern(KERN_INVALID_ADDRESS, () -> map.allocate(min - p, 2 * p, VmFlags.FIXED));
            assertKern(KERN_INVALID_ADDRESS, () -> map.allocate(max, p, VmFlags.FIXED));
            assertKern(KERN_INVALID_ADDRESS, () -> map.allocate(max - p, p + 1, VmFlags.FIXED));
            assertKern(KERN_INVALID_ADDRESS, () -> map.allocate(0x8000000000000000L, p, VmFlags.FIXED));
            assertKern(KERN_INVALID_ADDRESS, () -> map.allocate(max - p, p + 1, VmFlags.FIXED | VmFlags.OVERWRITE));
            assertThat(map.regions()).isEmpty();
            // The very first and very last pages are fine.
            assertThat(map.allocate(min, p, VmFlags.FIXED)).isEqualTo(min);
            assertThat(map.allocate(max - p, p, VmFlags.FIXED)).isEqualTo(max - p);
            assertThat(map.allocate(max - 3 * p + 1, 2 * p - 1, VmFlags.FIXED)).isEqualTo(max - 3 * p);
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void fixedRangeThatWrapsIsInvalidAddressUnlessTheSizeRoundsToZero(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            long topPage = -p; // 0xffff...f000 / c000
            assertKern(KERN_INVALID_ADDRESS, () -> map.allocate(topPage, 2 * p, VmFlags.FIXED));
            assertKern(KERN_INVALID_ADDRESS, () -> map.allocate(topPage, p + 1, VmFlags.FIXED));
            assertKern(KERN_INVALID_ADDRESS, () -> map.allocate(A, -A, VmFlags.FIXED)); // ends exactly at 2^64
            assertKern(KERN_INVALID_ADDRESS, () -> map.allocate(A, -p, VmFlags.FIXED));
            // round(size) == 0: invalid argument.
            assertKern(KERN_INVALID_ARGUMENT, () -> map.allocate(A, -1L, VmFlags.FIXED));
            assertKern(KERN_INVALID_ARGUMENT, () -> map.allocate(A, -p + 1, VmFlags.FIXED));
            assertKern(KERN_INVALID_ARGUMENT, () -> map.allocate(0, -1L, VmFlags.FIXED));
            // The top page alone: trunc(address) + size is exactly 2^64, which wraps.
            assertKern(KERN_INVALID_ADDRESS, () -> map.allocate(topPage, p, VmFlags.FIXED));
            assertThat(map.regions()).isEmpty();
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void fixedOverlapIsNoSpaceAndChangesNothing(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A + 2 * p, 2 * p, VmFlags.FIXED);
            byte[] data = pattern((int) (2 * p), 1);
            map.write(A + 2 * p, data);
            List<RegionInfo> before = map.regions();
            assertKern(KERN_NO_SPACE, () -> map.allocate(A, 3 * p, VmFlags.FIXED)); // overlaps the first page
            assertKern(KERN_NO_SPACE, () -> map.allocate(A + 3 * p, 2 * p, VmFlags.FIXED)); // the last page
            assertKern(KERN_NO_SPACE, () -> map.allocate(A, 10 * p, VmFlags.FIXED)); // covers it
            assertKern(KERN_NO_SPACE, () -> map.allocate(A + 2 * p + 7, 1, VmFlags.FIXED)); // inside
            assertThat(map.regions()).isEqualTo(before);
            assertThat(map.read(A + 2 * p, 2 * p)).isEqualTo(data);
            // Touching neighbours are fine.
            assertThat(map.allocate(A + p, p, VmFlags.FIXED)).isEqualTo(A + p);
            assertThat(map.allocate(A + 4 * p, p, VmFlags.FIXED)).isEqualTo(A + 4 * p);
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void overwriteReplacesWhatWasThereWithFreshMemory(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, 4 * p, VmFlags.FIXED);
            map.write(A, pattern((int) (4 * p), 2));
            map.protect(A + p, p, true, READ);
            map.inherit(A, p, VmInherit.NONE);
            long before = map.store().residentPages();
            assertThat(map.allocate(A + p + 1, 2 * p - 1, VmFlags.FIXED | VmFlags.OVERWRITE)).isEqualTo(A + p);
            assertThat(map.read(A + p, 2 * p)).isEqualTo(new byte[(int) (2 * p)]);
            RegionInfo r = map.region(A + p);
            assertThat(r.address()).isEqualTo(A + p);
            assertThat(r.size()).isEqualTo(2 * p);
            assertThat(r.protection()).isEqualTo(RW);
            assertThat(r.maxProtection()).isEqualTo(ALL);
            assertThat(r.inheritance()).isEqualTo(VmInherit.COPY);
            assertThat(map.read(A, p)).isEqualTo(java.util.Arrays.copyOfRange(pattern((int) (4 * p), 2), 0, (int) p));
            assertThat(map.store().residentPages()).isEqualTo(before - 2);
            // OVERWRITE over nothing is an ordinary allocation; over holes it fills them.
            assertThat(map.allocate(A + 100 * p, p, VmFlags.FIXED | VmFlags.OVERWRITE)).isEqualTo(A + 100 * p);
            assertThat(map.allocate(A + 99 * p, 3 * p, VmFlags.FIXED | VmFlags.OVERWRITE)).isEqualTo(A + 99 * p);
            assertThat(map.region(A + 99 * p).size()).isEqualTo(3 * p);
            assertThat(map.virtualBytes()).isEqualTo(7 * p);
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void anywhereIgnoresTheAddressAndFindsTheFirstFitFromTheBottom(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            long min = f.minAddress();
            assertThat(map.allocate(-p, p, VmFlags.ANYWHERE)).isEqualTo(min);
            assertThat(map.allocate(A, p + 1, VmFlags.ANYWHERE)).isEqualTo(min + p);
            assertThat(map.allocate(0, 1, VmFlags.ANYWHERE)).isEqualTo(min + 3 * p);
            assertThat(map.region(min + p).size()).isEqualTo(2 * p);
            map.deallocate(min + p, 2 * p);
            assertThat(map.allocate(0, 3 * p, VmFlags.ANYWHERE)).as("hole too small").isEqualTo(min + 4 * p);
            assertThat(map.allocate(0, 2 * p, VmFlags.ANYWHERE)).as("hole fits exactly").isEqualTo(min + p);
            map.deallocate(min, p);
            assertThat(map.allocate(0, p, VmFlags.ANYWHERE)).isEqualTo(min);
            // A fixed allocation in the middle of the free space is skipped over.
            map.allocate(min + 10 * p, p, VmFlags.FIXED);
            assertThat(map.allocate(0, 4 * p, VmFlags.ANYWHERE)).isEqualTo(min + 11 * p);
            assertThat(map.allocate(0, 3 * p, VmFlags.ANYWHERE)).isEqualTo(min + 7 * p);
            assertThat(map.allocate(0, p, VmFlags.ANYWHERE)).isEqualTo(min + 15 * p);
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void anywhereSizesThatRoundToZeroOrDoNotFit(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            long min = f.minAddress();
            long max = f.maxAddress();
            assertKern(KERN_INVALID_ARGUMENT, () -> map.allocate(0, -1L, VmFlags.ANYWHERE));
            assertKern(KERN_INVALID_ARGUMENT, () -> map.allocate(0, -p + 1, VmFlags.ANYWHERE));
            assertKern(KERN_NO_SPACE, () -> map.allocate(0, -p, VmFlags.ANYWHERE));
            assertKern(KERN_NO_SPACE, () -> map.allocate(0, max - min + 1, VmFlags.ANYWHERE));
            assertKern(KERN_NO_SPACE, () -> map.allocate(0, 0x8000000000000000L, VmFlags.ANYWHERE));
            assertThat(map.regions()).isEmpty();
            // The whole map fits exactly once (it costs nothing until touched).
            assertThat(map.allocate(0, max - min, VmFlags.ANYWHERE)).isEqualTo(min);
            assertKern(KERN_NO_SPACE, () -> map.allocate(0, p, VmFlags.ANYWHERE));
            map.deallocate(max - p, p);
            assertThat(map.allocate(0, p, VmFlags.ANYWHERE)).isEqualTo(max - p);
            assertThat(map.residentPages()).isZero();
        }
    }

    // ==================================================================== vm_deallocate

    @Nested
    class Deallocate {
        @ParameterizedTest
        @MethodSource(CONFIGS)
        void removesWholePagesOfTheRange(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, 5 * p, VmFlags.FIXED);
            map.write(A, pattern((int) (5 * p), 3));
            assertThat(map.residentPages()).isEqualTo(5);
            map.deallocate(A + p + p / 2, 2); // one byte range inside page 1 removes page 1
            assertThat(map.regions()).extracting(RegionInfo::address, RegionInfo::size)
                    .containsExactly(org.assertj.core.groups.Tuple.tuple(A, p),
                            org.assertj.core.groups.Tuple.tuple(A + 2 * p, 3 * p));
            map.deallocate(A + 3 * p - 1, 2); // straddles pages 2 and 3
            assertThat(map.regions()).extracting(RegionInfo::address, RegionInfo::size)
                    .containsExactly(org.assertj.core.groups.Tuple.tuple(A, p),
                            org.assertj.core.groups.Tuple.tuple(A + 4 * p, p));
            assertThat(map.residentPages()).isEqualTo(2);
            assertThat(map.store().residentPages()).isEqualTo(2);
            assertThat(map.virtualBytes()).isEqualTo(2 * p);
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void holesUnmappedRangesAndTwiceAreFine(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, p, VmFlags.FIXED);
            map.allocate(A + 2 * p, p, VmFlags.FIXED);
            assertSuccess(() -> map.deallocate(A + 10 * p, p)); // nothing there
            assertThat(map.regions()).hasSize(2);
            assertSuccess(() -> map.deallocate(A - p, 5 * p)); // across a hole and past both ends
            assertThat(map.regions()).isEmpty();
            assertSuccess(() -> map.deallocate(A - p, 5 * p)); // twice
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void reallocatingGivesZeroFilledMemoryAgain(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, 2 * p, VmFlags.FIXED);
            map.write(A + 5, pattern((int) p, 4));
            map.deallocate(A, 2 * p);
            assertKern(KERN_INVALID_ADDRESS, () -> map.read(A, 1));
            map.allocate(A, 2 * p, VmFlags.FIXED);
            assertThat(map.read(A, 2 * p)).isEqualTo(new byte[(int) (2 * p)]);
            assertThat(map.store().residentPages()).isZero();
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void sizeZeroSucceedsWithoutLookingAtTheAddress(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            map.allocate(A, f.pageSize(), VmFlags.FIXED);
            for (long address : new long[] {0, -1L, A, A + 1, f.maxAddress(), 0xffffffffffffc000L}) {
                assertSuccess(() -> map.deallocate(address, 0));
            }
            assertThat(map.regions()).hasSize(1);
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void wrappingRangesAreInvalidArgument(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, p, VmFlags.FIXED);
            assertKern(KERN_INVALID_ARGUMENT, () -> map.deallocate(A, -1L)); // address + size wraps
            assertKern(KERN_INVALID_ARGUMENT, () -> map.deallocate(-p, p + 1)); // wraps
            assertKern(KERN_INVALID_ARGUMENT, () -> map.deallocate(0, -1L)); // rounded end wraps to 0
            assertKern(KERN_INVALID_ARGUMENT, () -> map.deallocate(1, -p)); // end 2^64 - p + 1 rounds to 0
            assertKern(KERN_INVALID_ARGUMENT, () -> map.deallocate(-p, p - 1)); // ends in the top page
            assertKern(KERN_INVALID_ARGUMENT, () -> map.deallocate(-2, 1));
            assertThat(map.regions()).hasSize(1);
            // Ending exactly at the start of the top page does not wrap: outside the map, so nothing happens.
            assertSuccess(() -> map.deallocate(A, -p - A));
            assertThat(map.regions()).hasSize(1);
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void rangesReachingOutsideTheMapRemoveNothing(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            long min = f.minAddress();
            long max = f.maxAddress();
            map.allocate(min, 2 * p, VmFlags.FIXED);
            map.allocate(max - 2 * p, 2 * p, VmFlags.FIXED);
            assertSuccess(() -> map.deallocate(min - p, 2 * p)); // starts below min
            assertSuccess(() -> map.deallocate(0, min + p));
            assertSuccess(() -> map.deallocate(max - p, 2 * p)); // ends past max
            assertSuccess(() -> map.deallocate(max - p, p + 1));
            assertThat(map.regions()).hasSize(2);
            assertThat(map.virtualBytes()).isEqualTo(4 * p);
            // Exactly the map's ends are inside.
            map.deallocate(min, p);
            map.deallocate(max - p, p);
            assertThat(map.virtualBytes()).isEqualTo(2 * p);
        }
    }

    // ==================================================================== vm_protect

    @Nested
    class Protect {
        @ParameterizedTest
        @MethodSource(CONFIGS)
        void sizeZeroSucceedsEvenWithABadProtection(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            for (long address : new long[] {0, 1, -1L, A, f.maxAddress()}) {
                for (int prot : new int[] {NONE, READ, ALL, 0x8, 0x20, 0xFFFFFFFF}) {
                    assertSuccess(() -> map.protect(address, 0, false, prot));
                    assertSuccess(() -> map.protect(address, 0, true, prot));
                }
            }
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void bitsOutsideTheMaskAreInvalidArgumentBeforeTheRangeIsLookedAt(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, p, VmFlags.FIXED);
            for (int bit = 0; bit < 32; bit++) {
                int prot = 1 << bit;
                boolean allowed = (VmProt.PROTECT_MASK & prot) != 0;
                if (!allowed) {
                    assertKern(KERN_INVALID_ARGUMENT, () -> map.protect(0, p, false, prot)); // unmapped
                    assertKern(KERN_INVALID_ARGUMENT, () -> map.protect(-1L, 5, false, prot | READ)); // wraps
                    assertKern(KERN_INVALID_ARGUMENT, () -> map.protect(A, p, true, prot));
                }
            }
            assertThat(map.region(A).protection()).isEqualTo(RW);
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void rangeArgumentChecks(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, p, VmFlags.FIXED);
            // address + size wraps: invalid argument.
            assertKern(KERN_INVALID_ARGUMENT, () -> map.protect(A, -1L, false, READ));
            assertKern(KERN_INVALID_ARGUMENT, () -> map.protect(1, -1L, false, READ));
            assertKern(KERN_INVALID_ARGUMENT, () -> map.protect(-1L, 1, false, READ));
            // Rounded end wraps to 0: invalid address when trunc(address) == 0, else invalid argument.
            assertKern(KERN_INVALID_ADDRESS, () -> map.protect(0, -1L, false, READ));
            assertKern(KERN_INVALID_ADDRESS, () -> map.protect(1, -2L, false, READ));
            assertKern(KERN_INVALID_ADDRESS, () -> map.protect(p - 1, -p, false, READ));
            assertKern(KERN_INVALID_ARGUMENT, () -> map.protect(p, -p - 1, false, READ));
            assertKern(KERN_INVALID_ARGUMENT, () -> map.protect(-p, p - 1, false, READ));
            assertKern(KERN_INVALID_ARGUMENT, () -> map.protect(A, -A - 1, false, READ));
            // Start at or above the map max.
            assertKern(KERN_INVALID_ADDRESS, () -> map.protect(f.maxAddress(), p, false, READ));
            assertKern(KERN_INVALID_ADDRESS, () -> map.protect(-2 * p, p, false, READ));
            // Below the map min, nothing is mapped.
            assertKern(KERN_INVALID_ADDRESS, () -> map.protect(0x1000, p, false, READ));
            assertKern(KERN_INVALID_ADDRESS, () -> map.protect(f.minAddress() - p, p, false, READ));
            assertThat(map.region(A).protection()).isEqualTo(RW);
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void hugeRangesPastTheLastEntryAreInvalidAddress(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, p, VmFlags.FIXED);
            // Ends above 2^63 (negative as a signed long) without wrapping.
            assertKern(KERN_INVALID_ADDRESS, () -> map.protect(A, 0x8000000000000000L, false, READ));
            assertKern(KERN_INVALID_ADDRESS, () -> map.protect(A, -A - p, false, READ));
            assertKern(KERN_INVALID_ADDRESS, () -> map.protect(A, f.maxAddress(), false, READ));
            assertKern(KERN_INVALID_ADDRESS, () -> map.inherit(A, 0x8000000000000000L, VmInherit.NONE));
            assertKern(KERN_INVALID_ADDRESS, () -> map.inherit(A, -A - p, VmInherit.NONE));
            // A protection beyond the max is found at the first entry, before the range runs out.
            map.protect(A, p, true, READ);
            assertKern(KERN_PROTECTION_FAILURE, () -> map.protect(A, 0x8000000000000000L, false, RW));
            assertThat(map.regions()).containsExactly(new RegionInfo(A, p, READ, READ, VmInherit.COPY, false, 0));
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void unmappedStartHolesAndRunningPastTheEndAreInvalidAddressAndChangeNothing(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, 2 * p, VmFlags.FIXED);
            map.allocate(A + 3 * p, p, VmFlags.FIXED);
            List<RegionInfo> before = map.regions();
            assertKern(KERN_INVALID_ADDRESS, () -> map.protect(A - p, 2 * p, false, READ)); // no entry at start
            assertKern(KERN_INVALID_ADDRESS, () -> map.protect(A, 4 * p, false, READ)); // hole
            assertKern(KERN_INVALID_ADDRESS, () -> map.protect(A + 3 * p, 2 * p, false, READ)); // past the end
            assertKern(KERN_INVALID_ADDRESS, () -> map.protect(A + 2 * p, p, false, READ)); // the hole itself
            assertKern(KERN_INVALID_ADDRESS, () -> map.protect(A + p, 2 * p + 1, true, NONE));
            assertThat(map.regions()).isEqualTo(before);
            // Adjacent entries (of different objects) together are fine.
            map.allocate(A + 2 * p, p, VmFlags.FIXED);
            map.protect(A + 1, 4 * p - 2, false, READ);
            for (RegionInfo r : map.regions()) {
                assertThat(r.protection()).isEqualTo(READ);
            }
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void firstProblemInAddressOrderWins(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, p, VmFlags.FIXED);
            map.allocate(A + 2 * p, p, VmFlags.FIXED);
            map.protect(A + 2 * p, p, true, READ);
            // hole (at A + p) before the entry whose max refuses WRITE: invalid address
            assertKern(KERN_INVALID_ADDRESS, () -> map.protect(A, 3 * p, false, RW));
            // entry whose max refuses WRITE before a hole: protection failure
            map.protect(A, p, true, READ);
            map.allocate(A + p, p, VmFlags.FIXED);
            map.deallocate(A + 2 * p, p);
            map.allocate(A + 3 * p, p, VmFlags.FIXED);
            assertKern(KERN_PROTECTION_FAILURE, () -> map.protect(A, 4 * p, false, RW));
            assertThat(map.region(A + p).protection()).isEqualTo(RW);
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void protectionBeyondTheMaxIsProtectionFailureAndChangesNothing(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, 3 * p, VmFlags.FIXED);
            map.protect(A + 2 * p, p, true, READ); // last page max r--
            List<RegionInfo> before = map.regions();
            assertKern(KERN_PROTECTION_FAILURE, () -> map.protect(A, 3 * p, false, RW));
            assertKern(KERN_PROTECTION_FAILURE, () -> map.protect(A + 2 * p, 1, false, WRITE));
            assertKern(KERN_PROTECTION_FAILURE, () -> map.protect(A + 2 * p, p, true, RW)); // cannot raise max
            assertThat(map.regions()).isEqualTo(before);
            map.protect(A, 3 * p, false, READ);
            map.protect(A, 3 * p, false, NONE);
            assertThat(map.regions()).allSatisfy(r -> assertThat(r.protection()).isEqualTo(NONE));
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void writePlusExecuteIsRefusedOnArm64Only(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, 2 * p, VmFlags.FIXED);
            KernReturn expected = f.writeExecuteAllowed() ? KERN_SUCCESS : KERN_PROTECTION_FAILURE;
            assertKern(expected, () -> map.protect(A, p, false, ALL));
            assertKern(expected, () -> map.protect(A, p, false, WRITE | EXECUTE));
            assertKern(expected, () -> map.protect(A + p, p, false, WRITE | EXECUTE | COPY));
            // Either alone is fine everywhere.
            assertSuccess(() -> map.protect(A, p, false, READ | EXECUTE));
            assertSuccess(() -> map.protect(A + p, p, false, EXECUTE));
            assertThat(map.region(A).protection()).isEqualTo(READ | EXECUTE);
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void setMaximumSetsMaxAndMasksCurrent(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, 4 * p, VmFlags.FIXED);
            map.protect(A, p, true, READ);
            assertThat(map.region(A)).extracting(RegionInfo::protection, RegionInfo::maxProtection)
                    .containsExactly(READ, READ);
            map.protect(A + p, p, true, READ | EXECUTE); // cur rw- & r-x = r--
            assertThat(map.region(A + p)).extracting(RegionInfo::protection, RegionInfo::maxProtection)
                    .containsExactly(READ, READ | EXECUTE);
            map.protect(A + 2 * p, p, true, WRITE); // cur rw- & -w- = -w-
            assertThat(map.region(A + 2 * p)).extracting(RegionInfo::protection, RegionInfo::maxProtection)
                    .containsExactly(WRITE, WRITE);
            map.protect(A + 3 * p, p, true, NONE);
            assertThat(map.region(A + 3 * p)).extracting(RegionInfo::protection, RegionInfo::maxProtection)
                    .containsExactly(NONE, NONE);
            // Keeping the max is fine, and cur can then be raised up to it.
            map.protect(A + p, p, true, READ | EXECUTE);
            map.protect(A + p, p, false, READ | EXECUTE);
            assertThat(map.region(A + p).protection()).isEqualTo(READ | EXECUTE);
            assertKern(KERN_PROTECTION_FAILURE, () -> map.protect(A + 3 * p, p, false, READ));
            assertKern(KERN_PROTECTION_FAILURE, () -> map.protect(A + 2 * p, p, true, RW));
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void setMaximumMayAddExecuteOnX86Only(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, p, VmFlags.FIXED);
            map.protect(A, p, true, READ); // r--/r--
            KernReturn expected = f.writeExecuteAllowed() ? KERN_SUCCESS : KERN_PROTECTION_FAILURE;
            assertKern(expected, () -> map.protect(A, p, true, READ | EXECUTE));
            if (f.writeExecuteAllowed()) {
                assertThat(map.region(A)).extracting(RegionInfo::protection, RegionInfo::maxProtection)
                        .containsExactly(READ, READ | EXECUTE);
                // Only EXECUTE may be added, never WRITE or READ.
                map.protect(A, p, true, EXECUTE);
                assertKern(KERN_PROTECTION_FAILURE, () -> map.protect(A, p, true, READ | EXECUTE));
                assertKern(KERN_PROTECTION_FAILURE, () -> map.protect(A, p, true, WRITE | EXECUTE));
                // Not without setMaximum.
                map.allocate(A + p, p, VmFlags.FIXED);
                map.protect(A + p, p, true, READ);
                assertKern(KERN_PROTECTION_FAILURE, () -> map.protect(A + p, p, false, READ | EXECUTE));
            } else {
                assertThat(map.region(A)).extracting(RegionInfo::protection, RegionInfo::maxProtection)
                        .containsExactly(READ, READ);
            }
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void copyBitAddsWriteToMaxAndIsNeverStored(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, 3 * p, VmFlags.FIXED);
            byte[] data = pattern((int) (3 * p), 5);
            map.write(A, data);
            map.protect(A, 3 * p, true, READ); // r--/r--
            assertKern(KERN_PROTECTION_FAILURE, () -> map.protect(A, p, false, RW));
            map.protect(A, p, false, COPY | READ | WRITE);
            assertThat(map.region(A)).extracting(RegionInfo::protection, RegionInfo::maxProtection)
                    .containsExactly(RW, RW);
            map.protect(A + p, p, false, COPY);
            assertThat(map.region(A + p)).extracting(RegionInfo::protection, RegionInfo::maxProtection)
                    .containsExactly(NONE, READ | WRITE);
            map.protect(A + 2 * p, p, false, COPY | READ);
            assertThat(map.region(A + 2 * p)).extracting(RegionInfo::protection, RegionInfo::maxProtection)
                    .containsExactly(READ, RW);
            for (RegionInfo r : map.regions()) {
                assertThat(r.protection() & ~ALL).isZero();
                assertThat(r.maxProtection() & ~ALL).isZero();
            }
            // The contents survive (the copy is private, of the same bytes), and the page is now writable.
            map.protect(A + p, p, false, READ);
            assertThat(map.read(A, 3 * p)).isEqualTo(data);
            map.write(A, new byte[] {42});
            assertThat(map.read(A, 1)).containsExactly(42);
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void protectWorksOnWholePages(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, 4 * p, VmFlags.FIXED);
            map.protect(A + p - 1, 2, false, READ); // touches pages 0 and 1
            assertThat(map.regions()).extracting(RegionInfo::address, RegionInfo::size, RegionInfo::protection)
                    .containsExactly(org.assertj.core.groups.Tuple.tuple(A, 2 * p, READ),
                            org.assertj.core.groups.Tuple.tuple(A + 2 * p, 2 * p, RW));
        }
    }

    // ==================================================================== vm_inherit

    @Nested
    class Inherit {
        @ParameterizedTest
        @MethodSource(CONFIGS)
        void setsInheritanceOnWholePagesAndSplitsAndMerges(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, 4 * p, VmFlags.FIXED);
            map.inherit(A + p + 1, 1, VmInherit.SHARE);
            assertThat(map.regions()).extracting(RegionInfo::address, RegionInfo::inheritance)
                    .containsExactly(org.assertj.core.groups.Tuple.tuple(A, VmInherit.COPY),
                            org.assertj.core.groups.Tuple.tuple(A + p, VmInherit.SHARE),
                            org.assertj.core.groups.Tuple.tuple(A + 2 * p, VmInherit.COPY));
            map.inherit(A + 2 * p, p, VmInherit.NONE);
            assertThat(map.regions()).hasSize(4);
            map.inherit(A, 4 * p, VmInherit.COPY);
            assertThat(map.regions()).containsExactly(new RegionInfo(A, 4 * p, RW, ALL, VmInherit.COPY, false, 0));
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void rangeRulesAreThoseOfProtect(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, 2 * p, VmFlags.FIXED);
            map.allocate(A + 3 * p, p, VmFlags.FIXED);
            List<RegionInfo> before = map.regions();
            assertKern(KERN_INVALID_ARGUMENT, () -> map.inherit(A, 2 * p, null));
            assertKern(KERN_INVALID_ARGUMENT, () -> map.inherit(A, -1L, VmInherit.SHARE));
            assertKern(KERN_INVALID_ADDRESS, () -> map.inherit(0, -1L, VmInherit.SHARE));
            assertKern(KERN_INVALID_ARGUMENT, () -> map.inherit(p, -p - 1, VmInherit.SHARE));
            assertKern(KERN_INVALID_ADDRESS, () -> map.inherit(f.maxAddress(), p, VmInherit.SHARE));
            assertKern(KERN_INVALID_ADDRESS, () -> map.inherit(A - p, 2 * p, VmInherit.SHARE));
            assertKern(KERN_INVALID_ADDRESS, () -> map.inherit(A, 4 * p, VmInherit.SHARE));
            assertKern(KERN_INVALID_ADDRESS, () -> map.inherit(A + 3 * p, 2 * p, VmInherit.SHARE));
            assertSuccess(() -> map.inherit(-1L, 0, VmInherit.SHARE));
            assertThat(map.regions()).isEqualTo(before);
        }

        @Test
        void inheritanceValuesAreMachs() {
            assertThat(VmInherit.fromValue(0)).isEqualTo(VmInherit.SHARE);
            assertThat(VmInherit.fromValue(1)).isEqualTo(VmInherit.COPY);
            assertThat(VmInherit.fromValue(2)).isEqualTo(VmInherit.NONE);
            assertThat(VmInherit.fromValue(3)).isNull();
            assertThat(VmInherit.fromValue(-1)).isNull();
        }
    }

    // ==================================================================== vm_region

    @Nested
    class Region {
        @ParameterizedTest
        @MethodSource(CONFIGS)
        void containingEntryOrTheNextAboveOrInvalidAddress(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            assertKern(KERN_INVALID_ADDRESS, () -> map.region(0));
            map.allocate(A, 2 * p, VmFlags.FIXED);
            map.allocate(A + 5 * p, p, VmFlags.FIXED);
            assertThat(map.region(0).address()).isEqualTo(A);
            assertThat(map.region(A).address()).isEqualTo(A);
            assertThat(map.region(A + 2 * p - 1).address()).isEqualTo(A);
            assertThat(map.region(A + 2 * p).address()).isEqualTo(A + 5 * p);
            assertThat(map.region(A + 5 * p + p - 1).address()).isEqualTo(A + 5 * p);
            assertKern(KERN_INVALID_ADDRESS, () -> map.region(A + 6 * p));
            assertKern(KERN_INVALID_ADDRESS, () -> map.region(f.maxAddress()));
            assertKern(KERN_INVALID_ADDRESS, () -> map.region(-1L));
            assertThat(map.regions()).extracting(RegionInfo::address).containsExactly(A, A + 5 * p);
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void walkInChunksFromAnAddressAnswersTheWholeWalk(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            for (int i = 0; i < 7; i++) {
                map.allocate(A + 2 * i * p, p, VmFlags.FIXED);
            }
            assertThat(map.regions(0, 3)).extracting(RegionInfo::address).containsExactly(A, A + 2 * p, A + 4 * p);
            assertThat(map.regions(A + 5 * p, 3)).extracting(RegionInfo::address)
                    .containsExactly(A + 6 * p, A + 8 * p, A + 10 * p);
            assertThat(map.regions(A + 12 * p, 3)).extracting(RegionInfo::address).containsExactly(A + 12 * p);
            assertThat(map.regions(A + 13 * p, 3)).isEmpty();
            List<RegionInfo> walked = new ArrayList<>();
            long from = 0;
            for (List<RegionInfo> chunk; !(chunk = map.regions(from, 2)).isEmpty(); ) {
                walked.addAll(chunk);
                from = chunk.getLast().address() + chunk.getLast().size();
            }
            assertThat(walked).isEqualTo(map.regions());
            assertThatThrownBy(() -> map.regions(0, 0)).isInstanceOf(IllegalArgumentException.class);
            map.terminate();
            assertKern(MACH_SEND_INVALID_DEST, () -> map.regions(0, 3));
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void entriesSplitWhereProtectCutsThemAndMergeBack(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, 5 * p, VmFlags.FIXED);
            map.protect(A + p, 2 * p, false, READ);
            assertThat(map.regions()).containsExactly(
                    new RegionInfo(A, p, RW, ALL, VmInherit.COPY, false, 0),
                    new RegionInfo(A + p, 2 * p, READ, ALL, VmInherit.COPY, false, p),
                    new RegionInfo(A + 3 * p, 2 * p, RW, ALL, VmInherit.COPY, false, 3 * p));
            assertThat(map.region(A + 2 * p).address()).isEqualTo(A + p);
            map.protect(A + 2 * p, p, true, READ);
            assertThat(map.regions()).hasSize(4);
            map.protect(A + p, p, true, READ);
            assertThat(map.regions()).hasSize(3);
            assertThat(map.region(A + p)).isEqualTo(new RegionInfo(A + p, 2 * p, READ, READ, VmInherit.COPY, false, p));
            // Attributes equal again: one entry again.
            map.allocate(A + 10 * p, p, VmFlags.FIXED);
            map.protect(A + 10 * p, p, false, READ);
            map.protect(A + 10 * p, p, false, RW);
            assertThat(map.region(A + 10 * p).size()).isEqualTo(p);
            VmMap other = VmTestSupport.newMap(f, m);
            other.allocate(A, 5 * p, VmFlags.FIXED);
            other.protect(A + p, p, false, NONE);
            other.protect(A + 3 * p, p, false, READ);
            assertThat(other.regions()).hasSize(5);
            other.protect(A, 5 * p, false, RW);
            assertThat(other.regions()).containsExactly(new RegionInfo(A, 5 * p, RW, ALL, VmInherit.COPY, false, 0));
        }

        @ParameterizedTest
        @MethodSource(CONFIGS)
        void deallocateSplitsEntries(Flavor f, ErrorModel m) {
            VmMap map = VmTestSupport.newMap(f, m);
            long p = f.pageSize();
            map.allocate(A, 3 * p, VmFlags.FIXED);
            map.deallocate(A + p, p);
            assertThat(map.regions()).containsExactly(
                    new RegionInfo(A, p, RW, ALL, VmInherit.COPY, false, 0),
                    new RegionInfo(A + 2 * p, p, RW, ALL, VmInherit.COPY, false, 2 * p));
            assertThat(map.region(A + p).address()).isEqualTo(A + 2 * p);
            map.allocate(A + p, p, VmFlags.FIXED);
            // Per page the attributes are equal again (whether the entries merge is up to the map).
            long covered = 0;
            for (RegionInfo r : map.regions()) {
                assertThat(r.protection()).isEqualTo(RW);
                assertThat(r.maxProtection()).isEqualTo(ALL);
                assertThat(r.inheritance()).isEqualTo(VmInherit.COPY);
                covered += r.size();
            }
            assertThat(covered).isEqualTo(3 * p);
        }
    }
}
