package io.machvm.api;

import static io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT;
import static io.machvm.vm.KernReturn.KERN_NAME_EXISTS;
import static io.machvm.vm.KernReturn.KERN_RESOURCE_SHORTAGE;
import static io.machvm.vm.KernReturn.MACH_SEND_INVALID_DEST;

import io.machvm.service.TaskInfo;
import io.machvm.service.TaskRegistry;
import io.machvm.service.TaskSpec;
import io.machvm.service.VmService;
import io.machvm.vm.TaskImage;
import io.swagger.v3.oas.annotations.Hidden;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.parameters.RequestBody;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.util.List;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RestController;

/** Tasks: create (empty, forked or restored; with a minted or a chosen id), list, inspect, terminate. */
@RestController
@Tag(name = "tasks")
public class TaskController {
    static final String IMAGE_BODY_DOC = "A snapshot image (GET /tasks/{task}/snapshot) to restore: the new task "
            + "has the image's flavor, error model, name, regions and bytes. A corrupt or truncated image is a 400 "
            + "KERN_INVALID_ARGUMENT and creates nothing.";

    private final VmService service;
    public TaskController(VmService service) {
        this.service = service;
    }

    @PostMapping(path = "/tasks", produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(operationId = "task_create", summary = "Creates a task with a minted id: empty or forked.",
            description = "The body (optional) holds the settings; absent settings take the configured defaults. "
                    + "With \"parent\" it forks that task instead (task_fork): each region of the parent reaches the "
                    + "child as its inheritance says (copy: a private copy-on-write copy; share: memory both tasks "
                    + "see; none: absent), no byte is copied, and flavor and errors, if given, must equal the "
                    + "parent's. To restore a snapshot image: task_restore.")
    @CreatesTask("Created.")
    @Problems(value = {KERN_INVALID_ARGUMENT, KERN_RESOURCE_SHORTAGE, MACH_SEND_INVALID_DEST}, http = {413, 415})
    public ResponseEntity<Responses.TaskView> create(
            @org.springframework.web.bind.annotation.RequestBody(required = false) Requests.TaskSettings settings) {
        TaskSpec spec = settings == null ? TaskSpec.DEFAULTS : settings.spec();
        TaskInfo info = settings != null && settings.parent() != null
                ? SandboxTasks.fork(service, settings.parent(), spec, null)
                : service.createTask(spec);
        return created(info);
    }

    @PostMapping(path = "/tasks/restore", consumes = TaskImage.MEDIA_TYPE,
            produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(operationId = "task_restore", summary = "Restores a snapshot image into a task with a minted id.",
            description = IMAGE_BODY_DOC + " (POST /tasks with this body does the same.)")
    @RequestBody(required = true, content = @Content(mediaType = TaskImage.MEDIA_TYPE,
            schema = @Schema(type = "string", format = "binary", description = "The image.")))
    @CreatesTask("Restored.")
    @Problems(value = {KERN_INVALID_ARGUMENT, KERN_RESOURCE_SHORTAGE}, http = {415})
    public ResponseEntity<Responses.TaskView> restore(HttpServletRequest request) {
        return created(SandboxTasks.restore(service, body(request), null));
    }

    /** The older form of task_restore: POST /tasks with an image body. */
    @Hidden
    @PostMapping(path = "/tasks", consumes = TaskImage.MEDIA_TYPE, produces = MediaType.APPLICATION_JSON_VALUE)
    public ResponseEntity<Responses.TaskView> createFromImage(HttpServletRequest request) {
        return restore(request);
    }

    @PutMapping(path = "/tasks/{task}", produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(operationId = "task_create_with_id", summary = "Creates a task with a chosen id: empty or forked.",
            description = "Creates the task {task} unless it exists. Idempotent: an existing task with the same "
                    + "settings is answered with 200; one with other settings is a 409 KERN_NAME_EXISTS. Chosen ids "
                    + "let a router in front of several replicas hash on the id. With \"parent\" the task is a fork "
                    + "of that task, as for POST /tasks; a fork is not idempotent: an existing {task} is a 409 "
                    + "KERN_NAME_EXISTS, refused before the parent is forked. To restore a snapshot image under a "
                    + "chosen id: task_restore_with_id.")
    @CreatesNamedTask("Created.")
    @ApiResponse(responseCode = "200", description = "The task exists with the same settings.")
    @Problems(value = {KERN_INVALID_ARGUMENT, KERN_NAME_EXISTS, KERN_RESOURCE_SHORTAGE, MACH_SEND_INVALID_DEST},
            http = {413, 415})
    public ResponseEntity<Responses.TaskView> createWithId(
            @PathVariable String task,
            @org.springframework.web.bind.annotation.RequestBody(required = false) Requests.TaskSettings settings) {
        TaskSpec spec = settings == null ? TaskSpec.DEFAULTS : settings.spec();
        if (settings != null && settings.parent() != null) {
            return created(SandboxTasks.fork(service, settings.parent(), spec, task));
        }
        TaskRegistry.Created created = service.createTask(task, spec);
        TaskInfo info = service.info(created.task());
        return created.created() ? created(info) : ResponseEntity.ok(Responses.TaskView.of(info));
    }

    @PutMapping(path = "/tasks/{task}/snapshot", consumes = TaskImage.MEDIA_TYPE,
            produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(operationId = "task_restore_with_id", summary = "Restores a snapshot image into a task with a chosen "
            + "id.",
            description = IMAGE_BODY_DOC + " An existing {task} is a 409 KERN_NAME_EXISTS, refused before the image "
                    + "is read. (PUT /tasks/{task} with this body does the same.)")
    @RequestBody(required = true, content = @Content(mediaType = TaskImage.MEDIA_TYPE,
            schema = @Schema(type = "string", format = "binary", description = "The image.")))
    @CreatesNamedTask("Restored.")
    @Problems(value = {KERN_INVALID_ARGUMENT, KERN_NAME_EXISTS, KERN_RESOURCE_SHORTAGE}, http = {415})
    public ResponseEntity<Responses.TaskView> restoreWithId(
            @PathVariable String task,
            HttpServletRequest request) {
        return created(SandboxTasks.restore(service, body(request), task));
    }

    /** The older form of task_restore_with_id: PUT /tasks/{task} with an image body. */
    @Hidden
    @PutMapping(path = "/tasks/{task}", consumes = TaskImage.MEDIA_TYPE, produces = MediaType.APPLICATION_JSON_VALUE)
    public ResponseEntity<Responses.TaskView> createWithIdFromImage(
            @PathVariable String task,
            HttpServletRequest request) {
        return restoreWithId(task, request);
    }

    static ResponseEntity<Responses.TaskView> created(TaskInfo info) {
        Responses.TaskView view = Responses.TaskView.of(info);
        return ResponseEntity.created(URI.create("/tasks/" + view.id())).body(view);
    }

    private static InputStream body(HttpServletRequest request) {
        try {
            return request.getInputStream();
        } catch (IOException e) {
            throw new BodyStreamException(e);
        }
    }

    @GetMapping(path = "/tasks", produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(operationId = "task_list", summary = "Lists the live tasks.", description = "Every live task, by id.")
    @ApiResponse(responseCode = "200", description = "The tasks.")
    @Problems({})
    public List<Responses.TaskView> list() {
        return service.listTasks().stream().map(Responses.TaskView::of).toList();
    }

    @GetMapping(path = "/tasks/{task}", produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(operationId = "task_info", summary = "Describes a task.",
            description = "Settings, map bounds, region count, virtual and resident bytes of the task.")
    @ApiResponse(responseCode = "200", description = "The task.")
    @Problems({MACH_SEND_INVALID_DEST})
    @TaskPath
    public Responses.TaskView info(
            @PathVariable String task) {
        return Responses.TaskView.of(service.taskInfo(task));
    }

    @DeleteMapping("/tasks/{task}")
    @Operation(operationId = "task_terminate", summary = "Terminates a task.",
            description = "Releases every page of the task; later calls on its id answer MACH_SEND_INVALID_DEST.")
    @NoContent("Terminated.")
    @Problems({MACH_SEND_INVALID_DEST})
    @TaskPath
    public void terminate(
            @PathVariable String task) {
        service.terminateTask(task);
    }
}
