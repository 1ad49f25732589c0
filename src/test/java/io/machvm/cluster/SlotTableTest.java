package io.machvm.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

/** The ownership table: placement keys, even splits, scale changes that move few slots, the stored form. */
class SlotTableTest {
    private static List<String> shards(int n) {
        return IntStream.range(0, n).mapToObj(i -> "http://machvm-" + i + ":8080").toList();
    }

    @Test
    void placementKeyIsThePartBeforeTheFirstDot() {
        assertThat(Placement.key("build-42")).isEqualTo("build-42");
        assertThat(Placement.key("build-42.fork1")).isEqualTo("build-42");
        assertThat(Placement.key("build-42.a.b")).isEqualTo("build-42");
        assertThat(Placement.key(".hidden")).isEqualTo(".hidden");
        assertThat(Placement.slot("default", "build-42.fork1")).isEqualTo(Placement.slot("default", "build-42"));
        assertThat(Placement.slot("default", "x")).isBetween(0, Placement.SLOTS - 1);
    }

    @Test
    void tenantIsPartOfPlacement() {
        long differ = IntStream.range(0, 100).filter(i -> Placement.slot("a", "t" + i) != Placement.slot("b", "t" + i))
                .count();
        assertThat(differ).isGreaterThan(90);
    }

    @Test
    void evenSplitGivesEveryShardItsShareInOneRange() {
        SlotTable table = SlotTable.even(shards(3));
        int[] counts = new int[3];
        for (int slot = 0; slot < Placement.SLOTS; slot++) {
            counts[table.owner(slot)]++;
        }
        assertThat(counts).containsExactly(5462, 5461, 5461);
        assertThat(table.owner(0)).isZero();
        assertThat(table.owner(Placement.SLOTS - 1)).isEqualTo(2);
    }

    @Test
    void scalingMovesOnlyTheSlotsTheNewShardsNeed() {
        for (int[] change : new int[][] {{2, 3}, {3, 4}, {4, 3}, {3, 2}, {1, 4}, {4, 1}, {3, 7}}) {
            SlotTable before = SlotTable.even(shards(change[0]));
            SlotTable after = before.rebalance(shards(change[1]));
            assertThat(after.epoch()).isEqualTo(2);
            int[] counts = new int[change[1]];
            for (int slot = 0; slot < Placement.SLOTS; slot++) {
                int owner = after.owner(slot);
                counts[owner]++;
                if (owner != before.owner(slot)) {
                    // a slot moves only to a new shard (up) or away from a removed one (down)
                    assertThat(owner >= change[0] || before.owner(slot) >= change[1]).isTrue();
                }
            }
            for (int count : counts) {
                assertThat(count).isBetween(Placement.SLOTS / change[1], Placement.SLOTS / change[1] + 1);
            }
            // the minimum: what the new shards must hold, or what the removed ones held
            int minimum = change[1] > change[0]
                    ? IntStream.range(change[0], change[1]).map(i -> counts[i]).sum()
                    : IntStream.range(change[1], change[0]).map(i -> countOf(before, i)).sum();
            assertThat(before.slotsMovedTo(after)).isEqualTo(minimum);
        }
    }

    @Test
    void rebalanceIsDeterministic() {
        SlotTable t = SlotTable.even(shards(3));
        assertThat(t.rebalance(shards(5))).isEqualTo(t.rebalance(shards(5)));
    }

    @Test
    void jsonRoundTrips() {
        JsonMapper mapper = JsonMapper.builder().build();
        SlotTable table = SlotTable.even(shards(3)).rebalance(shards(4));
        SlotTable back = SlotTable.fromJson(mapper.readTree(mapper.writeValueAsString(table.toJson(mapper))));
        assertThat(back).isEqualTo(table);
        assertThat(back.shards()).isEqualTo(shards(4));
    }

    @Test
    void hostnameOrdinalIsTheShard() {
        assertThat(ClusterConfiguration.indexFromHostname("machvm-2")).isEqualTo(2);
        assertThat(ClusterConfiguration.indexFromHostname("my-release-machvm-11")).isEqualTo(11);
    }

    @Test
    void peersTemplateExpands() {
        ClusterProperties p = new ClusterProperties(true, 0, 3, "http://m-{i}.hl:8080", "", "",
                java.time.Duration.ofSeconds(5), true, ClusterSettingsTest.SECRET);
        assertThat(ClusterConfiguration.peers(p)).containsExactly("http://m-0.hl:8080", "http://m-1.hl:8080",
                "http://m-2.hl:8080");
        List<String> listed = new ArrayList<>(ClusterConfiguration.peers(new ClusterProperties(true, 0, 0,
                "http://a:1, http://b:2", "", "", java.time.Duration.ofSeconds(5), true,
                ClusterSettingsTest.SECRET)));
        assertThat(listed).containsExactly("http://a:1", "http://b:2");
    }

    private static int countOf(SlotTable table, int shard) {
        int n = 0;
        for (int slot = 0; slot < Placement.SLOTS; slot++) {
            if (table.owner(slot) == shard) {
                n++;
            }
        }
        return n;
    }
}
