package io.machvm.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * What a {@link PageTable} does a leaf at a time agrees with the same done a page at a time: the population of a
 * range, the nodes that pages moved from another table would need, and the overwrite of a range from another range.
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

    /** Every page of a table, by index. */
    private static TreeMap<Long, Integer> contents(PageTable table) {
        TreeMap<Long, Integer> out = new TreeMap<>();
        table.forEach(0, PageTable.MAX_PAGES, out::put);
        return out;
    }

    /** The handles of {@code handles[from, from + length)}, counted (zeros left out). */
    private static void count(Map<Integer, Integer> counts, int[] handles, int from, int length, int sign) {
        for (int i = from; i < from + length; i++) {
            if (handles[i] != 0) {
                counts.merge(handles[i], sign, Integer::sum);
            }
        }
    }

    @Test
    void anOverwriteALeafRunAtATimeEqualsOneSetPerPage() {
        Random rnd = new Random(0x7ab1e3L);
        for (int round = 0; round < 300; round++) {
            boolean oneTable = round % 2 == 0;
            PageTable dest = round % 5 == 0 ? new PageTable() : randomTable(rnd);
            PageTable source = oneTable ? dest : randomTable(rnd);
            // ranges of a few leaves, some across an interior node, where the random tables have their pages
            long length = rnd.nextInt(8) == 0 ? rnd.nextInt(1 << 20) : rnd.nextInt(6 * (int) LEAF);
            long start = (rnd.nextInt(4) << 20) + rnd.nextInt(8) * LEAF + rnd.nextInt((int) LEAF) - length / 2;
            long[] range = {Math.max(0, start), Math.max(0, start) + length};
            long sourceFrom = rnd.nextInt(3) == 0 ? range[0]
                    : Math.max(0, (rnd.nextInt(4) << 20) + rnd.nextInt(8) * LEAF + rnd.nextInt((int) LEAF) - length / 2);
            if (oneTable && sourceFrom < range[1] && range[0] < sourceFrom + length) {
                sourceFrom = range[1] + rnd.nextInt(3 * (int) LEAF); // disjoint, after the destination
            }
            long delta = range[0] - sourceFrom;

            // the expected result, a page at a time
            TreeMap<Long, Integer> expected = contents(dest);
            TreeMap<Long, Integer> sourcePages = contents(source);
            List<Long> touched = new ArrayList<>();
            Map<Integer, Integer> handedOver = new HashMap<>(); // +1 a handle taken, -1 one dropped
            for (long p = range[0]; p < range[1]; p++) {
                int old = expected.getOrDefault(p, 0);
                int handle = sourcePages.getOrDefault(p - delta, 0);
                if ((old | handle) != 0) {
                    touched.add(p);
                }
                if (handle == 0) {
                    expected.remove(p);
                } else {
                    expected.put(p, handle);
                }
                if (old != handle) {
                    count(handedOver, new int[] {handle}, 0, 1, 1);
                    count(handedOver, new int[] {old}, 0, 1, -1);
                }
            }
            handedOver.values().removeIf(n -> n == 0);

            dest.takeChanges(); // from here on, the table keeps its changes
            PageBits marked = new PageBits();
            Map<Integer, Integer> runs = new HashMap<>();
            long visited = dest.overwriteFrom(source, range[0], range[1], delta,
                    (taken, takenFrom, dropped, droppedFrom, n) -> {
                        assertThat(java.util.Arrays.equals(taken, takenFrom, takenFrom + n, dropped, droppedFrom,
                                droppedFrom + n)).as("a run that changes nothing is not handed over").isFalse();
                        count(runs, taken, takenFrom, n, 1);
                        count(runs, dropped, droppedFrom, n, -1);
                    }, marked);
            runs.values().removeIf(n -> n == 0);

            assertThat(contents(dest)).as("round %d", round).isEqualTo(expected);
            assertThat(dest.population()).as("round %d", round).isEqualTo(expected.size());
            PageTable rebuilt = new PageTable();
            expected.forEach(rebuilt::set);
            assertThat(dest.nodes()).as("round %d: empty leaves are dropped", round).isEqualTo(rebuilt.nodes());
            assertThat(runs).as("round %d", round).isEqualTo(handedOver);
            assertThat(visited).as("round %d", round).isEqualTo(touched.size());
            List<Long> marks = new ArrayList<>();
            marked.forEach(0, PageTable.MAX_PAGES, marks::add);
            assertThat(marks).as("round %d", round).isEqualTo(touched);
            List<Long> changes = new ArrayList<>();
            dest.takeChanges().forEach(0, PageTable.MAX_PAGES, changes::add);
            assertThat(changes).as("round %d", round).isEqualTo(touched);
            for (long p : List.of(range[0], range[1] - 1, range[0] + length / 2)) {
                if (p >= range[0] && p < range[1]) {
                    assertThat(dest.get(p)).as("round %d: lookups agree with the walk", round)
                            .isEqualTo(expected.getOrDefault(p, 0));
                }
            }
        }
    }

    @Test
    void anOverwriteOfOverlappingRangesOfOneTableOrPastTheLastPageIsRefusedBeforeAnythingChanges() {
        PageTable table = new PageTable();
        for (long p = 0; p < 3 * LEAF; p += 7) {
            table.set(p, (int) p + 1);
        }
        TreeMap<Long, Integer> before = contents(table);
        PageTable.HandOver none = (taken, takenFrom, dropped, droppedFrom, n) -> {
            throw new AssertionError("nothing may be handed over");
        };
        PageBits marked = new PageBits();
        assertThatThrownBy(() -> table.overwriteFrom(table, LEAF, 2 * LEAF, LEAF / 2, none, marked))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> table.overwriteFrom(table, 0, LEAF, -LEAF + 1, none, marked))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> table.overwriteFrom(new PageTable(), 0, LEAF, 1, none, marked))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> table.overwriteFrom(new PageTable(), PageTable.MAX_PAGES - 1, PageTable.MAX_PAGES + 1,
                0, none, marked)).isInstanceOf(IllegalArgumentException.class);
        assertThat(contents(table)).isEqualTo(before);
        assertThat(marked.words().population()).isZero();
        // adjacent ranges of one table do not overlap: pages 7k of [LEAF, 2 LEAF) and 7k - LEAF of [2 LEAF, 3 LEAF)
        long residentEitherSide = table.populationIn(LEAF, 3 * LEAF);
        assertThat(table.overwriteFrom(table, LEAF, 2 * LEAF, -LEAF, (t, tf, d, df, n) -> { }, marked))
                .isEqualTo(residentEitherSide);
        long firstSourcePage = (2 * LEAF + 6) / 7 * 7;
        assertThat(table.get(firstSourcePage - LEAF)).isEqualTo((int) firstSourcePage + 1);
        assertThat(table.get(LEAF + (7 - LEAF % 7) % 7)).as("a page whose source page has none").isZero();
    }
}
