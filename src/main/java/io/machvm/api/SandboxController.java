package io.machvm.api;

import static io.machvm.api.ProblemWriter.PROBLEM_JSON;
import static io.machvm.vm.KernReturn.KERN_INVALID_ADDRESS;
import static io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT;
import static io.machvm.vm.KernReturn.KERN_NO_SPACE;
import static io.machvm.vm.KernReturn.KERN_PROTECTION_FAILURE;
import static io.machvm.vm.KernReturn.KERN_RESOURCE_SHORTAGE;
import static io.machvm.vm.KernReturn.MACH_SEND_INVALID_DEST;

import io.machvm.service.VmService;
import io.machvm.vm.TaskImage;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.enums.ParameterIn;
import io.swagger.v3.oas.annotations.headers.Header;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.parameters.RequestBody;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.OutputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.InvalidMediaTypeException;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.http.ResponseEntity;
import tools.jackson.core.JsonGenerator;
import tools.jackson.databind.json.JsonMapper;

/**
 * The sandbox features on a task: snapshot images, page dispositions (dirty pages) and batches of calls. Forking and
 * restoring are ways of creating a task: {@link TaskController}.
 */
@RestController
@Tag(name = "sandbox")
public class SandboxController {
    private static final Logger log = LoggerFactory.getLogger(SandboxController.class);

    private final VmService service;
    private final JsonMapper mapper;

    public SandboxController(VmService service, JsonMapper mapper) {
        this.service = service;
        this.mapper = mapper;
    }

    // ---------------------------------------------------------------- snapshots

    @GetMapping("/tasks/{task}/snapshot")
    @Operation(operationId = "task_snapshot", summary = "Streams a snapshot image of a task.",
            description = "A portable, versioned binary image of the task (" + TaskImage.MEDIA_TYPE + "): flavor, "
                    + "error model, name, regions and resident pages, each page and the whole image checksummed "
                    + "(CRC-32C). The image is taken at one instant, then streamed with an exact Content-Length while "
                    + "the task goes on. POST /tasks or PUT /tasks/{task} with this body restores it byte for byte. "
                    + "With clearDirty=true the task's dirty set is cleared at the instant the image is taken, so "
                    + "the next vm_page_range_query shows exactly what changed after the image (even when the client "
                    + "does not read the image to its end). Accept must allow " + TaskImage.MEDIA_TYPE
                    + " (or be absent, */* or application/*), else 406.")
    @ApiResponse(responseCode = "200", description = "The image.",
            headers = @Header(name = "Content-Disposition", description = "attachment; filename=\"{task}.machvm\"",
                    schema = @Schema(type = "string", example = "attachment; filename=\"t-3f9c2a7d1e0b.machvm\"")),
            content = @Content(mediaType = TaskImage.MEDIA_TYPE, schema = @Schema(type = "string", format = "binary",
                    description = "The image (format: io.machvm.vm.TaskImage).")))
    @Problems(value = {KERN_INVALID_ARGUMENT, MACH_SEND_INVALID_DEST}, http = {406})
    @TaskPath
    @Parameter(name = "clearDirty", in = ParameterIn.QUERY,
            description = "Clear the task's dirty set at the instant the image is taken (default false).",
            schema = @Schema(type = "boolean", example = "false"))
    public void snapshot(
            @PathVariable String task,
            @RequestParam(name = "clearDirty", required = false) String clearDirtyText,
            HttpServletRequest request, HttpServletResponse response) {
        boolean clearDirty = bool("clearDirty", clearDirtyText);
        checkAcceptsImage(request.getHeader("Accept"));
        TaskImage image = service.snapshot(task, clearDirty);
        try {
            response.setStatus(HttpServletResponse.SC_OK);
            response.setContentType(TaskImage.MEDIA_TYPE);
            response.setContentLengthLong(image.sizeBytes());
            response.setHeader("Content-Disposition", "attachment; filename=\"" + task + ".machvm\"");
            image.writeTo(response.getOutputStream());
            response.flushBuffer();
        } catch (IOException e) {
            // The client went away mid-image: nothing more can be said to it.
            log.debug("snapshot of {} broke off: {}", task, e.toString());
        } finally {
            image.close();
        }
    }

    private static boolean bool(String name, String text) {
        if (text == null || text.equals("false")) {
            return false;
        }
        if (text.equals("true")) {
            return true;
        }
        throw ApiProblem.invalidArgument(name + " must be true or false, not " + Texts.quote(text));
    }

    /**
     * Absent, wildcards, the image type and {@code application/problem+json} (what generated clients accept when the
     * success is bytes) are fine; anything else is {@code 406}.
     */
    static void checkAcceptsImage(String accept) {
        if (accept == null || accept.isBlank()) {
            return;
        }
        try {
            for (MediaType type : MediaType.parseMediaTypes(accept)) {
                if (type.getQualityValue() > 0 && (type.isWildcardType()
                        || (type.getType().equals("application") && type.isWildcardSubtype())
                        || type.getType().equals("application") && type.getSubtype().equals("vnd.machvm.snapshot")
                        || type.equalsTypeAndSubtype(MediaType.APPLICATION_PROBLEM_JSON))) {
                    return;
                }
            }
        } catch (InvalidMediaTypeException e) {
            // refused below
        }
        throw new ApiProblem(406, KERN_INVALID_ARGUMENT, "Accept " + Texts.quote(accept) + " is not supported: a "
                + "snapshot is " + TaskImage.MEDIA_TYPE);
    }

    // ---------------------------------------------------------------- page dispositions

    /** The most pages one query answers: about 5 MB of JSON, so that a short request cannot ask for much more. */
    static final long MAX_QUERY_PAGES = 1 << 16;
    /** Mach's VM_PAGE_QUERY_PAGE_PRESENT, _DIRTY and _SHARED bits. */
    private static final int PAGE_PRESENT = 0x1;
    private static final int PAGE_DIRTY = 0x8;
    private static final int PAGE_SHARED = 0x20;

    /** Refuses a range of more than {@link #MAX_QUERY_PAGES} pages; a range that wraps is the service's to refuse. */
    private static void checkQueryPages(long address, long size, int pageSize) {
        long end = address + size;
        long roundedEnd = end + pageSize - 1;
        if (size == 0 || Long.compareUnsigned(end, address) < 0 || Long.compareUnsigned(roundedEnd, end) < 0) {
            return;
        }
        long pages = Long.divideUnsigned((roundedEnd & -(long) pageSize) - (address & -(long) pageSize), pageSize);
        if (pages > MAX_QUERY_PAGES) {
            throw ApiProblem.invalidArgument("a page query answers at most " + MAX_QUERY_PAGES + " pages, not "
                    + pages + ": query the range in parts");
        }
    }

    @GetMapping(path = "/tasks/{task}/pages", produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(operationId = "vm_page_range_query", summary = "The disposition of each page of a range.",
            description = "mach_vm_page_range_query: for each page of [trunc(address), round(address+size)) its "
                    + "VM_PAGE_QUERY bits — 0x1 PRESENT (holds data), 0x8 DIRTY (written since the last "
                    + "vm_dirty_clear or snapshot with clearDirty), 0x20 SHARED (copy-on-write shared, or memory shared "
                    + "with another task by fork) — as integers and as objects. Unmapped and untouched pages are 0. "
                    + "Size 0 answers no page whatever the address; a range that wraps, or of more than "
                    + MAX_QUERY_PAGES + " pages (query a larger range in parts), is KERN_INVALID_ARGUMENT.")
    @ApiResponse(responseCode = "200", description = "The pages.",
            content = @Content(mediaType = MediaType.APPLICATION_JSON_VALUE,
                    schema = @Schema(implementation = Responses.PageRangeQuery.class)))
    @Problems({KERN_INVALID_ARGUMENT, MACH_SEND_INVALID_DEST})
    @TaskPath
    @Parameter(name = "address", in = ParameterIn.QUERY, description = AddressPath.DOC,
            example = "0x100000000", required = true, schema = @Schema(type = "string", pattern = U64.REQUEST_PATTERN))
    @Parameter(name = "size", in = ParameterIn.QUERY,
            description = "Bytes in the range: a hex string (0x…) or decimal digits.", example = "0x8000",
            required = true, schema = @Schema(type = "string", pattern = U64.REQUEST_PATTERN))
    public void pages(
            @PathVariable String task,
            @RequestParam(name = "address", required = false) U64 addressValue,
            @RequestParam(name = "size", required = false) U64 sizeValue,
            HttpServletResponse response) throws IOException {
        if (addressValue == null) {
            throw ApiProblem.invalidArgument("address is required: GET …/pages?address=A&size=N");
        }
        if (sizeValue == null) {
            throw ApiProblem.invalidArgument("size is required: GET …/pages?address=A&size=N");
        }
        long address = addressValue.value();
        long size = sizeValue.value();
        int pageSize = service.pageSize(task);
        checkQueryPages(address, size, pageSize);
        int[] dispositions = service.pageDispositions(task, address, size);
        long first = address & -(long) pageSize;
        response.setStatus(HttpServletResponse.SC_OK);
        response.setContentType(MediaType.APPLICATION_JSON_VALUE);
        // Streamed: a query may cover a million pages.
        try (OutputStream out = response.getOutputStream(); JsonGenerator g = mapper.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringProperty("address", U64.format(first));
            g.writeStringProperty("size", U64.format((long) dispositions.length * pageSize));
            g.writeNumberProperty("pageSize", pageSize);
            g.writeName("dispositions");
            g.writeArray(dispositions, 0, dispositions.length);
            g.writeArrayPropertyStart("pages");
            for (int i = 0; i < dispositions.length; i++) {
                int d = dispositions[i];
                g.writeStartObject();
                g.writeStringProperty("address", U64.format(first + (long) i * pageSize));
                g.writeBooleanProperty("present", (d & PAGE_PRESENT) != 0);
                g.writeBooleanProperty("dirty", (d & PAGE_DIRTY) != 0);
                g.writeBooleanProperty("shared", (d & PAGE_SHARED) != 0);
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        }
    }

    @DeleteMapping("/tasks/{task}/pages/dirty")
    @Operation(operationId = "vm_dirty_clear", summary = "Clears the task's dirty set.",
            description = "Forgets which pages were written: afterwards no page is DIRTY until it is written again. "
                    + "The basis of incremental snapshots; GET /tasks/{task}/snapshot?clearDirty=true does the same at "
                    + "the instant of the image.")
    @NoContent("Cleared.")
    @Problems({MACH_SEND_INVALID_DEST})
    @TaskPath
    public void clearDirty(
            @PathVariable String task) {
        service.clearDirty(task);
    }

    // ---------------------------------------------------------------- batches

    @PostMapping("/tasks/{task}/batch")
    @Operation(operationId = "task_batch", summary = "Runs a batch of Mach calls on a task, optionally atomically.",
            description = "Runs the calls in order, each through the same code as its own endpoint, and answers 200 "
                    + "with one result per call: the status that endpoint would have answered, and its body or "
                    + "problem. Without atomic each call is independent and a failure does not stop the batch. With "
                    + "atomic: true the task is locked for the batch and all calls take effect or none does: the "
                    + "first failing call ends the batch, the task is put back exactly as it was, and the answer is "
                    + "that call's status and problem (application/problem+json) with failedIndex and results, in "
                    + "which every other call is 424. In an atomic batch vm_read_overwrite may write only into the "
                    + "path's task. vm_write data is base64 (multipart bodies are not taken). Limits: "
                    + SandboxBatch.MAX_CALLS + " calls and 16 MiB of body (413); the vm_read calls of a batch answer "
                    + "at most 16 MiB in all (beyond: that call's 413). The body is checked as a whole first — "
                    + "malformed JSON, a duplicate field, calls not an array of objects: 400, and nothing runs; an "
                    + "unknown task: 404 — each call's own arguments when its turn comes, as its endpoint checks them.")
    @RequestBody(required = true, content = @Content(mediaType = MediaType.APPLICATION_JSON_VALUE,
            schema = @Schema(implementation = Requests.BatchRequest.class)))
    @ApiResponse(responseCode = "200", description = "The batch ran: one result per call (all succeeded if atomic).",
            content = @Content(mediaType = MediaType.APPLICATION_JSON_VALUE,
                    schema = @Schema(implementation = Responses.BatchResults.class)))
    @ApiResponse(responseCode = "400", description = "A malformed batch (nothing ran), or in an atomic batch the "
            + "failing call's invalid argument (KERN_INVALID_ARGUMENT).",
            content = @Content(mediaType = PROBLEM_JSON, schema = @Schema(implementation = Responses.BatchProblem.class)))
    @ApiResponse(responseCode = "403", description = "Atomic batch: a call's protection failure (KERN_PROTECTION_FAILURE).",
            content = @Content(mediaType = PROBLEM_JSON, schema = @Schema(implementation = Responses.BatchProblem.class)))
    @ApiResponse(responseCode = "404", description = "No such task (MACH_SEND_INVALID_DEST), or in an atomic batch a "
            + "call's unmapped address (KERN_INVALID_ADDRESS) or unknown destTask.",
            content = @Content(mediaType = PROBLEM_JSON, schema = @Schema(implementation = Responses.BatchProblem.class)))
    @ApiResponse(responseCode = "409", description = "Atomic batch: vm_allocate found no space (KERN_NO_SPACE).",
            content = @Content(mediaType = PROBLEM_JSON, schema = @Schema(implementation = Responses.BatchProblem.class)))
    @ApiResponse(responseCode = "413", description = "More than " + SandboxBatch.MAX_CALLS + " calls or a body over "
            + "16 MiB (nothing ran), or in an atomic batch a call over a transfer limit (KERN_INVALID_ARGUMENT).",
            content = @Content(mediaType = PROBLEM_JSON, schema = @Schema(implementation = Responses.BatchProblem.class)))
    @ApiResponse(responseCode = "507", description = "Atomic batch: the page store or task limit is exhausted "
            + "(KERN_RESOURCE_SHORTAGE).",
            content = @Content(mediaType = PROBLEM_JSON, schema = @Schema(implementation = Responses.BatchProblem.class)))
    @Problems(value = {KERN_INVALID_ADDRESS, KERN_PROTECTION_FAILURE, KERN_NO_SPACE, KERN_INVALID_ARGUMENT,
        KERN_RESOURCE_SHORTAGE, MACH_SEND_INVALID_DEST}, http = {413, 415})
    @TaskPath
    public ResponseEntity<?> batch(
            @PathVariable String task,
            @org.springframework.web.bind.annotation.RequestBody Requests.BatchRequest body,
            HttpServletRequest request) {
        SandboxBatch.Outcome outcome = SandboxBatch.run(service, mapper, task, request.getRequestURI(), body);
        if (outcome instanceof SandboxBatch.Failed failed) {
            return ResponseEntity.status(failed.problem().status()).contentType(MediaType.APPLICATION_PROBLEM_JSON)
                    .body(failed.problem());
        }
        return ResponseEntity.ok().contentType(MediaType.APPLICATION_JSON)
                .body(((SandboxBatch.Ran) outcome).results());
    }
}
