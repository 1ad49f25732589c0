package io.machvm.api;

import static io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT;
import static io.machvm.vm.KernReturn.KERN_NAME_EXISTS;
import static io.machvm.vm.KernReturn.KERN_RESOURCE_SHORTAGE;
import static io.machvm.vm.KernReturn.MACH_SEND_INVALID_DEST;

import io.machvm.service.TaskInfo;
import io.machvm.service.TaskRegistry;
import io.machvm.service.TaskSpec;
import io.machvm.service.VmService;
import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;
import io.machvm.vm.TaskImage;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.enums.ParameterIn;
import io.swagger.v3.oas.annotations.headers.Header;
import io.swagger.v3.oas.annotations.media.ArraySchema;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.parameters.RequestBody;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.servlet.http.HttpServletRequest;
import java.net.URI;
import java.util.List;
import java.util.function.Function;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/** Tasks: create (empty, forked or restored; with a minted or a chosen id), list, inspect, terminate. */
@RestController
@Tag(name = "tasks")
public class TaskController {
    static final int MAX_NAME_LENGTH = 256;
    static final String TASK_ID_DOC = "The task id (1 to 64 of [A-Za-z0-9._-], not . or ..).";

    static final String IMAGE_BODY_DOC = "A snapshot image (GET /tasks/{task}/snapshot) to restore: the new task "
            + "has the image's flavor, error model, name, regions and bytes. A corrupt or truncated image is a 400 "
            + "KERN_INVALID_ARGUMENT and creates nothing.";

    private final VmService service;
    private final TaskRegistry registry;

    public TaskController(VmService service, TaskRegistry registry) {
        this.service = service;
        this.registry = registry;
    }

    @PostMapping(path = "/tasks", produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(operationId = "task_create", summary = "Creates a task with a minted id: empty, forked or restored.",
            description = "Three ways, by the body. application/json (optional) creates an empty address space; "
                    + "absent settings take the configured defaults. With \"parent\" it forks that task instead "
                    + "(task_fork): each region of the parent reaches the child as its inheritance says (copy: a "
                    + "private copy-on-write copy; share: memory both tasks see; none: absent), no byte is copied, "
                    + "and flavor and errors, if given, must equal the parent's. A body of "
                    + TaskImage.MEDIA_TYPE + " restores a snapshot image (task_restore).")
    @RequestBody(required = false, content = {
        @Content(mediaType = MediaType.APPLICATION_JSON_VALUE,
                schema = @Schema(implementation = Requests.TaskSettings.class)),
        @Content(mediaType = TaskImage.MEDIA_TYPE, schema = @Schema(type = "string", format = "binary",
                description = IMAGE_BODY_DOC))})
    @ApiResponse(responseCode = "201", description = "Created.",
            headers = @Header(name = "Location", description = "/tasks/{task} of the new task",
                    schema = @Schema(type = "string", example = "/tasks/t-3f9c2a7d1e0b")),
            content = @Content(mediaType = MediaType.APPLICATION_JSON_VALUE,
                    schema = @Schema(implementation = Responses.TaskView.class)))
    @Problems(value = {KERN_INVALID_ARGUMENT, KERN_RESOURCE_SHORTAGE, MACH_SEND_INVALID_DEST}, http = {413, 415})
    public ResponseEntity<Responses.TaskView> create(HttpServletRequest request) {
        TaskInfo info;
        if (SandboxTasks.isImage(request.getContentType())) {
            info = SandboxTasks.restore(service, registry, request, null);
        } else {
            Settings settings = readSettings(request);
            info = settings.parent() != null
                    ? SandboxTasks.fork(service, registry, settings.parent(), settings.spec(), null)
                    : service.createTask(settings.spec());
        }
        Responses.TaskView task = Responses.TaskView.of(info);
        return ResponseEntity.created(URI.create("/tasks/" + task.id())).body(task);
    }

    @PutMapping(path = "/tasks/{task}", produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(operationId = "task_create_with_id", summary = "Creates a task with a chosen id: empty, forked or "
            + "restored.",
            description = "Creates the task {task} unless it exists. Idempotent: an existing task with the same "
                    + "settings is answered with 200; one with other settings is a 409 KERN_NAME_EXISTS. Chosen ids "
                    + "let a router in front of several replicas hash on the id. With \"parent\" the task is a fork "
                    + "of that task, and with a body of " + TaskImage.MEDIA_TYPE + " a restored snapshot image, as "
                    + "for POST /tasks; these are not idempotent: an existing {task} is a 409 KERN_NAME_EXISTS, "
                    + "refused before the parent is forked or the image read.")
    @RequestBody(required = false, content = {
        @Content(mediaType = MediaType.APPLICATION_JSON_VALUE,
                schema = @Schema(implementation = Requests.TaskSettings.class)),
        @Content(mediaType = TaskImage.MEDIA_TYPE, schema = @Schema(type = "string", format = "binary",
                description = IMAGE_BODY_DOC))})
    @ApiResponse(responseCode = "201", description = "Created.",
            headers = @Header(name = "Location", description = "/tasks/{task}",
                    schema = @Schema(type = "string", example = "/tasks/build-42")),
            content = @Content(mediaType = MediaType.APPLICATION_JSON_VALUE,
                    schema = @Schema(implementation = Responses.TaskView.class)))
    @ApiResponse(responseCode = "200", description = "The task exists with the same settings.",
            content = @Content(mediaType = MediaType.APPLICATION_JSON_VALUE,
                    schema = @Schema(implementation = Responses.TaskView.class)))
    @Problems(value = {KERN_INVALID_ARGUMENT, KERN_NAME_EXISTS, KERN_RESOURCE_SHORTAGE, MACH_SEND_INVALID_DEST},
            http = {413, 415})
    @Parameter(name = "task", in = ParameterIn.PATH, description = TASK_ID_DOC, example = "build-42")
    public ResponseEntity<Responses.TaskView> createWithId(
            @PathVariable String task,
            HttpServletRequest request) {
        if (SandboxTasks.isImage(request.getContentType())) {
            Responses.TaskView view = Responses.TaskView.of(SandboxTasks.restore(service, registry, request, task));
            return ResponseEntity.created(URI.create("/tasks/" + view.id())).body(view);
        }
        Settings settings = readSettings(request);
        if (settings.parent() != null) {
            Responses.TaskView view = Responses.TaskView.of(
                    SandboxTasks.fork(service, registry, settings.parent(), settings.spec(), task));
            return ResponseEntity.created(URI.create("/tasks/" + view.id())).body(view);
        }
        TaskSpec spec = settings.spec();
        TaskRegistry.Created created = service.createTask(task, spec);
        Responses.TaskView view = Responses.TaskView.of(service.info(created.task()));
        if (created.created()) {
            return ResponseEntity.created(URI.create("/tasks/" + view.id())).body(view);
        }
        return ResponseEntity.status(HttpStatus.OK).body(view);
    }

    @GetMapping(path = "/tasks", produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(operationId = "task_list", summary = "Lists the live tasks.", description = "Every live task, by id.")
    @ApiResponse(responseCode = "200", description = "The tasks.",
            content = @Content(mediaType = MediaType.APPLICATION_JSON_VALUE,
                    array = @ArraySchema(schema = @Schema(implementation = Responses.TaskView.class))))
    @Problems({})
    public List<Responses.TaskView> list() {
        return service.listTasks().stream().map(Responses.TaskView::of).toList();
    }

    @GetMapping(path = "/tasks/{task}", produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(operationId = "task_info", summary = "Describes a task.",
            description = "Settings, map bounds, region count, virtual and resident bytes of the task.")
    @ApiResponse(responseCode = "200", description = "The task.",
            content = @Content(mediaType = MediaType.APPLICATION_JSON_VALUE,
                    schema = @Schema(implementation = Responses.TaskView.class)))
    @Problems({MACH_SEND_INVALID_DEST})
    @Parameter(name = "task", in = ParameterIn.PATH, description = TASK_ID_DOC, example = "t-3f9c2a7d1e0b")
    public Responses.TaskView info(
            @PathVariable String task) {
        return Responses.TaskView.of(service.taskInfo(task));
    }

    @DeleteMapping("/tasks/{task}")
    @Operation(operationId = "task_terminate", summary = "Terminates a task.",
            description = "Releases every page of the task; later calls on its id answer MACH_SEND_INVALID_DEST.")
    @ApiResponse(responseCode = "204", description = "Terminated.")
    @Problems({MACH_SEND_INVALID_DEST})
    @Parameter(name = "task", in = ParameterIn.PATH, description = TASK_ID_DOC, example = "t-3f9c2a7d1e0b")
    @ResponseStatus(HttpStatus.NO_CONTENT)
    public void terminate(
            @PathVariable String task) {
        service.terminateTask(task);
    }

    /** A create body: the settings, and the task to fork when {@code parent} is set. */
    private record Settings(TaskSpec spec, String parent) {
    }

    private static Settings readSettings(HttpServletRequest request) {
        Flavor flavor = null;
        ErrorModel errors = null;
        String name = null;
        String parent = null;
        try (JsonRequest json = JsonRequest.open(request, false)) {
            for (String field; (field = json.nextField()) != null; ) {
                switch (field) {
                    case "flavor" -> flavor = wireName(json, field, Flavor::fromWireName, "\"arm64\" or \"x86_64\"");
                    case "errors" -> errors = wireName(json, field, ErrorModel::fromWireName,
                            "\"documented\" or \"xnu\"");
                    case "name" -> {
                        name = json.string(field);
                        if (name != null && name.length() > MAX_NAME_LENGTH) {
                            throw ApiProblem.invalidArgument("name must be at most " + MAX_NAME_LENGTH
                                    + " characters, not " + name.length());
                        }
                    }
                    case "parent" -> parent = json.string(field);
                    default -> json.skip();
                }
            }
        }
        return new Settings(flavor == null && errors == null && name == null ? TaskSpec.DEFAULTS
                : new TaskSpec(flavor, errors, name), parent);
    }

    /** A string field naming a setting by its wire name (null when absent or null); another name is a 400. */
    private static <T> T wireName(JsonRequest json, String field, Function<String, T> parse, String allowed) {
        String text = json.string(field);
        if (text == null) {
            return null;
        }
        T value = parse.apply(text);
        if (value == null) {
            throw ApiProblem.invalidArgument(field + " must be " + allowed + ", not " + Texts.quote(text));
        }
        return value;
    }
}
