package io.machvm.api;

import static io.machvm.vm.KernReturn.KERN_INVALID_ADDRESS;
import static io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT;
import static io.machvm.vm.KernReturn.KERN_NO_SPACE;
import static io.machvm.vm.KernReturn.KERN_PROTECTION_FAILURE;
import static io.machvm.vm.KernReturn.KERN_RESOURCE_SHORTAGE;
import static io.machvm.vm.KernReturn.MACH_SEND_INVALID_DEST;

import io.machvm.service.VmService;
import io.machvm.vm.RegionInfo;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.headers.Header;
import io.swagger.v3.oas.annotations.media.ArraySchema;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;
import tools.jackson.core.JsonGenerator;
import tools.jackson.databind.json.JsonMapper;

/** The Mach VM calls that take JSON arguments, and vm_region. */
@RestController
@Tag(name = "vm")
public class VmController {
    private final VmService service;
    private final JsonMapper mapper;

    public VmController(VmService service, JsonMapper mapper) {
        this.service = service;
        this.mapper = mapper;
    }

    @PostMapping(path = "/tasks/{task}/allocate", produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(operationId = "vm_allocate", summary = "Maps zero-filled memory.",
            description = "FIXED (default): maps [trunc(address), round(trunc(address)+size)). With anywhere (flags "
                    + "bit 0x1) the service chooses the address, first fit from the map minimum. New memory reads as "
                    + "zeros, protection rw-, maximum rwx, inheritance copy. Size 0 succeeds with address 0x0.")
    @ApiResponse(responseCode = "201", description = "Mapped.",
            headers = @Header(name = "Location", description = "/tasks/{task}/regions/{address} of the new memory "
                    + "(absent for size 0)", schema = @Schema(type = "string",
                    example = "/tasks/t-3f9c2a7d1e0b/regions/0x100000000")))
    @Problems(value = {KERN_INVALID_ADDRESS, KERN_NO_SPACE, KERN_INVALID_ARGUMENT, KERN_RESOURCE_SHORTAGE,
        MACH_SEND_INVALID_DEST}, http = {413, 415})
    @TaskPath
    public ResponseEntity<Responses.Allocation> allocate(
            @PathVariable String task,
            @RequestBody Requests.AllocateRequest args) {
        Responses.Allocation allocation = args.run(service, task);
        if (args.size() != null && args.size().value() == 0) {
            return ResponseEntity.status(HttpStatus.CREATED).body(allocation);
        }
        return ResponseEntity.created(URI.create("/tasks/" + task + "/regions/" + allocation.address()))
                .body(allocation);
    }

    @PostMapping("/tasks/{task}/deallocate")
    @Operation(operationId = "vm_deallocate", summary = "Unmaps a range.",
            description = "Removes [trunc(address), round(address+size)); holes and unmapped ranges are fine. A range "
                    + "whose end wraps is KERN_INVALID_ARGUMENT; size 0 succeeds at any address.")
    @NoContent("Unmapped.")
    @Problems(value = {KERN_INVALID_ARGUMENT, MACH_SEND_INVALID_DEST}, http = {413, 415})
    @TaskPath
    public void deallocate(
            @PathVariable String task,
            @RequestBody Requests.RangeRequest args) {
        args.run(service, task);
    }

    @PostMapping("/tasks/{task}/protect")
    @Operation(operationId = "vm_protect", summary = "Sets the current or maximum protection of whole pages.",
            description = "Bits other than READ|WRITE|EXECUTE|COPY (0x17) are KERN_INVALID_ARGUMENT, checked before "
                    + "the range (size 0 succeeds whatever the bits). setMaximum=true sets max = protection and "
                    + "cur = protection & cur. Nothing changes unless the whole range is mapped and allowed.")
    @NoContent("Protection set.")
    @Problems(value = {KERN_INVALID_ADDRESS, KERN_PROTECTION_FAILURE, KERN_INVALID_ARGUMENT,
        MACH_SEND_INVALID_DEST}, http = {413, 415})
    @TaskPath
    public void protect(
            @PathVariable String task,
            @RequestBody Requests.ProtectRequest args) {
        args.run(service, task);
    }

    @PostMapping("/tasks/{task}/inherit")
    @Operation(operationId = "vm_inherit", summary = "Sets the inheritance of whole pages.",
            description = "Sets what a forked child receives of the range; the range rules are vm_protect's. A "
                    + "numeric inheritance above 2 is KERN_INVALID_ARGUMENT.")
    @NoContent("Inheritance set.")
    @Problems(value = {KERN_INVALID_ADDRESS, KERN_INVALID_ARGUMENT, MACH_SEND_INVALID_DEST}, http = {413, 415})
    @TaskPath
    public void inherit(
            @PathVariable String task,
            @RequestBody Requests.InheritRequest args) {
        args.run(service, task);
    }

    @PostMapping("/tasks/{task}/copy")
    @Operation(operationId = "vm_copy", summary = "Copies memory within a task.",
            description = "Copies size bytes from sourceAddress to destAddress (memmove: overlap is fine). The source "
                    + "must be mapped and readable, the destination mapped and writable, or nothing changes; source "
                    + "problems are reported first. Size 0 succeeds at any address.")
    @NoContent("Copied.")
    @OverwriteProblems
    @TaskPath
    public void copy(
            @PathVariable String task,
            @RequestBody Requests.CopyRequest args) {
        args.run(service, task);
    }

    @PostMapping(path = "/tasks/{task}/read-overwrite", produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(operationId = "vm_read_overwrite", summary = "Copies memory from this task into a task.",
            description = "Copies size bytes at address of {task} to destAddress of destTask (default: {task}). "
                    + "Source rules of vm_read (without its 32-bit size limit), destination rules of vm_write.")
    @ApiResponse(responseCode = "200", description = "Copied.")
    @OverwriteProblems
    @TaskPath
    public Responses.ReadOverwriteResult readOverwrite(
            @PathVariable String task,
            @RequestBody Requests.ReadOverwriteRequest args) {
        return args.run(service, task);
    }

    @GetMapping(path = "/tasks/{task}/regions/{address}", produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(operationId = "vm_region", summary = "The region containing an address, or the next one above.",
            description = "The map entry containing trunc(address), or else the first one above it; none is "
                    + "KERN_INVALID_ADDRESS.")
    @ApiResponse(responseCode = "200", description = "The region.")
    @Problems(value = {KERN_INVALID_ADDRESS, KERN_INVALID_ARGUMENT, MACH_SEND_INVALID_DEST})
    @TaskPath
    @AddressPath
    public Responses.Region region(
            @PathVariable String task,
            @PathVariable U64 address) {
        return Responses.Region.of(service.region(task, address.value()));
    }

    @GetMapping(path = "/tasks/{task}/regions", produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(operationId = "vm_region_walk", summary = "Every region of the task, in address order.",
            description = "The region walk: every map entry, as vm_region reports it, in address order.")
    @ApiResponse(responseCode = "200", description = "The regions.",
            content = @Content(mediaType = MediaType.APPLICATION_JSON_VALUE,
                    array = @ArraySchema(schema = @Schema(implementation = Responses.Region.class))))
    @Problems({MACH_SEND_INVALID_DEST})
    @TaskPath
    public void regions(
            @PathVariable String task,
            HttpServletResponse response) throws IOException {
        // Streamed a chunk at a time: a task may have millions of entries, and several walks may run at once. The
        // first chunk is taken before anything is written, so an unknown task is still a problem answer.
        JsonGenerator[] out = new JsonGenerator[1];
        service.walkRegions(task, VmService.REGION_WALK_CHUNK, chunk -> {
            JsonGenerator g = out[0];
            if (g == null) {
                response.setStatus(HttpServletResponse.SC_OK);
                response.setContentType(MediaType.APPLICATION_JSON_VALUE);
                g = mapper.createGenerator(response.getOutputStream());
                out[0] = g;
                g.writeStartArray();
            }
            for (RegionInfo r : chunk) {
                g.writePOJO(Responses.Region.of(r));
            }
            g.flush();
        });
        // Closed only when the walk completed: on a failure part way, closing would end the array and make a cut-off
        // answer look whole.
        out[0].writeEndArray();
        out[0].close();
    }
}
