package io.machvm.api;

import io.machvm.service.HostStatistics;
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
            @Schema(description = "The optional name given at creation.", example = "build-42",
                    requiredMode = Schema.RequiredMode.REQUIRED, nullable = true)
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

        static List<Region> of(List<RegionInfo> regions) {
            return regions.stream().map(Region::of).toList();
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
                        "KERN_INVALID_ARGUMENT", "KERN_FAILURE", "KERN_RESOURCE_SHORTAGE", "KERN_NAME_EXISTS",
                        "MACH_SEND_INVALID_DEST"}, requiredMode = Schema.RequiredMode.REQUIRED)
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
}
