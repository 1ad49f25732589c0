package io.machvm.api;

import io.machvm.service.MachCall;
import io.machvm.service.TaskSpec;
import io.machvm.service.VmService;
import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;
import io.machvm.vm.VmFlags;
import io.machvm.vm.VmInherit;
import io.swagger.v3.oas.annotations.media.ArraySchema;
import io.swagger.v3.oas.annotations.media.Schema;
import java.util.List;
import java.util.function.Function;
import tools.jackson.databind.JsonNode;

/**
 * The JSON request bodies: the records Spring binds with {@code @RequestBody} (and a batch binds per call), as OpenAPI
 * documents them. Every u64 field is documented as a string, but a JSON integer (up to 2^64-1, read exactly) is
 * accepted as well ({@link JsonBinding}). A missing field is {@code KERN_INVALID_ARGUMENT} when the call needs it,
 * checked in the order the call lists its arguments.
 */
public final class Requests {
    static final String U64_REQUEST = " An unsigned 64-bit integer: a hex string (\"0x4000\", either case of x and "
            + "digits), a decimal string (\"16384\") or a JSON integer, 0 to 2^64-1.";
    static final String PROTECTION_PATTERN = "^([r-][w-][x-]|0[xX][0-9a-fA-F]+|[0-9]+)$";

    private Requests() {
    }

    static long required(String field, U64 value) {
        return present(field, value).value();
    }

    /** The value of a field the call needs; absent, it is {@code KERN_INVALID_ARGUMENT}. */
    static <T> T present(String field, T value) {
        if (value == null) {
            throw ApiProblem.invalidArgument(field + " is required");
        }
        return value;
    }

    /** A {@code vm_prot_t} as a request gives it: letters or a bit mask (any bits, for vm_protect to judge). */
    public record Protection(int bits) {
    }

    /** A {@code vm_inherit_t} as a request gives it: a name or a number (any, for vm_inherit to judge). */
    public record Inheritance(long value) {
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

        static final int MAX_NAME_LENGTH = 256;

        /** The settings to create with; wrong wire names and over-long names are a {@code 400}. */
        TaskSpec spec() {
            Flavor f = wireName("flavor", flavor, Flavor::fromWireName, "\"arm64\" or \"x86_64\"");
            ErrorModel e = wireName("errors", errors, ErrorModel::fromWireName, "\"documented\" or \"xnu\"");
            if (name != null && name.length() > MAX_NAME_LENGTH) {
                throw ApiProblem.invalidArgument("name must be at most " + MAX_NAME_LENGTH + " characters, not "
                        + name.length());
            }
            return f == null && e == null && name == null ? TaskSpec.DEFAULTS : new TaskSpec(f, e, name);
        }

        private static <T> T wireName(String field, String text, Function<String, T> parse, String allowed) {
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

    @Schema(name = "AllocateRequest", description = "vm_allocate arguments. Without anywhere and without flags bit "
            + "0x1, address is required and truncated to its page.",
            example = "{\"address\": \"0x100000000\", \"size\": \"0x8000\"}")
    public record AllocateRequest(
            @Schema(description = "Where to map (FIXED); ignored with anywhere." + U64_REQUEST,
                    example = "0x100000000", pattern = U64.REQUEST_PATTERN)
            U64 address,
            @Schema(description = "Bytes to map, rounded up to whole pages." + U64_REQUEST, example = "0x8000",
                    pattern = U64.REQUEST_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            U64 size,
            @Schema(description = "Let the service choose the address (VM_FLAGS_ANYWHERE, first fit from the map "
                    + "minimum).", example = "false")
            Boolean anywhere,
            @Schema(type = "integer", description = "The raw VM_FLAGS_* word (u32): 0x1 ANYWHERE, 0x4000 OVERWRITE, …; "
                    + "bits outside "
                    + "0xff07509f are refused with KERN_INVALID_ARGUMENT. A hex or decimal string is accepted too.",
                    example = "0", minimum = "0", maximum = "4294967295", format = "int64")
            U64 flags) {

        /** Allocates; answers the address mapped (0 for size 0) and the size rounded to whole pages. */
        Responses.Allocation run(VmService service, String task) {
            return Responses.Allocation.of(service.call(task, call()));
        }

        /** The call, its fields checked in the order vm_allocate lists them. */
        MachCall.Allocate call() {
            long sizeBytes = required("size", size);
            int flags = flagsWord();
            return new MachCall.Allocate(address == null ? 0 : address.value(), sizeBytes, flags);
        }

        /** The VM_FLAGS_* word from the address, anywhere and flags fields. */
        private int flagsWord() {
            int flags = this.flags == null ? 0 : (int) JsonBinding.u32("flags", this.flags.value());
            if (anywhere != null) {
                if (anywhere) {
                    flags |= VmFlags.ANYWHERE;
                } else if ((flags & VmFlags.ANYWHERE) != 0) {
                    throw ApiProblem.invalidArgument("anywhere is false but flags has VM_FLAGS_ANYWHERE (0x1)");
                }
            }
            if ((flags & VmFlags.ANYWHERE) == 0 && address == null) {
                throw ApiProblem.invalidArgument("address is required unless anywhere is true or flags has "
                        + "VM_FLAGS_ANYWHERE (0x1)");
            }
            return flags;
        }
    }

    /** A request for a call that answers nothing but its success: its endpoint runs it as a batch would. */
    interface CallWithoutAnswer {
        /** The call, its fields checked in the order its Mach routine lists them. */
        MachCall<Void> call();

        default void run(VmService service, String task) {
            service.call(task, call());
        }
    }

    @Schema(name = "RangeRequest", description = "A range: vm_deallocate arguments.",
            example = "{\"address\": \"0x100000000\", \"size\": \"0x4000\"}")
    public record RangeRequest(
            @Schema(description = "Start of the range." + U64_REQUEST, example = "0x100000000",
                    pattern = U64.REQUEST_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            U64 address,
            @Schema(description = "Bytes in the range." + U64_REQUEST, example = "0x4000",
                    pattern = U64.REQUEST_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            U64 size) implements CallWithoutAnswer {

        @Override
        public MachCall.Deallocate call() {
            return new MachCall.Deallocate(required("address", address), required("size", size));
        }
    }

    @Schema(name = "ProtectRequest", description = "vm_protect arguments.",
            example = "{\"address\": \"0x100000000\", \"size\": \"0x4000\", \"setMaximum\": false, "
                    + "\"protection\": \"r--\"}")
    public record ProtectRequest(
            @Schema(description = "Start of the range (truncated to its page)." + U64_REQUEST,
                    example = "0x100000000", pattern = U64.REQUEST_PATTERN,
                    requiredMode = Schema.RequiredMode.REQUIRED)
            U64 address,
            @Schema(description = "Bytes in the range (rounded to whole pages)." + U64_REQUEST, example = "0x4000",
                    pattern = U64.REQUEST_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            U64 size,
            @Schema(description = "Set the maximum protection instead of the current one (default false).",
                    example = "false")
            Boolean setMaximum,
            @Schema(description = "The protection: three letters [r-][w-][x-] (\"rw-\"), or the vm_prot_t bit mask as "
                    + "a JSON integer, hex or decimal string (1 READ, 2 WRITE, 4 EXECUTE, 0x10 COPY; other bits are "
                    + "refused by vm_protect with KERN_INVALID_ARGUMENT unless size is 0).", example = "r--",
                    pattern = PROTECTION_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            Protection protection) implements CallWithoutAnswer {

        /** The call, its fields checked in the order vm_protect lists them. */
        @Override
        public MachCall.Protect call() {
            long at = required("address", address);
            long bytes = required("size", size);
            return new MachCall.Protect(at, bytes, setMaximum != null && setMaximum,
                    present("protection", protection).bits());
        }
    }

    @Schema(name = "InheritRequest", description = "vm_inherit arguments.",
            example = "{\"address\": \"0x100000000\", \"size\": \"0x4000\", \"inheritance\": \"share\"}")
    public record InheritRequest(
            @Schema(description = "Start of the range (truncated to its page)." + U64_REQUEST,
                    example = "0x100000000", pattern = U64.REQUEST_PATTERN,
                    requiredMode = Schema.RequiredMode.REQUIRED)
            U64 address,
            @Schema(description = "Bytes in the range (rounded to whole pages)." + U64_REQUEST, example = "0x4000",
                    pattern = U64.REQUEST_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            U64 size,
            @Schema(description = "What a forked child receives: share, copy or none (the Mach values 0, 1, 2 are "
                    + "accepted as JSON integers too).", example = "share",
                    allowableValues = {"share", "copy", "none"}, requiredMode = Schema.RequiredMode.REQUIRED)
            Inheritance inheritance) implements CallWithoutAnswer {

        /** The call, its fields checked in the order vm_inherit lists them. */
        @Override
        public MachCall.Inherit call() {
            long at = required("address", address);
            long bytes = required("size", size);
            // A value above VM_INHERIT_LAST_VALID reaches vm_inherit as null, which refuses it as Mach does.
            return new MachCall.Inherit(at, bytes, VmInherit.fromValue(present("inheritance", inheritance).value()));
        }
    }

    @Schema(name = "CopyRequest", description = "vm_copy arguments: copy size bytes from sourceAddress to "
            + "destAddress in the same task (memmove semantics).",
            example = "{\"sourceAddress\": \"0x100000000\", \"size\": \"0x4000\", \"destAddress\": \"0x100004000\"}")
    public record CopyRequest(
            @Schema(description = "Where to copy from." + U64_REQUEST, example = "0x100000000",
                    pattern = U64.REQUEST_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            U64 sourceAddress,
            @Schema(description = "Bytes to copy." + U64_REQUEST, example = "0x4000", pattern = U64.REQUEST_PATTERN,
                    requiredMode = Schema.RequiredMode.REQUIRED)
            U64 size,
            @Schema(description = "Where to copy to." + U64_REQUEST, example = "0x100004000",
                    pattern = U64.REQUEST_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            U64 destAddress) implements CallWithoutAnswer {

        @Override
        public MachCall.Copy call() {
            return new MachCall.Copy(required("sourceAddress", sourceAddress), required("size", size),
                    required("destAddress", destAddress));
        }
    }

    @Schema(name = "ReadOverwriteRequest", description = "vm_read_overwrite arguments: copy size bytes at address "
            + "of the path's task to destAddress of destTask (default: the same task).",
            example = "{\"address\": \"0x100000000\", \"size\": \"0x4000\", \"destTask\": \"t-3f9c2a7d1e0b\", "
                    + "\"destAddress\": \"0x100000000\"}")
    public record ReadOverwriteRequest(
            @Schema(description = "Where to read from, in the path's task." + U64_REQUEST, example = "0x100000000",
                    pattern = U64.REQUEST_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            U64 address,
            @Schema(description = "Bytes to copy." + U64_REQUEST, example = "0x4000", pattern = U64.REQUEST_PATTERN,
                    requiredMode = Schema.RequiredMode.REQUIRED)
            U64 size,
            @Schema(description = "The task to write into; absent means the path's task.", example = "t-3f9c2a7d1e0b")
            String destTask,
            @Schema(description = "Where to write, in destTask." + U64_REQUEST, example = "0x100000000",
                    pattern = U64.REQUEST_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            U64 destAddress) {

        Responses.ReadOverwriteResult run(VmService service, String task) {
            return new Responses.ReadOverwriteResult(U64.format(service.call(task, call())));
        }

        MachCall.ReadOverwrite call() {
            return new MachCall.ReadOverwrite(required("address", address), required("size", size), destTask,
                    required("destAddress", destAddress));
        }
    }

    @Schema(name = "WriteData", description = "vm_write data for JSON-only clients (application/json); "
            + "application/octet-stream with the raw bytes is the primary form.",
            example = "{\"data\": \"aGVsbG8=\"}")
    public record WriteData(
            @Schema(description = "The bytes, base64 (RFC 4648).", example = "aGVsbG8=", format = "byte",
                    requiredMode = Schema.RequiredMode.REQUIRED)
            byte[] data) {

        byte[] required() {
            return present("data", data);
        }
    }

    @Schema(name = "WriteRequest", description = "vm_write_base64 arguments, and vm_write in a batch: the bytes as "
            + "base64, for clients that cannot send a raw body (vm_write takes the raw bytes).",
            example = "{\"address\": \"0x100000000\", \"data\": \"aGVsbG8=\"}")
    public record WriteRequest(
            @Schema(description = "Where to write (any byte address)." + U64_REQUEST, example = "0x100000000",
                    pattern = U64.REQUEST_PATTERN, requiredMode = Schema.RequiredMode.REQUIRED)
            U64 address,
            @Schema(description = "The bytes, base64 (RFC 4648): at most 16 MiB of data.", example = "aGVsbG8=",
                    format = "byte", requiredMode = Schema.RequiredMode.REQUIRED)
            byte[] data) implements CallWithoutAnswer {

        @Override
        public MachCall.Write call() {
            long at = required("address", address);
            if (data == null) {
                throw ApiProblem.invalidArgument("data is required: the bytes to write, base64");
            }
            return new MachCall.Write(at, data);
        }
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
            @ArraySchema(schema = @Schema(implementation = BatchCall.class),
                    arraySchema = @Schema(description = "The calls, in order: at most 10000, in a body of at most "
                            + "16 MiB. Each is bound to its call's own request record when its turn comes.",
                            requiredMode = Schema.RequiredMode.REQUIRED))
            List<JsonNode> calls) {
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
            U64 address,
            @Schema(description = "Bytes." + U64_REQUEST, example = "0x4000", pattern = U64.REQUEST_PATTERN)
            U64 size,
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
            U64 sourceAddress,
            @Schema(description = "vm_copy, vm_read_overwrite: where to copy to." + U64_REQUEST,
                    example = "0x100004000", pattern = U64.REQUEST_PATTERN)
            U64 destAddress,
            @Schema(description = "vm_read_overwrite: the task to write into (default: the path's task; in an atomic "
                    + "batch only the path's task).", example = "t-3f9c2a7d1e0b")
            String destTask) {
    }
}
