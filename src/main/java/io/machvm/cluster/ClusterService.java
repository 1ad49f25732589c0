package io.machvm.cluster;

import io.machvm.service.Task;
import io.machvm.service.TaskRegistry;
import io.machvm.service.TaskTransfers;
import io.machvm.vm.GroupImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.Proxy;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who owns a task, and the handoff of tasks to their new owners during a scale.
 *
 * <p>Routing, with the table {@code T} and, during a scale, the pending table {@code P} (as Redis Cluster's
 * MIGRATING/IMPORTING slots): a task that is here and this shard's in {@code T} or {@code P} is served here (not moved
 * yet, or moved here); otherwise, while a scale is under way, an id whose {@code T} owner is this shard but whose
 * {@code P} owner is another is sent there (it has moved, or is new), and a shard serves an id it owns in {@code P}
 * when asked by the old owner ({@code Machvm-Asking}, which counts only from a shard); everything else goes to the
 * owner in {@code T}. A task here that is this shard's in neither is a stray copy ({@link StrayTasks}), never served.
 */
public final class ClusterService {
    private static final Logger log = LoggerFactory.getLogger(ClusterService.class);
    static final String ASKING = "Machvm-Asking";

    private final ClusterState state;
    private final TaskRegistry registry;
    private final TaskTransfers transfers;
    private final Fences fences = new Fences();
    private final Forwarder forwarder = new Forwarder();
    private final Duration moveWait;
    /** Sent with the calls this shard makes on its own account ({@link ClusterProperties#secret}). */
    private final String secret;

    /** The cluster of {@code state}, moving the tasks of {@code transfers}' registry, as {@code properties} say. */
    public ClusterService(ClusterState state, TaskTransfers transfers, ClusterProperties properties) {
        this.state = state;
        this.transfers = transfers;
        this.registry = transfers.registry();
        this.moveWait = properties.moveWait();
        this.secret = properties.secret();
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

    TaskTransfers transfers() {
        return transfers;
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
        if ((owner == state.self() || next == state.self()) && registry.contains(tenant, id)) {
            return state.self(); // not moved yet, or moved here: a stray copy (StrayTasks) is never served
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

    /** Whether this shard owns the tenant's {@code id} once a scale under way is committed (or now, without one). */
    boolean ownsAfterScale(String tenant, String id) {
        SlotTable pending = state.pending();
        return (pending != null ? pending : state.current()).owner(Placement.slot(tenant, id)) == state.self();
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
     * Hands every task here whose owner in the pending table is another shard to that shard, in batches
     * ({@link HandoffBatches}) of which {@code parallelism} move at a time: fence the batch (calls on its tasks
     * wait), stream its group image to the new owner's {@code POST /cluster/import}, which answers once the tasks are
     * durable there, then terminate them here, durably too. Tasks that share pages move in one image and keep
     * sharing them.
     */
    public Migration migrate(int parallelism) {
        SlotTable pending = state.pending();
        long start = System.nanoTime();
        if (pending == null) {
            return new Migration(0, 0, 0, 0, List.of());
        }
        Map<Integer, List<Task>> byTarget = new TreeMap<>();
        int moving = 0;
        for (Task task : registry.all()) {
            int slot = Placement.slot(tenantOf(task), task.id());
            int target = pending.owner(slot);
            if (state.current().owner(slot) != state.self()) {
                continue; // not this shard's to hand off (moved here by this scale, or a stray: StrayTasks)
            }
            if (target != state.self()) {
                byTarget.computeIfAbsent(target, t -> new ArrayList<>()).add(task);
                moving++;
            }
        }
        AtomicLong bytes = new AtomicLong();
        AtomicInteger moved = new AtomicInteger();
        List<String> errors = Collections.synchronizedList(new ArrayList<>());
        try (ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, parallelism),
                Thread.ofVirtual().factory())) {
            for (Map.Entry<Integer, List<Task>> target : byTarget.entrySet()) {
                String url = pending.url(target.getKey());
                for (List<Task> batch : HandoffBatches.of(target.getValue())) {
                    pool.submit(() -> {
                        try {
                            bytes.addAndGet(handOff(batch, url, true));
                            moved.addAndGet(batch.size());
                        } catch (Exception e) {
                            errors.add(ids(batch) + ": " + e.getMessage());
                            log.warn("cannot hand {} task(s) off to shard {}: {}", batch.size(), target.getKey(),
                                    e.toString());
                        }
                    });
                }
            }
        }
        long millis = (System.nanoTime() - start) / 1_000_000;
        log.info("handed {} of {} task(s) off ({} bytes) in {} ms", moved.get(), moving, bytes.get(), millis);
        return new Migration(moved.get(), moving - moved.get(), bytes.get(), millis, errors);
    }

    /**
     * Moves one batch; returns the size of its image. With {@code replace} the batch's tasks replace any copy the new
     * owner has of them: only for tasks this shard owns, whose calls it serves, so that its copy is the live one.
     */
    long handOff(List<Task> batch, String targetUrl, boolean replace) throws Exception {
        List<String> ids = new ArrayList<>(batch.size());
        for (Task task : batch) {
            ids.add(task.tenant() + TaskRegistry.QUALIFIER + task.id()); // the keys calls are fenced by
        }
        try (AutoCloseable fence = fences.hold(ids, true, Duration.ofSeconds(60))) {
            List<Task> live = new ArrayList<>(batch.size());
            for (Task task : batch) {
                if (registry.find(task.tenant(), task.id()) == task) {
                    live.add(task); // not terminated while the batch waited for its fence
                }
            }
            if (live.isEmpty()) {
                return 0;
            }
            long size;
            try (GroupImage image = transfers.export(live)) {
                size = image.sizeBytes();
                // A task of the batch on the new owner can only be a copy an earlier attempt left there before it
                // could delete the task here (calls on it are served here, fenced now): this copy is the live one.
                int status = post(image, targetUrl, replace);
                if (status != 201) {
                    throw new IOException("the new owner answered " + status);
                }
            }
            transfers.release(live);
            return size;
        }
    }

    /**
     * Streams the image to the new owner on a blocking connection, from the image's buffer straight to the socket,
     * and answers the status; its answer comes once the tasks are durable there.
     */
    private int post(GroupImage image, String targetUrl, boolean replace) throws IOException {
        HttpURLConnection out = (HttpURLConnection) URI.create(targetUrl + "/cluster/import?replace=" + replace)
                .toURL().openConnection(Proxy.NO_PROXY);
        out.setRequestMethod("POST");
        out.setConnectTimeout(2000);
        out.setUseCaches(false);
        out.setDoOutput(true);
        out.setFixedLengthStreamingMode(image.sizeBytes());
        out.setRequestProperty("Content-Type", GroupImage.MEDIA_TYPE);
        out.setRequestProperty("Accept", "application/json, application/problem+json");
        out.setRequestProperty(ClusterProperties.SECRET_HEADER, secret);
        try (OutputStream body = out.getOutputStream()) {
            image.writeTo(body);
        }
        int status = out.getResponseCode();
        try (InputStream answer = status >= 400 ? out.getErrorStream() : out.getInputStream()) {
            if (answer != null) {
                String text = new String(answer.readNBytes(4096), java.nio.charset.StandardCharsets.UTF_8);
                answer.transferTo(OutputStream.nullOutputStream());
                if (status != 201) {
                    log.warn("{} answered {} to a handoff: {}", targetUrl, status, text);
                }
            }
        }
        return status;
    }

    private static String ids(List<Task> tasks) {
        List<String> ids = new ArrayList<>();
        for (Task task : tasks.subList(0, Math.min(tasks.size(), 5))) {
            ids.add(task.id());
        }
        return String.join(", ", ids) + (tasks.size() > 5 ? " and " + (tasks.size() - 5) + " more" : "");
    }

    /** The tenant a stored task belongs to, part of what places it. */
    static String tenantOf(Task task) {
        return task.tenant();
    }
}
