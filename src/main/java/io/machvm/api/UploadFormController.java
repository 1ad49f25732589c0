package io.machvm.api;

import static io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT;
import static io.machvm.vm.KernReturn.KERN_NAME_EXISTS;
import static io.machvm.vm.KernReturn.KERN_RESOURCE_SHORTAGE;

import io.machvm.service.VmService;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.media.SchemaProperty;
import io.swagger.v3.oas.annotations.parameters.RequestBody;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * The {@code multipart/form-data} forms of the raw uploads, for clients that send a file only as a form's file part
 * (openapi-generator's Java {@code native} library, HTML forms, {@code curl -F}): each is the raw operation's path
 * followed by {@code /form}, with the same method, and the bytes in one file part ({@link FormPart}, streamed). The
 * Mach names stay on the raw operations; these add {@code _form}.
 */
@RestController
public class UploadFormController {
    private static final String FORM = MediaType.MULTIPART_FORM_DATA_VALUE;
    /** The part that holds vm_write's bytes. */
    static final String DATA_PART = "data";
    /** The part that holds a snapshot image. */
    static final String IMAGE_PART = "image";

    private final VmService service;

    public UploadFormController(VmService service) {
        this.service = service;
    }

    @PutMapping(path = "/tasks/{task}/memory/{address}/form", consumes = FORM)
    @Tag(name = "memory")
    @Operation(operationId = "vm_write_form", summary = "Writes bytes sent as a form's file part into a task.",
            description = "vm_write for clients that send a file only as a multipart/form-data part: the same call, "
                    + "with the bytes as the one file part \"data\" (streamed, never held whole, up to "
                    + "machvm.api.max-transfer). A body with no such part, another part, or that does not parse "
                    + "is a 400 and changes nothing.")
    @RequestBody(required = true, content = @Content(mediaType = FORM, schema = @Schema(type = "object",
            requiredProperties = DATA_PART), schemaProperties = @SchemaProperty(name = DATA_PART,
                    schema = @Schema(type = "string", format = "binary", description = "The bytes to write."))))
    @WritesMemory
    public void write(
            @PathVariable String task,
            @PathVariable U64 address,
            HttpServletRequest request) {
        try {
            service.write(task, address.value(), FormPart.open(request, DATA_PART), -1);
        } catch (IOException e) {
            throw new BodyStreamException(e);
        }
    }

    @PostMapping(path = "/tasks/restore/form", consumes = FORM, produces = MediaType.APPLICATION_JSON_VALUE)
    @Tag(name = "tasks")
    @Operation(operationId = "task_restore_form", summary = "Restores a snapshot image sent as a form's file part "
            + "into a task with a minted id.",
            description = "task_restore for clients that send a file only as a multipart/form-data part: the image "
                    + "is the one file part \"image\" (streamed). " + TaskController.IMAGE_BODY_DOC)
    @ImageForm
    @CreatesTask("Restored.")
    @Problems(value = {KERN_INVALID_ARGUMENT, KERN_RESOURCE_SHORTAGE}, http = {415})
    public ResponseEntity<Responses.TaskView> restore(HttpServletRequest request) {
        return TaskController.created(SandboxTasks.restore(service, FormPart.open(request, IMAGE_PART), null));
    }

    @PutMapping(path = "/tasks/{task}/snapshot/form", consumes = FORM, produces = MediaType.APPLICATION_JSON_VALUE)
    @Tag(name = "tasks")
    @Operation(operationId = "task_restore_with_id_form", summary = "Restores a snapshot image sent as a form's "
            + "file part into a task with a chosen id.",
            description = "task_restore_with_id for clients that send a file only as a multipart/form-data part: the "
                    + "image is the one file part \"image\" (streamed). " + TaskController.IMAGE_BODY_DOC
                    + " An existing {task} is a 409 KERN_NAME_EXISTS, refused before the body is read.")
    @ImageForm
    @CreatesNamedTask("Restored.")
    @Problems(value = {KERN_INVALID_ARGUMENT, KERN_NAME_EXISTS, KERN_RESOURCE_SHORTAGE}, http = {415})
    public ResponseEntity<Responses.TaskView> restoreWithId(
            @PathVariable String task,
            HttpServletRequest request) {
        service.checkNewTaskId(task); // before a byte of the body is read
        return TaskController.created(SandboxTasks.restore(service, FormPart.open(request, IMAGE_PART), task));
    }
}
