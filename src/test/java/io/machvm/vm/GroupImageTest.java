package io.machvm.vm;

import static io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT;
import static io.machvm.vm.KernReturn.KERN_RESOURCE_SHORTAGE;
import static io.machvm.vm.VmTestSupport.pattern;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machvm.store.PageStore;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Group images: tasks that move together arrive sharing what they shared (copy-on-write pages and share-inherited
 * memory) with each distinct page sent once, go on diverging correctly afterwards, and a damaged image leaves nothing.
 */
class GroupImageTest {
    private static final long A = 0x100000000L;

    /** A parent (2 copy pages, 2 shared pages) and its fork, the child having written one copy page since. */
    private record Family(VmMap parent, VmMap child) {
    }

    private static Family family(Flavor flavor) {
        VmMap parent = VmTestSupport.newMap(flavor, ErrorModel.DOCUMENTED);
        int p = flavor.pageSize();
        parent.allocate(A, 4L * p, VmFlags.FIXED);
        parent.write(A, pattern(4 * p, 1));
        parent.inherit(A + 2L * p, 2L * p, VmInherit.SHARE);
        VmMap child = parent.fork();
        child.write(A + 1L * p, new byte[] {7});
        return new Family(parent, child);
    }

    private static byte[] bytesOf(List<GroupImage.Member> members) throws IOException {
        try (GroupImage image = GroupImage.take(members)) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            image.writeTo(out);
            assertThat((long) out.size()).as("sizeBytes").isEqualTo(image.sizeBytes());
            return out.toByteArray();
        }
    }

    private static List<GroupImage.Member> members(VmMap... maps) {
        List<GroupImage.Member> out = new ArrayList<>();
        for (int i = 0; i < maps.length; i++) {
            out.add(new GroupImage.Member("default", "t" + i, i == 0 ? "parent" : null, maps[i]));
        }
        return out;
    }

    private static List<VmMap> read(byte[] bytes, PageStore store, List<Integer> sunk) throws IOException {
        GroupImageReader reader = GroupImageReader.open(new ByteArrayInputStream(bytes));
        List<MapBudgets> budgets = Collections.nCopies(reader.headings().size(), MapBudgets.unlimited());
        return reader.restore(store, budgets, (s, handle) -> sunk.add(handle));
    }

    @ParameterizedTest
    @EnumSource(Flavor.class)
    void aFamilyArrivesSharingItsPagesAndDivergesAfterwards(Flavor flavor) throws IOException {
        Family source = family(flavor);
        int p = flavor.pageSize();
        long sourceResident = source.parent().store().residentPages();
        long sourceShared = source.parent().store().sharedPages();
        byte[] bytes = bytesOf(members(source.parent(), source.child()));
        assertThat(bytes.length).as("each distinct page once").isLessThan((int) ((sourceResident + 1) * (p + 4)
                + 4096));

        PageStore store = VmTestSupport.newStore(flavor, 16L << 20);
        List<Integer> sunk = new ArrayList<>();
        GroupImageReader reader = GroupImageReader.open(new ByteArrayInputStream(bytes));
        assertThat(reader.headings()).extracting(GroupImageReader.Heading::id).containsExactly("t0", "t1");
        assertThat(reader.headings().getFirst().name()).isEqualTo("parent");
        List<VmMap> maps = reader.restore(store, List.of(MapBudgets.unlimited(), MapBudgets.unlimited()),
                (s, handle) -> sunk.add(handle));
        VmMap parent = maps.get(0);
        VmMap child = maps.get(1);
        assertThat(store.residentPages()).isEqualTo(sourceResident);
        assertThat(store.sharedPages()).isEqualTo(sourceShared);
        assertThat(sunk).hasSize((int) sourceResident).doesNotHaveDuplicates();
        assertThat(parent.regions()).isEqualTo(source.parent().regions());
        assertThat(child.regions()).isEqualTo(source.child().regions());
        assertThat(parent.read(A, 4L * p)).isEqualTo(source.parent().read(A, 4L * p));
        assertThat(child.read(A, 4L * p)).isEqualTo(source.child().read(A, 4L * p));

        // copy-on-write: the child's write to the page they share copies it, the parent's then lands in place
        VmTestSupport.assertCopiedAndSharedPages(parent, child, A, p);
        assertThat(store.residentPages()).isEqualTo(sourceResident + 1);

        parent.terminate();
        child.terminate();
        assertThat(store.residentPages()).isZero();
        assertThat(store.sharedPages()).isZero();
        source.parent().terminate();
        source.child().terminate();
        assertThat(source.parent().store().residentPages()).as("the image gave its references back").isZero();
    }

    @Test
    void familiesAreTheMapsLinkedByAPageOrByMemory() {
        Family cow = family(Flavor.ARM64);
        VmMap sharesOnly = VmTestSupport.newMap(Flavor.ARM64, ErrorModel.DOCUMENTED);
        int p = Flavor.ARM64.pageSize();
        sharesOnly.allocate(A, p, VmFlags.FIXED);
        sharesOnly.inherit(A, p, VmInherit.SHARE);
        VmMap sharer = sharesOnly.fork();
        VmMap alone = VmTestSupport.newMap(Flavor.ARM64, ErrorModel.DOCUMENTED);
        alone.allocate(A, p, VmFlags.FIXED);
        alone.write(A, new byte[] {1});

        int[] family = GroupImage.families(List.of(cow.parent(), alone, sharesOnly, cow.child(), sharer));

        assertThat(family[0]).isEqualTo(family[3]);
        assertThat(family[2]).isEqualTo(family[4]);
        assertThat(family[1]).isNotIn(family[0], family[2]);
        assertThat(family[0]).isNotEqualTo(family[2]);
    }

    @Test
    void tasksMovedApartArriveAsCopiesAndTogetherAsOne() throws IOException {
        Family source = family(Flavor.ARM64);
        byte[] together = bytesOf(members(source.parent(), source.child()));
        byte[] parentAlone = bytesOf(members(source.parent()));
        byte[] childAlone = bytesOf(members(source.child()));
        assertThat(together.length).isLessThan(parentAlone.length + childAlone.length - Flavor.ARM64.pageSize());
        PageStore store = VmTestSupport.newStore(Flavor.ARM64, 16L << 20);
        List<VmMap> apart = new ArrayList<>(read(parentAlone, store, new ArrayList<>()));
        apart.addAll(read(childAlone, store, new ArrayList<>()));
        assertThat(store.sharedPages()).isZero();
        assertThat(apart.get(1).read(A, 4L * Flavor.ARM64.pageSize()))
                .isEqualTo(source.child().read(A, 4L * Flavor.ARM64.pageSize()));
        apart.forEach(VmMap::terminate);
        assertThat(store.residentPages()).isZero();
    }

    @Test
    void aCorruptTruncatedOrTooLargeImageIsRefusedAndLeavesNothing() throws IOException {
        Family source = family(Flavor.ARM64);
        byte[] bytes = bytesOf(members(source.parent(), source.child()));
        PageStore store = VmTestSupport.newStore(Flavor.ARM64, 16L << 20);
        int p = Flavor.ARM64.pageSize();
        int[] positions = {0, 9, 12, 30, 60, 70, 80 + p / 2, bytes.length / 2, bytes.length - 60, bytes.length - 13,
            bytes.length - 5, bytes.length - 1};
        for (int position : positions) {
            byte[] corrupt = bytes.clone();
            corrupt[position] ^= 0x40;
            assertThatThrownBy(() -> read(corrupt, store, new ArrayList<>()))
                    .as("flipped byte %d", position)
                    .isInstanceOfSatisfying(KernException.class,
                            e -> assertThat(e.kern()).isEqualTo(KERN_INVALID_ARGUMENT));
            assertThat(store.residentPages()).isZero();
        }
        for (int length : new int[] {0, 5, 30, bytes.length / 3, bytes.length - 1}) {
            byte[] truncated = Arrays.copyOf(bytes, length);
            assertThatThrownBy(() -> read(truncated, store, new ArrayList<>()))
                    .as("truncated to %d", length).hasMessageContaining("corrupt");
            assertThat(store.residentPages()).isZero();
        }
        byte[] longer = Arrays.copyOf(bytes, bytes.length + 1);
        assertThatThrownBy(() -> read(longer, store, new ArrayList<>())).hasMessageContaining("follow");
        assertThat(store.residentPages()).isZero();

        PageStore small = VmTestSupport.newStore(Flavor.ARM64, 2L * p);
        assertThatThrownBy(() -> read(bytes, small, new ArrayList<>()))
                .isInstanceOfSatisfying(KernException.class,
                        e -> assertThat(e.kern()).isEqualTo(KERN_RESOURCE_SHORTAGE));
        assertThat(small.residentPages()).isZero();
    }
}
