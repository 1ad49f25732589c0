package io.machvm.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.machvm.service.PageStores;
import io.machvm.service.TaskRegistry;
import io.machvm.service.TaskSpec;
import io.machvm.service.TaskTransfers;
import io.machvm.service.VmService;
import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Shard 0 of two holds tasks of shard 1 (a fake owner that has some of them): a copy the owner has is dropped; one it
 * lacks is dropped too when this shard missed the scale that moved it (deleted there since), and handed off, never
 * replacing anything, when this shard stopped in the middle of that scale. Its own tasks stay; a stray is never
 * routed here.
 */
class StrayTasksTest {
    private static final String SECRET = "stray-secret-0123456789abcdef-0123456789";

    private final PageStores stores = new PageStores(64L << 20, 1L << 20);
    private final TaskRegistry registry = new TaskRegistry(stores, Flavor.ARM64, ErrorModel.DOCUMENTED, 100);
    private final VmService vm = new VmService(registry, Flavor.ARM64, 1L << 30, new SimpleMeterRegistry());
    private final List<String> imports = new CopyOnWriteArrayList<>();
    private final HttpServer owner = owner(Set.of("at-owner"));

    @AfterEach
    void stop() {
        owner.stop(0);
    }

    /** Shard 1: has the tasks {@code present} of tenant default, and takes images (recording their query). */
    private HttpServer owner(Set<String> present) {
        try {
            HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            server.createContext("/tasks/", exchange -> {
                String id = exchange.getRequestURI().getPath().substring("/tasks/default~".length());
                boolean secret = SECRET.equals(exchange.getRequestHeaders().getFirst("Machvm-Cluster-Secret"));
                exchange.sendResponseHeaders(!secret ? 401 : present.contains(id) ? 200 : 404, -1);
                exchange.close();
            });
            server.createContext("/cluster/import", exchange -> {
                exchange.getRequestBody().readAllBytes();
                imports.add(exchange.getRequestURI().getQuery());
                exchange.sendResponseHeaders(201, -1);
                exchange.close();
            });
            server.start();
            return server;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** An id of tenant default that the even table of two gives to the shard. */
    private static String idOn(int shard, String prefix) {
        for (int i = 0; ; i++) {
            String id = prefix + i;
            if (Placement.slot("default", id) / 8192 == shard) {
                return id;
            }
        }
    }

    private ClusterService shard0(boolean stoppedMidScale) {
        SlotTable table = SlotTable.even(List.of("http://127.0.0.1:1",
                "http://127.0.0.1:" + owner.getAddress().getPort()));
        // the file of a shard that had begun a scale (which here moves no slot) when it stopped
        SlotTable pending = stoppedMidScale ? table.rebalance(table.shards()) : null;
        ClusterState state = new ClusterState(0, table, pending, null);
        // a node that keeps nothing across restarts (no checkpoint log)
        return new ClusterService(state, new TaskTransfers(registry, null), new ClusterProperties(true, 0, 2, "", "",
                "", Duration.ofSeconds(1), true, SECRET));
    }

    private void tasks(String... ids) {
        for (String id : ids) {
            vm.createTask(id, TaskSpec.DEFAULTS);
        }
    }

    @Test
    void aShardThatMissedTheScaleDropsEveryCopyOfAnotherShardsTask() {
        String mine = idOn(0, "mine-");
        String missing = idOn(1, "missing-");
        tasks(mine, "at-owner", missing);
        assertThat(Placement.slot("default", "at-owner") / 8192).isEqualTo(1);
        ClusterService cluster = shard0(false);
        assertThat(cluster.route("default", missing, false)).as("a stray is never served").isEqualTo(1);

        StrayTasks.Outcome outcome = new StrayTasks(cluster, registry, SECRET).settle();
        assertThat(outcome).isEqualTo(new StrayTasks.Outcome(2, 0, 0));
        assertThat(registry.contains("default", mine)).isTrue();
        assertThat(registry.contains("default", "at-owner")).isFalse();
        assertThat(registry.contains("default", missing)).isFalse();
        assertThat(imports).isEmpty();
    }

    @Test
    void aShardStoppedMidScaleHandsOffWhatTheOwnerLacksWithoutReplacing() {
        String missing = idOn(1, "missing-");
        tasks("at-owner", missing);
        ClusterService cluster = shard0(true);
        assertThat(cluster.route("default", missing, false)).as("a stray is never served").isEqualTo(1);

        StrayTasks.Outcome outcome = new StrayTasks(cluster, registry, SECRET).settle();
        assertThat(outcome).isEqualTo(new StrayTasks.Outcome(1, 1, 0));
        assertThat(imports).containsExactly("replace=false");
        assertThat(registry.contains("default", missing)).isFalse();
        assertThat(registry.contains("default", "at-owner")).isFalse();
    }

    @Test
    void anOwnerThatDoesNotAnswerLeavesTheCopyForLater() {
        String missing = idOn(1, "missing-");
        tasks(missing);
        owner.stop(0);
        StrayTasks.Outcome outcome = new StrayTasks(shard0(false), registry, SECRET).settle();
        assertThat(outcome).isEqualTo(new StrayTasks.Outcome(0, 0, 1));
        assertThat(registry.contains("default", missing)).isTrue();
    }
}
