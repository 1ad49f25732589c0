package io.machvm.api;

import io.swagger.v3.oas.annotations.media.Schema;

/**
 * The JSON request bodies as OpenAPI documents them. The controllers read bodies with {@link JsonRequest}, which
 * accepts more than a schema can say: every u64 field is documented as a string, but a JSON integer (up to 2^64-1,
 * read exactly) is accepted as well.
 */
public final class Requests {
    static final String U64_REQUEST = " An unsigned 64-bit integer: a hex string (\"0x4000\", either case of x and "
            + "digits), a decimal string (\"16384\") or a JSON integer, 0 to 2^64-1.";
    static final String PROTECTION_PATTERN = "^([r-][w-][x-]|0[xX][0-9a-fA-F]+|[0-9]+)$";

    private Requests() {
    }

    @Schema(name = "TaskSettings", description = "Settings of a new task; absent fields take the configured "
            + "defaults (machvm.host.flavor, machvm.vm.errors). With parent the new task is a fork of that task: "
            + "flavor and errors come from the parent (given, they must equal the parent's), name defaults to the "
            + "parent's.",
            example = "{\"flavor\": \"arm64\", \"errors\": \"documented\", \"name\": \"build-42\"}")
    public record TaskSettings(
            @Schema(description = "Machine flavor: arm64 (16 KiB pages, W^X) or x86_64 (4 KiB pages).",
                    example = "arm64", allowableValues = {"arm64", "x86_64"})
            String flavor,
            @Schema(description = "Error model: documented (protection problems are KERN_PROTECTION_FAILURE) or xnu "
                    + "(bit-for-bit XNU, see SEMANTICS.md).", example = "documented",
                    allowableValues = {"documented", "xnu"})
            String errors,
            @Schema(description = "A free-form name, at most 256 characters.", example = "build-42",
                    maxLength = 256)
            String name,
            @Schema(description = "Fork this task (task_fork) instead of creating an empty one: each of its regions "
                    + "reaches the child as the region's inheritance says (vm_inherit): copy, a private copy-on-write "
                    + "copy; share, memory both tasks see; none, absent. No byte is copied. An unknown parent is a "
                    + "404 MACH_SEND_INVALID_DEST.", example = "t-3f9c2a7d1e0b")
            String parent) {
    }

    @Schema(name = "AllocateRequest", description = "vm_allocate arguments. Without anywhere and without flags bit "
            + "0x1, address is required and truncated to its page.",
            example = "{\"address\": \"0x100000000\", \"size\": \"0x8000\"}")
    public record AllocateRequest(
            @Schema(description = "Where to map (FIXED); ignored with anywhere." + U64_REQUEST,
                    example = "0x100000000", pattern = U64.REQUEST_PATTERN)
            String address,
            @Schema(description = "Bytes to map, rounded up to whole pages." + U64_REQUEST, example = "0x8000",
                    pattern = U64.REQUEST_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            String size,
            @Schema(description = "Let the service choose the address (VM_FLAGS_ANYWHERE, first fit from the map "
                    + "minimum).", example = "false")
            Boolean anywhere,
            @Schema(description = "The raw VM_FLAGS_* word (u32): 0x1 ANYWHERE, 0x4000 OVERWRITE, …; bits outside "
                    + "0xff07509f are refused with KERN_INVALID_ARGUMENT. A hex or decimal string is accepted too.",
                    example = "0", minimum = "0", maximum = "4294967295", format = "int64")
            Long flags) {
    }

    @Schema(name = "RangeRequest", description = "A range: vm_deallocate arguments.",
            example = "{\"address\": \"0x100000000\", \"size\": \"0x4000\"}")
    public record RangeRequest(
            @Schema(description = "Start of the range." + U64_REQUEST, example = "0x100000000",
                    pattern = U64.REQUEST_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            String address,
            @Schema(description = "Bytes in the range." + U64_REQUEST, example = "0x4000",
                    pattern = U64.REQUEST_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            String size) {
    }

    @Schema(name = "ProtectRequest", description = "vm_protect arguments.",
            example = "{\"address\": \"0x100000000\", \"size\": \"0x4000\", \"setMaximum\": false, "
                    + "\"protection\": \"r--\"}")
    public record ProtectRequest(
            @Schema(description = "Start of the range (truncated to its page)." + U64_REQUEST,
                    example = "0x100000000", pattern = U64.REQUEST_PATTERN,
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String address,
            @Schema(description = "Bytes in the range (rounded to whole pages)." + U64_REQUEST, example = "0x4000",
                    pattern = U64.REQUEST_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            String size,
            @Schema(description = "Set the maximum protection instead of the current one (default false).",
                    example = "false")
            Boolean setMaximum,
            @Schema(description = "The protection: three letters [r-][w-][x-] (\"rw-\"), or the vm_prot_t bit mask as "
                    + "a JSON integer, hex or decimal string (1 READ, 2 WRITE, 4 EXECUTE, 0x10 COPY; other bits are "
                    + "refused by vm_protect with KERN_INVALID_ARGUMENT unless size is 0).", example = "r--",
                    pattern = PROTECTION_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            String protection) {
    }

    @Schema(name = "InheritRequest", description = "vm_inherit arguments.",
            example = "{\"address\": \"0x100000000\", \"size\": \"0x4000\", \"inheritance\": \"share\"}")
    public record InheritRequest(
            @Schema(description = "Start of the range (truncated to its page)." + U64_REQUEST,
                    example = "0x100000000", pattern = U64.REQUEST_PATTERN,
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String address,
            @Schema(description = "Bytes in the range (rounded to whole pages)." + U64_REQUEST, example = "0x4000",
                    pattern = U64.REQUEST_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            String size,
            @Schema(description = "What a forked child receives: share, copy or none (the Mach values 0, 1, 2 are "
                    + "accepted as JSON integers too).", example = "share",
                    allowableValues = {"share", "copy", "none"}, requiredMode = Schema.RequiredMode.REQUIRED)
            String inheritance) {
    }

    @Schema(name = "CopyRequest", description = "vm_copy arguments: copy size bytes from sourceAddress to "
            + "destAddress in the same task (memmove semantics).",
            example = "{\"sourceAddress\": \"0x100000000\", \"size\": \"0x4000\", \"destAddress\": \"0x100004000\"}")
    public record CopyRequest(
            @Schema(description = "Where to copy from." + U64_REQUEST, example = "0x100000000",
                    pattern = U64.REQUEST_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            String sourceAddress,
            @Schema(description = "Bytes to copy." + U64_REQUEST, example = "0x4000", pattern = U64.REQUEST_PATTERN,
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String size,
            @Schema(description = "Where to copy to." + U64_REQUEST, example = "0x100004000",
                    pattern = U64.REQUEST_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            String destAddress) {
    }

    @Schema(name = "ReadOverwriteRequest", description = "vm_read_overwrite arguments: copy size bytes at address "
            + "of the path's task to destAddress of destTask (default: the same task).",
            example = "{\"address\": \"0x100000000\", \"size\": \"0x4000\", \"destTask\": \"t-3f9c2a7d1e0b\", "
                    + "\"destAddress\": \"0x100000000\"}")
    public record ReadOverwriteRequest(
            @Schema(description = "Where to read from, in the path's task." + U64_REQUEST, example = "0x100000000",
                    pattern = U64.REQUEST_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            String address,
            @Schema(description = "Bytes to copy." + U64_REQUEST, example = "0x4000", pattern = U64.REQUEST_PATTERN,
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String size,
            @Schema(description = "The task to write into; absent means the path's task.", example = "t-3f9c2a7d1e0b")
            String destTask,
            @Schema(description = "Where to write, in destTask." + U64_REQUEST, example = "0x100000000",
                    pattern = U64.REQUEST_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            String destAddress) {
    }

    @Schema(name = "WriteData", description = "vm_write data for JSON-only clients (application/json); "
            + "application/octet-stream with the raw bytes is the primary form.",
            example = "{\"data\": \"aGVsbG8=\"}")
    public record WriteData(
            @Schema(description = "The bytes, base64 (RFC 4648).", example = "aGVsbG8=", format = "byte",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            String data) {
    }

    // ---------------------------------------------------------------- sandbox features

    @Schema(name = "BatchRequest", description = "A batch of Mach calls on the path's task (task_batch), run in order."
            + " Without atomic each call is independent: a failure is that call's result and the next call runs. "
            + "With atomic the calls are one step: all take effect or none does.",
            example = "{\"atomic\": true, \"calls\": [{\"call\": \"vm_allocate\", \"size\": \"0x4000\", "
                    + "\"anywhere\": true}, {\"call\": \"vm_write\", \"address\": \"0x100000000\", "
                    + "\"data\": \"aGVsbG8=\"}, {\"call\": \"vm_read\", \"address\": \"0x100000000\", "
                    + "\"size\": \"5\"}]}")
    public record BatchRequest(
            @Schema(description = "All calls or none (default false). The task is locked for the batch; the first "
                    + "failing call ends it and undoes the calls before it, and the answer is that call's problem. "
                    + "vm_read_overwrite may then write only into the path's task.", example = "true")
            Boolean atomic,
            @Schema(description = "The calls, in order: at most 10000, in a body of at most 16 MiB.",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            java.util.List<BatchCall> calls) {
    }

    @Schema(name = "BatchCall", description = "One call of a batch: call names it, and the other fields are the "
            + "fields of that call's own endpoint body, with the same forms, defaults and checks (vm_allocate: "
            + "address, size, anywhere, flags; vm_deallocate: address, size; vm_protect: address, size, setMaximum, "
            + "protection; vm_inherit: address, size, inheritance; vm_write: address, data; vm_read: address, size; "
            + "vm_copy: sourceAddress, size, destAddress; vm_read_overwrite: address, size, destTask, destAddress; "
            + "vm_region: address). Fields the call does not take are ignored.",
            example = "{\"call\": \"vm_write\", \"address\": \"0x100000000\", \"data\": \"aGVsbG8=\"}")
    public record BatchCall(
            @Schema(description = "The Mach call.", example = "vm_write", requiredMode = Schema.RequiredMode.REQUIRED,
                    allowableValues = {"vm_allocate", "vm_deallocate", "vm_protect", "vm_inherit", "vm_write",
                        "vm_read", "vm_copy", "vm_read_overwrite", "vm_region"})
            String call,
            @Schema(description = "The address (vm_copy: see sourceAddress)." + U64_REQUEST, example = "0x100000000",
                    pattern = U64.REQUEST_PATTERN)
            String address,
            @Schema(description = "Bytes." + U64_REQUEST, example = "0x4000", pattern = U64.REQUEST_PATTERN)
            String size,
            @Schema(description = "vm_allocate: let the service choose the address.", example = "false")
            Boolean anywhere,
            @Schema(description = "vm_allocate: the raw VM_FLAGS_* word (u32).", example = "0", minimum = "0",
                    maximum = "4294967295", format = "int64")
            Long flags,
            @Schema(description = "vm_protect: set the maximum protection (default false).", example = "false")
            Boolean setMaximum,
            @Schema(description = "vm_protect: [r-][w-][x-] letters or the vm_prot_t bit mask.", example = "r--",
                    pattern = PROTECTION_PATTERN)
            String protection,
            @Schema(description = "vm_inherit: share, copy or none (or 0, 1, 2).", example = "share")
            String inheritance,
            @Schema(description = "vm_write: the bytes, base64 (RFC 4648).", example = "aGVsbG8=", format = "byte")
            String data,
            @Schema(description = "vm_copy: where to copy from." + U64_REQUEST, example = "0x100000000",
                    pattern = U64.REQUEST_PATTERN)
            String sourceAddress,
            @Schema(description = "vm_copy, vm_read_overwrite: where to copy to." + U64_REQUEST,
                    example = "0x100004000", pattern = U64.REQUEST_PATTERN)
            String destAddress,
            @Schema(description = "vm_read_overwrite: the task to write into (default: the path's task; in an atomic "
                    + "batch only the path's task).", example = "t-3f9c2a7d1e0b")
            String destTask) {
    }
}
