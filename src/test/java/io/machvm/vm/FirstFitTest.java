package io.machvm.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** vm_allocate(ANYWHERE) is first fit from the map minimum, however fragmented the map is. */
class FirstFitTest {
    private static final long MIN = Flavor.ARM64.minAddress();
    private static final long P = Flavor.ARM64.pageSize();

    @Test
    void holeIndexFindsTheLowestHoleLargeEnough() {
        HoleIndex holes = new HoleIndex();
        TreeMap<Long, Long> reference = new TreeMap<>();
        Random random = new Random(7);
        long at = 0;
        for (int i = 0; i < 2000; i++) {
            long size = 1 + random.nextInt(100);
            holes.add(at, size);
            reference.put(at, size);
            at += size + 1 + random.nextInt(5);
        }
        for (int i = 0; i < 500; i++) {
            if (random.nextBoolean() && !reference.isEmpty()) {
                long key = reference.ceilingKey((long) random.nextInt((int) at));
                if (key != 0 || reference.containsKey(0L)) {
                    assertThat(holes.remove(key)).isEqualTo(reference.remove(key));
                }
            }
            long want = 1 + random.nextInt(120);
            long expected = reference.entrySet().stream().filter(e -> e.getValue() >= want)
                    .mapToLong(e -> e.getKey()).findFirst().orElse(-1);
            assertThat(holes.firstFit(want)).as("first fit of %d", want).isEqualTo(expected);
        }
        java.util.List<Long> starts = new java.util.ArrayList<>();
        holes.forEach(0, Long.MAX_VALUE, (start, size) -> {
            starts.add(start);
            return 0;
        });
        assertThat(starts).containsExactlyElementsOf(reference.keySet());
    }

    @Test
    void anywhereTakesTheLowestFittingHoleInAFragmentedMap() {
        VmMap map = VmTestSupport.newMap(Flavor.ARM64, ErrorModel.DOCUMENTED);
        int entries = 20_000;
        // Pairs of pages: keep the first, free the second; one-page holes everywhere.
        assertThat(map.allocate(0, 2L * entries * P, VmFlags.ANYWHERE)).isEqualTo(MIN);
        for (int i = 0; i < entries; i++) {
            map.deallocate(MIN + (2L * i + 1) * P, P);
        }
        assertThat(map.regionCount()).isEqualTo(entries);
        // A one-page allocation fills the lowest hole; a two-page one must go past every one-page hole, to the
        // last freed page, which joined the free space at the top of the map.
        assertThat(map.allocate(0, P, VmFlags.ANYWHERE)).isEqualTo(MIN + P);
        assertThat(map.allocate(0, 2 * P, VmFlags.ANYWHERE)).isEqualTo(MIN + (2L * entries - 1) * P);
        // Freeing three neighbouring pages makes a three-page hole, which is now the first fit for two pages.
        map.deallocate(MIN + 100 * P, 3 * P);
        assertThat(map.allocate(0, 2 * P, VmFlags.ANYWHERE)).isEqualTo(MIN + 99 * P);
        map.terminate();
    }
}
