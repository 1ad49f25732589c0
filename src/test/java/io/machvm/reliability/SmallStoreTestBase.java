package io.machvm.reliability;

import io.machvm.vm.MapInspection;
import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.service.PageStores;
import io.machvm.service.Task;
import io.machvm.service.TaskRegistry;
import io.machvm.service.VmService;
import io.machvm.store.PageStore;
import io.machvm.vm.Flavor;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;

/**
 * The service on a random port with a deliberately small page store (4 MB in 1 MB slabs: 256 arm64 pages), a task
 * limit of 5 and a 2 MB transfer limit, so that exhaustion is cheap to reach. One Spring context shared by the
 * reliability tests that extend this class; each test starts and ends with no task.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
    "machvm.store.capacity=4MB", "machvm.store.slab-size=1MB", "machvm.tasks.max=5",
    "machvm.api.max-transfer=2MB"})
abstract class SmallStoreTestBase {
    static final long CAPACITY = 4L << 20;
    static final long MAX_TRANSFER = 2L << 20;
    static final int MAX_TASKS = 5;
    static final long MIN = 0x1_0000_0000L;
    static final int ARM_PAGE = 16384;

    @LocalServerPort
    int port;

    @Autowired
    TaskRegistry registry;

    @Autowired
    PageStores stores;

    @Autowired
    VmService service;

    Client http;

    @BeforeEach
    void startClean() {
        http = new Client(port);
        terminateAllTasks();
    }

    @AfterEach
    void endClean() {
        terminateAllTasks();
    }

    void terminateAllTasks() {
        for (JsonNode t : http.get("/tasks").expect(200).json()) {
            http.send("DELETE", "/tasks/" + t.path("id").asString(), null);
        }
        assertThat(registry.size()).isZero();
    }

    // ---------------------------------------------------------------- calls

    String task(String id, String flavor) {
        http.json("PUT", "/tasks/" + id, "{\"flavor\":\"" + flavor + "\"}").expect(201);
        return id;
    }

    String task(String id) {
        return task(id, "arm64");
    }

    Client.Result call(String task, String op, String json) {
        return http.json("POST", "/tasks/" + task + "/" + op, json);
    }

    void allocate(String task, long address, long size) {
        call(task, "allocate", "{\"address\":\"" + hex(address) + "\",\"size\":\"" + hex(size) + "\"}").expect(201);
    }

    void protect(String task, long address, long size, boolean setMaximum, String protection) {
        call(task, "protect", "{\"address\":\"" + hex(address) + "\",\"size\":\"" + hex(size) + "\",\"setMaximum\":"
                + setMaximum + ",\"protection\":\"" + protection + "\"}").expect(204);
    }

    Client.Result write(String task, long address, byte[] data) {
        return http.octets("PUT", "/tasks/" + task + "/memory/" + hex(address), data);
    }

    byte[] read(String task, long address, long size) {
        return http.get("/tasks/" + task + "/memory/" + hex(address) + "?size=" + hex(size),
                "Accept", "application/octet-stream").expect(200).body();
    }

    JsonNode statistics() {
        return http.get("/host/statistics").expect(200).json();
    }

    static String hex(long value) {
        return io.machvm.TestBytes.hex(value);
    }

    /** Deterministic bytes (xorshift) that differ per seed. */
    static byte[] pattern(int size, int seed) {
        return io.machvm.TestBytes.pattern(size, seed);
    }

    // ---------------------------------------------------------------- state

    /**
     * Everything a failed call must leave as it was: the region walk, the bytes of every readable region, the page
     * handles in address order (page identity, so also copy-on-write sharing), the task's resident bytes and the
     * host's resident and shared page counts.
     */
    record State(String regions, Map<String, byte[]> bytes, int[] handles, String residentBytes, long hostResident,
            long hostShared) {
        void assertSameAs(State before, String what) {
            assertThat(regions).as(what + ": regions").isEqualTo(before.regions);
            assertThat(bytes.keySet()).as(what + ": readable regions").isEqualTo(before.bytes.keySet());
            for (Map.Entry<String, byte[]> e : before.bytes.entrySet()) {
                byte[] now = bytes.get(e.getKey());
                assertThat(Arrays.equals(now, e.getValue()))
                        .as(what + ": bytes of the region at " + e.getKey() + " (first difference at "
                                + Arrays.mismatch(now, e.getValue()) + ")").isTrue();
            }
            assertThat(handles).as(what + ": resident page handles").isEqualTo(before.handles);
            assertThat(residentBytes).as(what + ": residentBytes").isEqualTo(before.residentBytes);
            assertThat(hostResident).as(what + ": host residentPages").isEqualTo(before.hostResident);
            assertThat(hostShared).as(what + ": host sharedPages").isEqualTo(before.hostShared);
        }
    }

    State state(String task) {
        JsonNode regions = http.get("/tasks/" + task + "/regions").expect(200).json();
        Map<String, byte[]> bytes = new HashMap<>();
        for (JsonNode r : regions) {
            if (r.path("protection").asString().startsWith("r")) {
                String address = r.path("address").asString();
                long size = Long.decode(r.path("size").asString());
                ByteArrayOutputStream all = new ByteArrayOutputStream();
                all.writeBytes(http.get("/tasks/" + task + "/memory/" + address + "?size=" + hex(size))
                        .expect(200).body());
                bytes.put(address, all.toByteArray());
            }
        }
        Task t = registry.get(task);
        JsonNode info = http.get("/tasks/" + task).expect(200).json();
        JsonNode stats = statistics();
        return new State(regions.toString(), bytes, MapInspection.residentHandles(t.map()),
                info.path("residentBytes").asString(),
                stats.path("residentPages").asLong(), stats.path("sharedPages").asLong());
    }

    // ---------------------------------------------------------------- accounting

    /**
     * The multiset of page handles over every live task equals the stores' reference counts, and the stores'
     * resident and shared page counts follow: no page handle leaked, none released twice. A streamed read holds its
     * snapshot's references until the server thread closes it, which can be just after the client has the last byte:
     * the check is retried for a few seconds before it fails.
     */
    void assertAccountingMatches() {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(5);
        while (true) {
            try {
                checkAccounting();
                return;
            } catch (AssertionError e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                try {
                    Thread.sleep(20);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    private void checkAccounting() {
        for (Flavor flavor : Flavor.values()) {
            PageStore store = stores.forFlavor(flavor);
            Map<Integer, Integer> counts = new HashMap<>();
            List<String> tasks = new ArrayList<>();
            for (Task t : registry.list()) {
                if (t.map().store() == store) {
                    tasks.add(t.id());
                    for (int h : MapInspection.residentHandles(t.map())) {
                        counts.merge(h, 1, Integer::sum);
                    }
                }
            }
            for (Map.Entry<Integer, Integer> e : counts.entrySet()) {
                assertThat(store.referenceCount(e.getKey()))
                        .as("%s store: handle %d is mapped %d time(s) in %s", flavor, e.getKey(), e.getValue(), tasks)
                        .isEqualTo(e.getValue());
            }
            long shared = counts.values().stream().filter(n -> n > 1).count();
            assertThat(store.residentPages()).as("%s store: resident pages vs distinct mapped handles", flavor)
                    .isEqualTo(counts.size());
            assertThat(store.sharedPages()).as("%s store: shared pages vs handles mapped more than once", flavor)
                    .isEqualTo(shared);
        }
    }
}
