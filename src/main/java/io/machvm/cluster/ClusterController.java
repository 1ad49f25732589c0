package io.machvm.cluster;

import io.machvm.api.ProblemTypes;
import io.machvm.service.Task;
import io.machvm.service.TaskRegistry;
import io.machvm.vm.KernException;
import io.machvm.vm.KernReturn;
import io.machvm.vm.GroupImage;
import io.machvm.vm.GroupImageReader;
import io.machvm.vm.TaskImage;
import io.machvm.vm.VmMap;
import io.swagger.v3.oas.annotations.Hidden;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * The operator's side of the cluster, {@code /cluster}: the table, and the steps of a scale that
 * {@code scripts/local-cluster.sh scale} (or an operator) calls shard by shard: {@code plan} (the new table, on any
 * shard), {@code begin} (on every shard), {@code migrate} (on every shard that had slots), {@code commit} (on every
 * shard). Each step can be repeated after a failure.
 */
@Hidden
@RestController
@ConditionalOnProperty(name = "machvm.cluster.enabled", havingValue = "true")
public class ClusterController {
    private final ClusterService cluster;
    private final TaskRegistry registry;
    /** Handoffs of one {@code migrate} under way at once, at most. */
    private static final int MAX_PARALLELISM = 64;
    private final JsonMapper mapper = JsonMapper.builder().build();

    public ClusterController(ClusterService cluster, TaskRegistry registry) {
        this.cluster = cluster;
        this.registry = registry;
    }

    /** This shard's index, the table and the table of a scale under way. */
    @GetMapping(path = "/cluster", produces = "application/json")
    public String state() {
        return mapper.writeValueAsString(cluster.state().toJson());
    }

    /** The table for these shards ({@code {"shards": [url, …]}}), moving as few slots as possible. */
    @PostMapping(path = "/cluster/plan", produces = "application/json")
    public String plan(@RequestBody String body) {
        List<String> shards = invalidIfRefused(() -> SlotTable.shardList(mapper.readTree(body).get("shards")));
        SlotTable current = cluster.state().current();
        SlotTable next = current.rebalance(shards);
        ObjectNode out = next.toJson(mapper);
        out.put("slotsMoved", current.slotsMovedTo(next));
        return mapper.writeValueAsString(out);
    }

    /** Starts a scale to this table (the output of {@code plan}). */
    @PostMapping(path = "/cluster/begin", produces = {"application/json", "application/problem+json"})
    public ResponseEntity<?> begin(@RequestBody String body) {
        SlotTable next = invalidIfRefused(() -> SlotTable.fromJson(mapper.readTree(body)));
        try {
            cluster.state().begin(next);
            return ResponseEntity.ok(state());
        } catch (IllegalStateException e) {
            return conflict(e);
        }
    }

    /** Hands off every task here that the new table gives to another shard; answers when done. */
    @PostMapping(path = "/cluster/migrate", produces = "application/json")
    public ResponseEntity<?> migrate(@RequestParam(name = "parallelism", defaultValue = "4") int parallelism) {
        if (parallelism < 1 || parallelism > MAX_PARALLELISM) {
            throw new KernException(KernReturn.KERN_INVALID_ARGUMENT, "parallelism is 1 to " + MAX_PARALLELISM
                    + ", not " + parallelism);
        }
        ClusterService.Migration migration = cluster.migrate(parallelism);
        String json = mapper.writeValueAsString(migration);
        return migration.failed() == 0 ? ResponseEntity.ok(json)
                : ResponseEntity.status(HttpStatus.INTERNAL_SERVER_ERROR).body(json);
    }

    /** Ends the scale: the new table becomes the table. */
    @PostMapping(path = "/cluster/commit", produces = {"application/json", "application/problem+json"})
    public ResponseEntity<?> commit(@RequestParam("epoch") long epoch) {
        try {
            cluster.state().commit(epoch);
            return ResponseEntity.ok(state());
        } catch (IllegalStateException e) {
            return conflict(e);
        }
    }

    /**
     * Takes the tasks of a group image another shard hands off here, and answers {@code 201} once they are durable;
     * calls on them wait meanwhile. A task this shard will not own is a {@code 421}, and an id that is taken a
     * {@code 409}, both before any page is read; with {@code replace} the task under a taken id is replaced (the
     * sender holds the live copy of a task an earlier attempt left here).
     */
    @PostMapping(path = "/cluster/import", consumes = GroupImage.MEDIA_TYPE)
    public void importTasks(@RequestParam(name = "replace", defaultValue = "false") boolean replace,
            HttpServletRequest request, HttpServletResponse response) throws Exception {
        GroupImageReader image = GroupImageReader.open(request.getInputStream());
        List<String> ids = new ArrayList<>();
        for (GroupImageReader.Heading heading : image.headings()) {
            if (!cluster.ownsAfterScale(heading.tenant(), heading.id())) {
                // a copy here would be a task no route reaches, and a second one of it
                ClusterProblems.write(mapper, response, KernReturn.KERN_NOT_RECEIVER, "task " + heading.id()
                        + " of tenant " + heading.tenant() + " is not this shard's, now or after the scale under way",
                        request.getRequestURI(), Map.of(), Map.of());
                return;
            }
            ids.add(heading.tenant() + TaskRegistry.QUALIFIER + heading.id()); // the keys calls are fenced by
        }
        List<Task> tasks;
        try (AutoCloseable fence = cluster.fences().hold(ids, true, cluster.moveWait())) {
            tasks = cluster.transfers().receive(image, replace);
        } catch (Fences.Busy busy) {
            ClusterProblems.write(mapper, response, KernReturn.MACH_SEND_TIMED_OUT, "tasks of this image are being "
                    + "called; retry", request.getRequestURI(), Map.of(), Map.of("Retry-After", "1"));
            return;
        }
        byte[] body = mapper.writeValueAsBytes(Map.of("tasks", tasks.size()));
        response.setStatus(HttpStatus.CREATED.value());
        response.setContentType("application/json");
        response.setContentLength(body.length);
        response.getOutputStream().write(body);
    }

    /**
     * A fork of a task here as an image, for a child owned by another shard: the child gets what a fork would give
     * it (regions by their inheritance), as a full copy.
     */
    @GetMapping("/cluster/tasks/{task}/fork-image")
    public void forkImage(@PathVariable String task, @RequestParam(name = "name", required = false) String name,
            HttpServletResponse response) throws IOException {
        Task parent = registry.get(task);
        VmMap child = parent.map().fork();
        try (TaskImage image = child.exportImage(name != null ? name : parent.name(), false)) {
            response.setStatus(200);
            response.setContentType(TaskImage.MEDIA_TYPE);
            response.setContentLengthLong(image.sizeBytes());
            image.writeTo(response.getOutputStream());
        } finally {
            child.terminate();
        }
    }

    /** What {@code read} gives; a body it refuses ({@link IllegalArgumentException}) is a 400 that says why. */
    private static <T> T invalidIfRefused(Supplier<T> read) {
        try {
            return read.get();
        } catch (IllegalArgumentException e) {
            throw new KernException(KernReturn.KERN_INVALID_ARGUMENT, e.getMessage());
        }
    }

    /** A step that does not fit the scale under way (or the lack of one): 409, in the API's problem shape. */
    private static ResponseEntity<ProblemDetail> conflict(IllegalStateException e) {
        ProblemDetail problem = ProblemDetail.forStatusAndDetail(HttpStatus.CONFLICT, e.getMessage());
        ProblemTypes.ProblemType type = ProblemTypes.of(KernReturn.KERN_INVALID_ARGUMENT);
        problem.setType(URI.create(type.type()));
        problem.setTitle("Conflict");
        problem.setProperty("kern", type.kern().name());
        problem.setProperty("kernReturn", type.kern().value());
        return ResponseEntity.status(HttpStatus.CONFLICT).contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .body(problem);
    }
}
