package io.machvm.cluster;

import io.machvm.service.Task;
import io.machvm.service.TaskRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies of tasks that this shard holds but does not own, now or after a scale under way: left by a crash between a
 * handoff's import on the new owner and the delete here, or by a shard whose volume was restored from a copy taken
 * before a scale. {@link ClusterService#route} never serves them: their calls go to the owner. Each is settled with
 * its owner, at start before the shard is ready and then every few seconds until none is left (while an owner does not
 * answer):
 * <ul>
 * <li>the owner has the task: the copy here is dropped, durably; the owner's copy is never replaced;</li>
 * <li>the owner has no such task, and this shard stopped in the middle of the scale that gives the task away
 * ({@link ClusterState#interrupted}): its handoff may not have happened, so it is handed off as the scale would, but
 * without replacing anything;</li>
 * <li>the owner has no such task, and this copy of the shard missed that scale: the scale handed the task off (it
 * commits only once every handoff succeeded), and the owner has deleted it since. The copy is dropped.</li>
 * </ul>
 */
final class StrayTasks {
    private static final Logger log = LoggerFactory.getLogger(StrayTasks.class);
    private static final Duration RETRY = Duration.ofSeconds(5);

    private final ClusterService cluster;
    private final TaskRegistry registry;
    private final String secret;

    StrayTasks(ClusterService cluster, TaskRegistry registry, String secret) {
        this.cluster = cluster;
        this.registry = registry;
        this.secret = secret;
    }

    /** What one pass did: copies dropped, tasks handed off, and tasks left for the next pass. */
    record Outcome(int dropped, int handedOff, int left) {
    }

    /** Settles the strays at start; those whose owner does not answer are settled later, in the background. */
    void settleAtStart() {
        Outcome outcome = settle();
        if (outcome.left() > 0) {
            Thread.ofVirtual().name("machvm-stray-tasks").start(this::settleUntilDone);
        }
    }

    private void settleUntilDone() {
        try {
            do {
                Thread.sleep(RETRY);
            } while (settle().left() > 0);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** One pass over the tasks here that another shard owns. */
    Outcome settle() {
        ClusterState state = cluster.state();
        SlotTable table = state.current();
        SlotTable pending = state.pending();
        Map<Integer, List<Task>> byOwner = new TreeMap<>();
        for (Task task : registry.all()) {
            int slot = Placement.slot(task.tenant(), task.id());
            int now = table.owner(slot);
            int next = pending == null ? now : pending.owner(slot);
            if (now != state.self() && next != state.self()) {
                byOwner.computeIfAbsent(next, o -> new ArrayList<>()).add(task);
            }
        }
        if (byOwner.isEmpty()) {
            return new Outcome(0, 0, 0);
        }
        SlotTable interrupted = state.interrupted();
        boolean resume = interrupted != null && (interrupted.epoch() == table.epoch()
                || (pending != null && interrupted.epoch() == pending.epoch()));
        int dropped = 0;
        int handedOff = 0;
        int left = 0;
        for (Map.Entry<Integer, List<Task>> owner : byOwner.entrySet()) {
            String url = cluster.url(owner.getKey());
            List<Task> drop = new ArrayList<>();
            List<Task> move = new ArrayList<>();
            for (Task task : owner.getValue()) {
                int status = status(url, task);
                if (status == 200 || (status == 404 && !resume)) {
                    drop.add(task);
                } else if (status == 404) {
                    move.add(task);
                } else {
                    left++;
                    log.debug("stray task {} of tenant {}: shard {} answered {}", task.id(), task.tenant(),
                            owner.getKey(), status);
                }
            }
            try {
                dropped += drop(drop);
            } catch (Exception e) {
                left += drop.size();
                log.warn("cannot drop {} stray task(s): {}", drop.size(), e.toString());
            }
            for (List<Task> batch : HandoffBatches.of(move)) {
                try {
                    cluster.handOff(batch, url, false);
                    handedOff += batch.size();
                } catch (Exception e) {
                    left += batch.size(); // a copy the owner got meanwhile is dropped by the next pass
                    log.warn("cannot hand {} stray task(s) off to shard {}: {}", batch.size(), owner.getKey(),
                            e.toString());
                }
            }
        }
        log.info("stray tasks (held here, owned by another shard): {} dropped (their owner has them{}), {} handed "
                + "off, {} left for later", dropped, resume ? "" : ", or deleted them since the scale that moved them",
                handedOff, left);
        return new Outcome(dropped, handedOff, left);
    }

    /** Terminates the copies here, each under its fence, and returns once that is durable. */
    private int drop(List<Task> tasks) throws Exception {
        if (tasks.isEmpty()) {
            return 0;
        }
        List<String> keys = new ArrayList<>(tasks.size());
        for (Task task : tasks) {
            keys.add(task.tenant() + TaskRegistry.QUALIFIER + task.id());
        }
        try (AutoCloseable fence = cluster.fences().hold(keys, true, Duration.ofSeconds(60))) {
            cluster.transfers().release(tasks);
        }
        return tasks.size();
    }

    /** The owner's answer to {@code GET /tasks/{tenant~id}} for this shard (200, 404, …), or -1 when unreachable. */
    private int status(String url, Task task) {
        HttpRequest request = HttpRequest.newBuilder(URI.create(url + "/tasks/" + task.tenant()
                        + TaskRegistry.QUALIFIER + task.id()))
                .timeout(Duration.ofSeconds(10))
                .header(ClusterProperties.SECRET_HEADER, secret)
                .header(ClusterFilter.DIRECT, "1")
                .GET().build();
        try {
            HttpResponse<InputStream> answer = cluster.forwarder().send(request);
            try (InputStream body = answer.body()) {
                body.transferTo(OutputStream.nullOutputStream());
            }
            return answer.statusCode();
        } catch (IOException e) {
            return -1;
        }
    }
}
