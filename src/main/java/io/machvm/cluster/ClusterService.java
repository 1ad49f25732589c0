package io.machvm.cluster;

import io.machvm.service.Task;
import io.machvm.service.TaskRegistry;
import io.machvm.service.Tenant;
import io.machvm.vm.KernException;
import io.machvm.vm.TaskImage;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who owns a task, and the handoff of tasks to their new owners during a scale.
 *
 * <p>Routing, with the table {@code T} and, during a scale, the pending table {@code P} (as Redis Cluster's
 * MIGRATING/IMPORTING slots): a task that is here is served here; otherwise, while a scale is under way, an id whose
 * {@code T} owner is this shard but whose {@code P} owner is another is sent there (it has moved, or is new), and a
 * shard serves an id it owns in {@code P} when asked by the old owner ({@code Machvm-Asking}); everything else goes
 * to the owner in {@code T}.
 */
public final class ClusterService {
    private static final Logger log = LoggerFactory.getLogger(ClusterService.class);
    static final String ASKING = "Machvm-Asking";

    private final ClusterState state;
    private final TaskRegistry registry;
    private final Fences fences = new Fences();
    private final Forwarder forwarder = new Forwarder();
    private final Duration moveWait;
    /** Sent with the calls this shard makes on its own account ({@link ClusterProperties#secret}). */
    private final String secret;

    public ClusterService(ClusterState state, TaskRegistry registry, Duration moveWait, String secret) {
        this.state = state;
        this.registry = registry;
        this.moveWait = moveWait;
        this.secret = secret;
    }

    public ClusterState state() {
        return state;
    }

    Fences fences() {
        return fences;
    }

    Forwarder forwarder() {
        return forwarder;
    }

    Duration moveWait() {
        return moveWait;
    }

    public int self() {
        return state.self();
    }

    /** The shard that serves the tenant's task id now (this one: {@link #self()}). */
    public int route(String tenant, String id, boolean asking) {
        int slot = Placement.slot(tenant, id);
        SlotTable table = state.current();
        SlotTable pending = state.pending();
        int owner = table.owner(slot);
        if (pending == null) {
            return owner;
        }
        int next = pending.owner(slot);
        if (registry.contains(tenant, id)) {
            return state.self();
        }
        if (owner == state.self()) {
            return next;
        }
        if (asking && next == state.self()) {
            return state.self();
        }
        return owner;
    }

    /** Whether the tenant's task is here. */
    boolean has(String tenant, String id) {
        return registry.contains(tenant, id);
    }

    /** Whether {@code route} sends an id to {@code shard} as the importing shard of a scale. */
    boolean isImport(String tenant, String id, int shard) {
        SlotTable pending = state.pending();
        return pending != null && pending.owner(Placement.slot(tenant, id)) == shard
                && state.current().owner(Placement.slot(tenant, id)) != shard;
    }

    /** Whether this shard may mint {@code id}: it owns its slot now and after a scale under way. */
    public boolean mintable(String tenant, String id) {
        int slot = Placement.slot(tenant, id);
        SlotTable pending = state.pending();
        return state.current().owner(slot) == state.self() && (pending == null || pending.owner(slot) == state.self());
    }

    /** A shard that can mint ids: this one when it owns a slot now and after a scale under way, else another. */
    int minter() {
        SlotTable table = state.current();
        SlotTable pending = state.pending();
        int fallback = -1;
        for (int slot = 0; slot < Placement.SLOTS; slot++) {
            int owner = table.owner(slot);
            if (pending == null || pending.owner(slot) == owner) {
                if (owner == state.self()) {
                    return owner;
                }
                if (fallback < 0) {
                    fallback = owner;
                }
            }
        }
        return fallback < 0 ? table.owner(0) : fallback;
    }

    /** The base URL of a shard, in the pending table when a scale adds it. */
    public String url(int shard) {
        SlotTable pending = state.pending();
        if (pending != null && shard < pending.shards().size()) {
            return pending.url(shard);
        }
        return state.current().url(shard);
    }

    /** Every shard of the table and of a scale under way. */
    List<Integer> allShards() {
        SlotTable pending = state.pending();
        int n = Math.max(state.current().shards().size(), pending == null ? 0 : pending.shards().size());
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(i);
        }
        return out;
    }

    /** The result of {@link #migrate}. */
    public record Migration(int moved, int failed, long bytes, long millis, List<String> errors) {
    }

    /**
     * Hands every task here whose owner in the pending table is another shard to that shard: fence (calls on it
     * wait), stream its image to the new owner's {@code PUT /tasks/{id}}, delete it here when the owner has it.
     */
    public Migration migrate(int parallelism) {
        SlotTable pending = state.pending();
        long start = System.nanoTime();
        if (pending == null) {
            return new Migration(0, 0, 0, 0, List.of());
        }
        List<Task> moving = new ArrayList<>();
        for (Task task : registry.list()) {
            if (pending.owner(Placement.slot(tenantOf(task), task.id())) != state.self()) {
                moving.add(task);
            }
        }
        AtomicLong bytes = new AtomicLong();
        List<String> errors = java.util.Collections.synchronizedList(new ArrayList<>());
        int moved = 0;
        try (ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, parallelism),
                Thread.ofVirtual().factory())) {
            List<Future<Boolean>> results = new ArrayList<>();
            for (Task task : moving) {
                int target = pending.owner(Placement.slot(tenantOf(task), task.id()));
                results.add(pool.submit(() -> {
                    try {
                        // by tenant~id: the call's caller is an admin, and the new owner acts as one
                        bytes.addAndGet(handOff(task.tenant() + TaskRegistry.QUALIFIER + task.id(),
                                pending.url(target)));
                        return true;
                    } catch (Exception e) {
                        errors.add(task.id() + ": " + e.getMessage());
                        log.warn("cannot hand task {} off to shard {}: {}", task.id(), target, e.toString());
                        return false;
                    }
                }));
            }
            for (Future<Boolean> result : results) {
                try {
                    if (result.get()) {
                        moved++;
                    }
                } catch (Exception e) {
                    errors.add(e.toString());
                }
            }
        }
        long millis = (System.nanoTime() - start) / 1_000_000;
        log.info("handed {} of {} task(s) off ({} bytes) in {} ms", moved, moving.size(), bytes.get(), millis);
        return new Migration(moved, moving.size() - moved, bytes.get(), millis, errors);
    }

    /** Moves one task, named {@code tenant~id}; returns the image's size. */
    private long handOff(String id, String targetUrl) throws Exception {
        try (AutoCloseable fence = fences.hold(List.of(id), true, Duration.ofSeconds(60))) {
            Task task;
            try {
                task = registry.get(id);
            } catch (KernException gone) {
                return 0; // terminated meanwhile
            }
            long size;
            int status;
            try (TaskImage image = task.map().exportImage(task.name(), false)) {
                size = image.sizeBytes();
                status = put(image, id, targetUrl);
            }
            if (status == 409) {
                // A copy from an earlier attempt that stopped before the delete here: this one is the live one.
                HttpResponse<InputStream> deleted = forwarder.send(HttpRequest.newBuilder(
                        URI.create(targetUrl + "/tasks/" + id)).header(ASKING, "1").header("Machvm-Hop", "2")
                        .header(ClusterProperties.SECRET_HEADER, secret).DELETE().build());
                deleted.body().close();
                try (TaskImage image = task.map().exportImage(task.name(), false)) {
                    status = put(image, id, targetUrl);
                }
            }
            if (status != 201) {
                throw new IOException("the new owner answered " + status);
            }
            registry.terminate(id);
            return size;
        }
    }

    private int put(TaskImage image, String id, String targetUrl) throws IOException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(targetUrl + "/tasks/" + id))
                .header("Content-Type", TaskImage.MEDIA_TYPE)
                .header(ASKING, "1")
                .header("Machvm-Hop", "2")
                .header(ClusterProperties.SECRET_HEADER, secret)
                .PUT(HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofInputStream(
                        () -> stream(image)), image.sizeBytes()))
                .build();
        HttpResponse<InputStream> answer = forwarder.send(request);
        try (InputStream body = answer.body()) {
            body.transferTo(java.io.OutputStream.nullOutputStream());
        }
        return answer.statusCode();
    }

    /** The image as a stream, written by a virtual thread. */
    static InputStream stream(TaskImage image) {
        return new ImageStream(image);
    }

    /** The tenant a stored task belongs to, part of what places it. */
    static String tenantOf(Task task) {
        return task.tenant();
    }
}
