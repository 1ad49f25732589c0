package io.machvm.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The counts a {@link PageTable} answers a leaf at a time agree with the same counts taken a page at a time: the
 * population of a range, and the nodes that pages moved from another table would need.
 */
class PageTableTest {
    private static final long LEAF = 1024;

    /** Pages in clusters over a few leaves, some full, some sparse, across interior nodes. */
    private static PageTable randomTable(Random rnd) {
        PageTable table = new PageTable();
        int clusters = 1 + rnd.nextInt(6);
        for (int c = 0; c < clusters; c++) {
            long start = (rnd.nextInt(4) << 20) + rnd.nextInt(8) * LEAF + rnd.nextInt((int) LEAF);
            long length = rnd.nextBoolean() ? LEAF + rnd.nextInt((int) (3 * LEAF)) : 1 + rnd.nextInt(40);
            int stride = 1 + (rnd.nextBoolean() ? 0 : rnd.nextInt(300));
            for (long p = start; p < start + length; p += stride) {
                table.set(p, 1 + (int) (p & 0xFFFF));
            }
        }
        return table;
    }

    private static long[] randomRange(Random rnd) {
        long from = rnd.nextBoolean() ? (rnd.nextInt(4) << 20) + rnd.nextInt(8) * LEAF : rnd.nextInt(5 << 20);
        long length = rnd.nextInt(4) == 0 ? rnd.nextInt(8) * LEAF : rnd.nextInt(6 << 20);
        return new long[] {from, from + length};
    }

    @Test
    void populationOfARangeCountsEachResidentPageOnce() {
        Random rnd = new Random(0x7ab1e1L);
        for (int round = 0; round < 300; round++) {
            PageTable table = randomTable(rnd);
            long[] range = randomRange(rnd);
            long[] visited = {0};
            table.forEach(range[0], range[1], (p, h) -> visited[0]++);
            assertThat(table.populationIn(range[0], range[1])).as("round %d", round).isEqualTo(visited[0]);
        }
    }

    @Test
    void nodesForAnotherTablesLeavesEqualThoseForItsPagesOneByOneAndItsPagesAreCounted() {
        Random rnd = new Random(0x7ab1e2L);
        for (int round = 0; round < 300; round++) {
            PageTable source = randomTable(rnd);
            PageTable dest = round % 3 == 0 ? new PageTable() : randomTable(rnd);
            long[] range = randomRange(rnd);
            long shift = rnd.nextBoolean() ? (rnd.nextInt(64) - 8) * LEAF : rnd.nextInt(8 << 20);
            if (range[0] + shift < 0) {
                shift = -range[0];
            }
            PageTable.Growth byPage = dest.growth();
            long finalShift = shift;
            source.forEach(range[0], range[1], (p, h) -> byPage.add(p + finalShift));
            PageTable.Growth byLeaf = dest.growth();
            long moved = byLeaf.addLeavesOf(source, range[0], range[1], shift);
            assertThat(byLeaf.count()).as("round %d", round).isEqualTo(byPage.count());
            assertThat(moved).as("round %d", round).isEqualTo(source.populationIn(range[0], range[1]));
        }
    }
}
