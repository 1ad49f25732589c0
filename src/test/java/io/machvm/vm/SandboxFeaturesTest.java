package io.machvm.vm;

import static io.machvm.vm.KernReturn.KERN_INVALID_ADDRESS;
import static io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT;
import static io.machvm.vm.KernReturn.KERN_PROTECTION_FAILURE;
import static io.machvm.vm.VmTestSupport.assertKern;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machvm.store.PageStore;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Fork with vm_inherit, portable task images, dirty pages and atomic groups of calls, on the core. */
class SandboxFeaturesTest {
    private static final long A = 0x2_8000_0000L;

    private static byte[] pattern(int length, int seed) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) (i * 31 + seed);
        }
        return bytes;
    }

    // ---------------------------------------------------------------- fork

    @ParameterizedTest
    @EnumSource(Flavor.class)
    void forkFollowsEachEntrysInheritance(Flavor flavor) {
        VmMap parent = VmTestSupport.newMap(flavor, ErrorModel.DOCUMENTED);
        PageStore store = parent.store();
        int p = flavor.pageSize();
        parent.allocate(A, 6L * p, VmFlags.FIXED);
        parent.write(A, pattern(6 * p, 1));
        parent.inherit(A + 2L * p, 2L * p, VmInherit.SHARE);
        parent.inherit(A + 4L * p, 2L * p, VmInherit.NONE);
        long before = store.residentPages();

        VmMap child = parent.fork();

        assertThat(store.residentPages()).as("fork copies no page").isEqualTo(before);
        List<RegionInfo> regions = child.regions();
        assertThat(regions).extracting(RegionInfo::address).containsExactly(A, A + 2L * p);
        assertThat(regions.get(0).shared()).isFalse();
        assertThat(regions.get(1).shared()).isTrue();
        assertThat(parent.region(A + 2L * p).shared()).isTrue();
        assertThat(child.read(A, 4L * p)).isEqualTo(Arrays.copyOf(pattern(6 * p, 1), 4 * p));
        assertKern(KERN_INVALID_ADDRESS, () -> child.read(A + 4L * p, 1));

        VmTestSupport.assertCopiedAndSharedPages(parent, child, A, p);

        parent.terminate();
        assertThat(child.read(A + 2L * p + 5, 1)).as("shared memory outlives one sharer").containsExactly(42);
        child.terminate();
        assertThat(store.residentPages()).isZero();
        assertThat(store.sharedPages()).isZero();
    }

    @Test
    void sharedMemoryFollowsVmCopyAndDeallocate() {
        VmMap parent = VmTestSupport.newMap(Flavor.ARM64, ErrorModel.DOCUMENTED);
        int p = Flavor.ARM64.pageSize();
        parent.allocate(A, 4L * p, VmFlags.FIXED);
        parent.inherit(A, 4L * p, VmInherit.SHARE);
        VmMap child = parent.fork();
        parent.write(A, pattern(p, 3));
        // a copy-on-write copy into shared memory is seen by the other sharer
        child.copy(A, p, A + 2L * p);
        assertThat(parent.read(A + 2L * p, p)).isEqualTo(pattern(p, 3));
        parent.write(A, new byte[] {1});
        assertThat(child.read(A + 2L * p, 1)).containsExactly(pattern(1, 3)[0]);
        // one sharer unmapping part of the range leaves the other's view intact
        child.deallocate(A, p);
        assertThat(parent.read(A, 1)).containsExactly(1);
        assertKern(KERN_INVALID_ADDRESS, () -> child.read(A, 1));
        // protections stay per task
        child.protect(A + p, p, false, VmProt.READ);
        assertKern(KERN_PROTECTION_FAILURE, () -> child.write(A + p, new byte[1]));
        parent.write(A + p, new byte[] {7});
        assertThat(child.read(A + p, 1)).containsExactly(7);
        PageStore store = parent.store();
        child.terminate();
        parent.terminate();
        assertThat(store.residentPages()).isZero();
    }

    @Test
    void forkOfAForkAndForkOfSharedMemoryAsCopy() {
        VmMap a = VmTestSupport.newMap(Flavor.X86_64, ErrorModel.DOCUMENTED);
        int p = Flavor.X86_64.pageSize();
        a.allocate(A, 2L * p, VmFlags.FIXED);
        a.write(A, pattern(2 * p, 5));
        a.inherit(A, p, VmInherit.SHARE);
        VmMap b = a.fork();
        b.inherit(A, p, VmInherit.COPY); // b's child gets a private copy of the shared page
        VmMap c = b.fork();
        a.write(A, new byte[] {99});
        assertThat(b.read(A, 1)).containsExactly(99);
        assertThat(c.read(A, 1)).containsExactly(pattern(1, 5)[0]);
        c.write(A + p, new byte[] {77});
        assertThat(a.read(A + p, 1)).containsExactly(pattern(p + 1, 5)[p]);
        PageStore store = a.store();
        a.terminate();
        b.terminate();
        c.terminate();
        assertThat(store.residentPages()).isZero();
    }

    // ---------------------------------------------------------------- task images

    private static byte[] imageOf(VmMap map, String name) throws IOException {
        try (TaskImage image = map.exportImage(name, false)) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            image.writeTo(out);
            assertThat((long) out.size()).isEqualTo(image.sizeBytes());
            return out.toByteArray();
        }
    }

    @ParameterizedTest
    @EnumSource(Flavor.class)
    void anImageRestoresByteIdentical(Flavor flavor) throws IOException {
        VmMap map = VmTestSupport.newMap(flavor, ErrorModel.XNU);
        int p = flavor.pageSize();
        map.allocate(A, 8L * p, VmFlags.FIXED);
        map.allocate(A + 100L * p, 1L << 30, VmFlags.FIXED); // a large untouched region costs nothing
        map.write(A + 3, pattern(3 * p, 7));
        map.write(A + 100L * p + (1L << 29), pattern(10, 2));
        map.protect(A + 4L * p, p, false, VmProt.READ);
        map.protect(A + 5L * p, p, true, VmProt.READ | VmProt.EXECUTE);
        map.inherit(A + 6L * p, p, VmInherit.NONE);

        byte[] bytes = imageOf(map, "sandbox-1");
        TaskImage.Restored restored = TaskImage.read(new ByteArrayInputStream(bytes), f -> map.store());

        VmMap copy = restored.map();
        assertThat(restored.name()).isEqualTo("sandbox-1");
        assertThat(copy.flavor()).isEqualTo(flavor);
        assertThat(copy.errors()).isEqualTo(ErrorModel.XNU);
        assertThat(copy.regions()).isEqualTo(map.regions());
        assertThat(copy.residentPages()).isEqualTo(map.residentPages());
        assertThat(copy.read(A, 8L * p)).isEqualTo(map.read(A, 8L * p));
        assertThat(copy.read(A + 100L * p + (1L << 29), 10)).isEqualTo(pattern(10, 2));
        assertThat(imageOf(copy, "sandbox-1")).isEqualTo(bytes);
        // independent afterwards
        copy.write(A + 3, new byte[] {1});
        assertThat(map.read(A + 3, 1)).containsExactly(pattern(1, 7)[0]);
        map.terminate();
        copy.terminate();
        assertThat(map.store().residentPages()).isZero();
    }

    /** A name whose bytes are not UTF-8 would come back as another name: the image is refused instead. */
    @Test
    void anImageWhoseNameIsNotUtf8IsRefused() throws IOException {
        VmMap map = VmTestSupport.newMap(Flavor.ARM64, ErrorModel.DOCUMENTED);
        byte[] bytes = imageOf(map, "ab");
        int nameAt = 8 + 2 + 1 + Flavor.ARM64.wireName().length() + 1 + ErrorModel.DOCUMENTED.wireName().length() + 2;
        assertThat(new String(bytes, nameAt, 2, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("ab");
        bytes[nameAt] = (byte) 0xC3; // a lead byte followed by an ASCII byte: malformed
        bytes[nameAt + 1] = (byte) 0x28;
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(bytes, 0, bytes.length - 4);
        java.nio.ByteBuffer.wrap(bytes).putInt(bytes.length - 4, (int) crc.getValue());
        PageStore store = map.store();
        assertThatThrownBy(() -> TaskImage.read(new ByteArrayInputStream(bytes), f -> store))
                .isInstanceOfSatisfying(KernException.class, e -> assertThat(e.kern()).isEqualTo(KERN_INVALID_ARGUMENT))
                .hasMessageContaining("UTF-8");
        // a well-formed name outside the BMP comes back byte for byte
        byte[] emoji = imageOf(map, "\ud83d\ude00 x");
        TaskImage.Restored restored = TaskImage.read(new ByteArrayInputStream(emoji), f -> store);
        assertThat(imageOf(restored.map(), restored.name())).isEqualTo(emoji);
        restored.map().terminate();
        map.terminate();
    }

    @Test
    void aCorruptOrTruncatedImageIsRefusedAndCreatesNothing() throws IOException {
        VmMap map = VmTestSupport.newMap(Flavor.ARM64, ErrorModel.DOCUMENTED);
        int p = Flavor.ARM64.pageSize();
        map.allocate(A, 4L * p, VmFlags.FIXED);
        map.write(A, pattern(3 * p, 1));
        byte[] bytes = imageOf(map, null);
        PageStore store = map.store();
        long resident = store.residentPages();
        int[] positions = {0, 9, 12, 20, 40, 60, bytes.length / 2, bytes.length - 13, bytes.length - 5,
            bytes.length - 1};
        for (int position : positions) {
            byte[] corrupt = bytes.clone();
            corrupt[position] ^= 0x40;
            assertThatThrownBy(() -> TaskImage.read(new ByteArrayInputStream(corrupt), f -> store))
                    .as("flipped byte %d", position)
                    .isInstanceOfSatisfying(KernException.class,
                            e -> assertThat(e.kern()).isEqualTo(KERN_INVALID_ARGUMENT));
            assertThat(store.residentPages()).isEqualTo(resident);
        }
        for (int length : new int[] {0, 5, 30, bytes.length / 3, bytes.length - 1}) {
            byte[] truncated = Arrays.copyOf(bytes, length);
            assertThatThrownBy(() -> TaskImage.read(new ByteArrayInputStream(truncated), f -> store))
                    .as("truncated to %d", length).hasMessageContaining("corrupt");
            assertThat(store.residentPages()).isEqualTo(resident);
        }
        byte[] longer = Arrays.copyOf(bytes, bytes.length + 1);
        assertThatThrownBy(() -> TaskImage.read(new ByteArrayInputStream(longer), f -> store))
                .hasMessageContaining("follow");
        assertThat(store.residentPages()).isEqualTo(resident);
        map.terminate();
    }

    // ---------------------------------------------------------------- dirty pages

    @Test
    void dirtyPagesAreThoseWrittenSinceTheLastClear() throws IOException {
        VmMap map = VmTestSupport.newMap(Flavor.ARM64, ErrorModel.DOCUMENTED);
        int p = Flavor.ARM64.pageSize();
        map.allocate(A, 6L * p, VmFlags.FIXED);
        map.write(A, pattern(2 * p, 1));
        int[] d = map.pageDispositions(A, 6L * p);
        assertThat(d).containsExactly(VmMap.PAGE_PRESENT | VmMap.PAGE_DIRTY, VmMap.PAGE_PRESENT | VmMap.PAGE_DIRTY,
                0, 0, 0, 0);
        map.clearDirty();
        assertThat(map.pageDispositions(A, 6L * p)).containsExactly(VmMap.PAGE_PRESENT, VmMap.PAGE_PRESENT, 0, 0, 0, 0);
        map.copy(A, p, A + 3L * p); // shares the page copy-on-write
        d = map.pageDispositions(A, 6L * p);
        assertThat(d[0]).isEqualTo(VmMap.PAGE_PRESENT | VmMap.PAGE_SHARED);
        assertThat(d[3]).isEqualTo(VmMap.PAGE_PRESENT | VmMap.PAGE_SHARED | VmMap.PAGE_DIRTY);
        map.write(A + 5L * p + 7, new byte[] {1}, 0, 1);
        assertThat(map.pageDispositions(A + 5L * p, 1)).containsExactly(VmMap.PAGE_PRESENT | VmMap.PAGE_DIRTY);
        // an image taken with clearDirty starts the next increment
        map.exportImage(null, true).close();
        assertThat(Arrays.stream(map.pageDispositions(A, 6L * p)).filter(x -> (x & VmMap.PAGE_DIRTY) != 0)).isEmpty();
        // unmapped pages answer 0; wrapping ranges and oversized queries are refused
        assertThat(map.pageDispositions(A - p, p)).containsExactly(0);
        assertThat(map.pageDispositions(-1L, 0)).isEmpty();
        assertKern(KERN_INVALID_ARGUMENT, () -> map.pageDispositions(-2L, 4));
        assertKern(KERN_INVALID_ARGUMENT, () -> map.pageDispositions(A, (VmMap.MAX_QUERY_PAGES + 1) * p));
        map.terminate();
    }

    // ---------------------------------------------------------------- atomic groups

    @Test
    void aFailingAtomicGroupLeavesTheMapExactlyAsBefore() {
        VmMap map = VmTestSupport.newMap(Flavor.ARM64, ErrorModel.DOCUMENTED);
        int p = Flavor.ARM64.pageSize();
        map.allocate(A, 4L * p, VmFlags.FIXED);
        map.write(A, pattern(4 * p, 1));
        map.inherit(A, p, VmInherit.SHARE);
        VmMap sibling = map.fork();
        List<RegionInfo> regionsBefore = map.regions();
        byte[] bytesBefore = map.read(A, 4L * p);
        long resident = map.store().residentPages();

        assertKern(KERN_INVALID_ADDRESS, () -> map.atomically(() -> {
            map.write(A, pattern(p, 9)); // into shared memory
            map.write(A + 2L * p, pattern(p, 9));
            map.protect(A + p, p, false, VmProt.READ);
            map.deallocate(A + 3L * p, p);
            map.allocate(0, 8L * p, VmFlags.ANYWHERE);
            map.copy(A, p, A + 0x1000_0000L); // unmapped: fails, everything above is undone
            return null;
        }));

        assertThat(map.regions()).isEqualTo(regionsBefore);
        assertThat(map.read(A, 4L * p)).isEqualTo(bytesBefore);
        assertThat(sibling.read(A, p)).isEqualTo(Arrays.copyOf(bytesBefore, p));
        assertThat(map.store().residentPages()).isEqualTo(resident);
        assertThat(map.allocate(0, p, VmFlags.ANYWHERE)).as("holes restored too").isEqualTo(A - 0x1_8000_0000L);

        long address = map.atomically(() -> {
            map.write(A + 2L * p, new byte[] {5});
            return map.allocate(0, p, VmFlags.ANYWHERE);
        });
        assertThat(map.read(A + 2L * p, 1)).containsExactly(5);
        assertThat(map.region(address).address()).isEqualTo(address);
        map.terminate();
        sibling.terminate();
        assertThat(map.store().residentPages()).isZero();
    }
}
