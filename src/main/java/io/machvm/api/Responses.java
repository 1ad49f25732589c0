package io.machvm.api;

import io.machvm.service.HostStatistics;
import io.machvm.service.MachCall;
import io.machvm.service.TaskInfo;
import io.machvm.vm.RegionInfo;
import io.machvm.vm.VmProt;
import io.swagger.v3.oas.annotations.media.Schema;
import java.util.List;

/** The JSON response bodies; u64 quantities are lowercase {@code 0x} hex strings (see {@link U64}). */
public final class Responses {
    private Responses() {
    }

    @Schema(name = "PageSize", description = "The host page size (host_page_size).",
            example = "{\"pageSize\": 16384}")
    public record PageSize(
            @Schema(description = "Bytes per page of the host flavor: 16384 (arm64) or 4096 (x86_64).",
                    example = "16384", requiredMode = Schema.RequiredMode.REQUIRED)
            int pageSize) {
    }

    @Schema(name = "HostStatistics", description = "Page-store figures for the host, in host-flavor pages.",
            example = "{\"pageSize\": 16384, \"capacityBytes\": \"0x40000000\", \"residentPages\": 12, "
                    + "\"sharedPages\": 2, \"freePages\": 65524, \"tasks\": 3}")
    public record HostStatisticsView(
            @Schema(description = "Bytes per page of the host flavor.", example = "16384",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            int pageSize,
            @Schema(description = "Page-store capacity in bytes (machvm.store.capacity).", example = "0x40000000",
                    pattern = U64.RESPONSE_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            String capacityBytes,
            @Schema(description = "Pages holding data, over all tasks (untouched allocated memory holds none).",
                    example = "12", requiredMode = Schema.RequiredMode.REQUIRED)
            long residentPages,
            @Schema(description = "Resident pages shared copy-on-write by more than one mapping.", example = "2",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            long sharedPages,
            @Schema(description = "Pages the store can still supply.", example = "65524",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            long freePages,
            @Schema(description = "Live tasks.", example = "3", requiredMode = Schema.RequiredMode.REQUIRED)
            int tasks) {

        static HostStatisticsView of(HostStatistics s) {
            return new HostStatisticsView(s.pageSize(), U64.format(s.capacityBytes()), s.residentPages(),
                    s.sharedPages(), s.freePages(), s.tasks());
        }
    }

    @Schema(name = "Task", description = "A task (address space): its settings, map bounds and usage.",
            example = "{\"id\": \"t-3f9c2a7d1e0b\", \"name\": \"build-42\", \"flavor\": \"arm64\", "
                    + "\"errors\": \"documented\", \"pageSize\": 16384, \"minAddress\": \"0x100000000\", "
                    + "\"maxAddress\": \"0x7ffffe000000\", \"regionCount\": 1, \"virtualBytes\": \"0x8000\", "
                    + "\"residentBytes\": \"0x4000\"}")
    public record TaskView(
            @Schema(description = "The task id: minted by POST /tasks or chosen with PUT /tasks/{task}.",
                    example = "t-3f9c2a7d1e0b", requiredMode = Schema.RequiredMode.REQUIRED)
            String id,
            @Schema(description = "The optional name given at creation (null without one).", example = "build-42",
                    requiredMode = Schema.RequiredMode.REQUIRED, types = {"string", "null"})
            String name,
            @Schema(description = "Machine flavor: page size, map bounds, W^X policy.", example = "arm64",
                    allowableValues = {"arm64", "x86_64"}, requiredMode = Schema.RequiredMode.REQUIRED)
            String flavor,
            @Schema(description = "Error model: documented (man pages) or xnu (bit-for-bit XNU).",
                    example = "documented", allowableValues = {"documented", "xnu"},
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String errors,
            @Schema(description = "Bytes per page of the task.", example = "16384",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            int pageSize,
            @Schema(description = "Lowest mappable address.", example = "0x100000000", pattern = U64.RESPONSE_PATTERN,
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String minAddress,
            @Schema(description = "End of the mappable range (exclusive).", example = "0x7ffffe000000",
                    pattern = U64.RESPONSE_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            String maxAddress,
            @Schema(description = "Number of map entries (regions).", example = "1",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            int regionCount,
            @Schema(description = "Bytes mapped.", example = "0x8000", pattern = U64.RESPONSE_PATTERN,
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String virtualBytes,
            @Schema(description = "Bytes of mapped memory that hold data.", example = "0x4000",
                    pattern = U64.RESPONSE_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            String residentBytes) {

        static TaskView of(TaskInfo t) {
            return new TaskView(t.id(), t.name(), t.flavor().wireName(), t.errors().wireName(), t.pageSize(),
                    U64.format(t.minAddress()), U64.format(t.maxAddress()), t.regionCount(),
                    U64.format(t.virtualBytes()), U64.format(t.residentBytes()));
        }
    }

    @Schema(name = "Allocation", description = "Where vm_allocate mapped the memory.",
            example = "{\"address\": \"0x100000000\", \"size\": \"0x8000\"}")
    public record Allocation(
            @Schema(description = "Start of the new memory (page aligned; 0x0 for size 0).", example = "0x100000000",
                    pattern = U64.RESPONSE_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            String address,
            @Schema(description = "Bytes mapped: the requested size rounded up to whole pages.", example = "0x8000",
                    pattern = U64.RESPONSE_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            String size) {

        static Allocation of(MachCall.Allocation allocation) {
            return new Allocation(U64.format(allocation.address()), U64.format(allocation.size()));
        }
    }

    @Schema(name = "ReadOverwriteResult", description = "The result of vm_read_overwrite.",
            example = "{\"outsize\": \"0x4000\"}")
    public record ReadOverwriteResult(
            @Schema(description = "Bytes copied.", example = "0x4000", pattern = U64.RESPONSE_PATTERN,
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String outsize) {
    }

    @Schema(name = "Region", description = "One map entry as vm_region reports it.",
            example = "{\"address\": \"0x100000000\", \"size\": \"0x4000\", \"protection\": \"rw-\", "
                    + "\"maxProtection\": \"rwx\", \"inheritance\": \"copy\", \"shared\": false, \"offset\": \"0x0\"}")
    public record Region(
            @Schema(description = "Start of the entry.", example = "0x100000000", pattern = U64.RESPONSE_PATTERN,
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String address,
            @Schema(description = "Bytes in the entry.", example = "0x4000", pattern = U64.RESPONSE_PATTERN,
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String size,
            @Schema(description = "Current protection, vmmap style.", example = "rw-", pattern = "^[r-][w-][x-]$",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String protection,
            @Schema(description = "Maximum protection, vmmap style.", example = "rwx", pattern = "^[r-][w-][x-]$",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String maxProtection,
            @Schema(description = "What a forked child would receive.", example = "copy",
                    allowableValues = {"share", "copy", "none"}, requiredMode = Schema.RequiredMode.REQUIRED)
            String inheritance,
            @Schema(description = "Whether the entry's pages are shared copy-on-write with another mapping.",
                    example = "false", requiredMode = Schema.RequiredMode.REQUIRED)
            boolean shared,
            @Schema(description = "Offset of the entry in its memory object.", example = "0x0",
                    pattern = U64.RESPONSE_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            String offset) {

        static Region of(RegionInfo r) {
            return new Region(U64.format(r.address()), U64.format(r.size()), VmProt.format(r.protection()),
                    VmProt.format(r.maxProtection()), r.inheritance().wireName(), r.shared(), U64.format(r.offset()));
        }
    }

    @Schema(name = "ReadData", description = "vm_read answered as JSON (Accept: application/json).",
            example = "{\"address\": \"0x100000000\", \"size\": \"0x5\", \"data\": \"aGVsbG8=\"}")
    public record ReadData(
            @Schema(description = "Address read from.", example = "0x100000000", pattern = U64.RESPONSE_PATTERN,
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String address,
            @Schema(description = "Bytes read.", example = "0x5", pattern = U64.RESPONSE_PATTERN,
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String size,
            @Schema(description = "The bytes, base64 (RFC 4648, with padding).", example = "aGVsbG8=",
                    format = "byte", requiredMode = Schema.RequiredMode.REQUIRED)
            String data) {
    }

    @Schema(name = "ProblemDetail", description = "RFC 9457 problem details: every failure has this body, with "
            + "Content-Type application/problem+json. Clients branch on kern (or kernReturn).",
            example = "{\"type\": \"/problems/KERN_PROTECTION_FAILURE\", \"title\": \"Protection failure\", "
                    + "\"status\": 403, \"detail\": \"destination range at 0x100008000 of 0x4000 bytes: "
                    + "[0x100008000, 0x10000c000) is r--, not writable\", \"instance\": \"/tasks/t1/copy\", "
                    + "\"kern\": \"KERN_PROTECTION_FAILURE\", \"kernReturn\": 2}")
    public record Problem(
            @Schema(description = "The problem type: /problems/{kern}, documented by GET on it.",
                    example = "/problems/KERN_PROTECTION_FAILURE", requiredMode = Schema.RequiredMode.REQUIRED)
            String type,
            @Schema(description = "Short summary of the problem type.", example = "Protection failure",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String title,
            @Schema(description = "The HTTP status.", example = "403", requiredMode = Schema.RequiredMode.REQUIRED)
            int status,
            @Schema(description = "What went wrong, naming the field, addresses and sizes involved.",
                    example = "destination range at 0x100008000 of 0x4000 bytes: [0x100008000, 0x10000c000) is r--, "
                            + "not writable", requiredMode = Schema.RequiredMode.REQUIRED)
            String detail,
            @Schema(description = "The request path.", example = "/tasks/t1/copy",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String instance,
            @Schema(description = "The Mach kern_return_t name.", example = "KERN_PROTECTION_FAILURE",
                    allowableValues = {"KERN_INVALID_ADDRESS", "KERN_PROTECTION_FAILURE", "KERN_NO_SPACE",
                        "KERN_INVALID_ARGUMENT", "KERN_FAILURE", "KERN_RESOURCE_SHORTAGE", "KERN_NOT_RECEIVER",
                        "KERN_NAME_EXISTS", "MACH_SEND_INVALID_DEST", "MACH_SEND_TIMED_OUT"},
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String kern,
            @Schema(description = "The Mach kern_return_t value (MACH_SEND_INVALID_DEST is 0x10000003 = 268435459).",
                    example = "2", requiredMode = Schema.RequiredMode.REQUIRED)
            int kernReturn) {
    }

    @Schema(name = "ProblemType", description = "Documentation of one problem type.",
            example = "{\"type\": \"/problems/KERN_NO_SPACE\", \"kern\": \"KERN_NO_SPACE\", \"kernReturn\": 3, "
                    + "\"status\": 409, \"title\": \"No space\", \"description\": \"vm_allocate found the fixed "
                    + "range already in use.\"}")
    public record ProblemTypeView(
            @Schema(description = "The type URI as problems carry it.", example = "/problems/KERN_NO_SPACE",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String type,
            @Schema(description = "The Mach kern_return_t name.", example = "KERN_NO_SPACE",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String kern,
            @Schema(description = "The Mach kern_return_t value.", example = "3",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            int kernReturn,
            @Schema(description = "The HTTP status problems of this type have (KERN_INVALID_ARGUMENT: see "
                    + "description for HTTP-level variants).", example = "409",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            int status,
            @Schema(description = "Short summary.", example = "No space", requiredMode = Schema.RequiredMode.REQUIRED)
            String title,
            @Schema(description = "When the service answers with this type.",
                    example = "vm_allocate found the fixed range already in use.",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String description) {

        static ProblemTypeView of(ProblemTypes.ProblemType t) {
            return new ProblemTypeView(t.type(), t.kern().name(), t.kern().value(), t.status(), t.title(),
                    t.description());
        }
    }

    // ---------------------------------------------------------------- sandbox features

    @Schema(name = "PageRangeQuery", description = "The disposition of every page of [trunc(address), "
            + "round(address+size)) (vm_page_range_query): dispositions holds the Mach VM_PAGE_QUERY bits, one "
            + "integer per page (0x1 PRESENT: the page holds data; 0x8 DIRTY: written since the last dirty clear or "
            + "snapshot with clearDirty; 0x20 SHARED: the page is shared copy-on-write, or the region is memory shared "
            + "with another task), and pages the same as objects. Unmapped and untouched pages are 0.",
            example = "{\"address\": \"0x100000000\", \"size\": \"0x8000\", \"pageSize\": 16384, "
                    + "\"dispositions\": [9, 0], \"pages\": [{\"address\": \"0x100000000\", \"present\": true, "
                    + "\"dirty\": true, \"shared\": false}, {\"address\": \"0x100004000\", \"present\": false, "
                    + "\"dirty\": false, \"shared\": false}]}")
    public record PageRangeQuery(
            @Schema(description = "The first page: address truncated to the task's page size.",
                    example = "0x100000000", pattern = U64.RESPONSE_PATTERN,
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String address,
            @Schema(description = "Bytes covered: the number of pages times pageSize (0x0 for size 0).",
                    example = "0x8000", pattern = U64.RESPONSE_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            String size,
            @Schema(description = "Bytes per page of the task.", example = "16384",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            int pageSize,
            @Schema(description = "VM_PAGE_QUERY bits of each page, in address order: 0x1 PRESENT, 0x8 DIRTY, "
                    + "0x20 SHARED.", example = "[9, 0]", requiredMode = Schema.RequiredMode.REQUIRED)
            List<Integer> dispositions,
            @Schema(description = "The same pages as objects, in address order.",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            List<PageDisposition> pages) {
    }

    @Schema(name = "PageDisposition", description = "One page of a page range query.",
            example = "{\"address\": \"0x100000000\", \"present\": true, \"dirty\": true, \"shared\": false}")
    public record PageDisposition(
            @Schema(description = "Start of the page.", example = "0x100000000", pattern = U64.RESPONSE_PATTERN,
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String address,
            @Schema(description = "The page holds data (it is mapped and not zero-fill).", example = "true",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            boolean present,
            @Schema(description = "Written since the last dirty clear (or snapshot with clearDirty).", example = "true",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            boolean dirty,
            @Schema(description = "Shared copy-on-write, or memory shared with another task.", example = "false",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            boolean shared) {
    }

    @Schema(name = "BatchResult", description = "The result of one call of a batch: the status its own endpoint "
            + "would have answered, and that endpoint's body (null for 204) or its problem. In the problem of an atomic "
            + "batch that failed, every call but the failing one is status 424 (undone, or not run) with neither.",
            example = "{\"status\": 201, \"body\": {\"address\": \"0x100000000\", \"size\": \"0x4000\"}, "
                    + "\"problem\": null}")
    public record BatchResult(
            @Schema(description = "HTTP status of the call: 200, 201 or 204 on success, the problem's status on "
                    + "failure, 424 in a failed atomic batch for the calls other than the failing one.",
                    example = "201", requiredMode = Schema.RequiredMode.REQUIRED)
            int status,
            @Schema(description = "The call's response body as its endpoint answers it (vm_allocate: Allocation, "
                    + "vm_read: ReadData with base64 data, vm_read_overwrite: ReadOverwriteResult, vm_region: Region); "
                    + "null for calls that answer 204 and for failures.", types = {"object", "null"},
                    requiredMode = Schema.RequiredMode.REQUIRED)
            Object body,
            @Schema(description = "The call's problem (its instance is the batch path with #/calls/{index}); null "
                    + "on success.", requiredMode = Schema.RequiredMode.REQUIRED)
            Problem problem) {
    }

    @Schema(name = "BatchResults", description = "The results of a batch, one per call, in order.",
            example = "{\"results\": [{\"status\": 201, \"body\": {\"address\": \"0x100000000\", "
                    + "\"size\": \"0x4000\"}, \"problem\": null}, {\"status\": 204, \"body\": null, "
                    + "\"problem\": null}]}")
    public record BatchResults(
            @Schema(description = "One result per call, in the order of the calls.",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            List<BatchResult> results) {
    }

    @Schema(name = "BatchProblem", description = "The problem of a batch request: RFC 9457 problem details. When a "
            + "call of an atomic batch failed, status, kern and kernReturn are that call's, detail names it, and "
            + "failedIndex and results are added; then no call of the batch took effect. A request refused as a whole "
            + "(malformed body, unknown task, too many calls) has neither.",
            example = "{\"type\": \"/problems/KERN_PROTECTION_FAILURE\", \"title\": \"Protection failure\", "
                    + "\"status\": 403, \"detail\": \"call 1 (vm_write) failed, so no call of the atomic batch took "
                    + "effect: …\", \"instance\": \"/tasks/t1/batch\", \"kern\": \"KERN_PROTECTION_FAILURE\", "
                    + "\"kernReturn\": 2, \"failedIndex\": 1, \"results\": [{\"status\": 424, \"body\": null, "
                    + "\"problem\": null}, {\"status\": 403, \"body\": null, \"problem\": {\"type\": "
                    + "\"/problems/KERN_PROTECTION_FAILURE\", \"title\": \"Protection failure\", \"status\": 403, "
                    + "\"detail\": \"…\", \"instance\": \"/tasks/t1/batch#/calls/1\", \"kern\": "
                    + "\"KERN_PROTECTION_FAILURE\", \"kernReturn\": 2}}]}")
    public record BatchProblem(
            @Schema(description = "The problem type: /problems/{kern}.", example = "/problems/KERN_PROTECTION_FAILURE",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String type,
            @Schema(description = "Short summary of the problem type.", example = "Protection failure",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String title,
            @Schema(description = "The HTTP status: the failing call's.", example = "403",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            int status,
            @Schema(description = "What went wrong, naming the failing call.", example = "call 1 (vm_write) failed",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String detail,
            @Schema(description = "The request path.", example = "/tasks/t1/batch",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String instance,
            @Schema(description = "The Mach kern_return_t name.", example = "KERN_PROTECTION_FAILURE",
                    allowableValues = {"KERN_INVALID_ADDRESS", "KERN_PROTECTION_FAILURE", "KERN_NO_SPACE",
                        "KERN_INVALID_ARGUMENT", "KERN_FAILURE", "KERN_RESOURCE_SHORTAGE", "KERN_NAME_EXISTS",
                        "MACH_SEND_INVALID_DEST"}, requiredMode = Schema.RequiredMode.REQUIRED)
            String kern,
            @Schema(description = "The Mach kern_return_t value.", example = "2",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            int kernReturn,
            @Schema(description = "Index of the call that failed (atomic batches only).", example = "1")
            Integer failedIndex,
            @Schema(description = "One result per call (atomic batches only): the failing call's problem, 424 for "
                    + "the others.")
            List<BatchResult> results) {
    }
}
