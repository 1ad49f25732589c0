package io.machvm.api;

import io.machvm.vm.KernReturn;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;

/** The problem types: one per Mach code, with its HTTP status, title and documentation. */
public final class ProblemTypes {
    /** The prefix of every problem {@code type}; {@code GET /problems/{kern}} documents each. */
    public static final String TYPE_PREFIX = "/problems/";

    private static final Map<KernReturn, ProblemType> TYPES = new EnumMap<>(KernReturn.class);

    static {
        add(KernReturn.KERN_INVALID_ADDRESS, 404, "Invalid address",
                "The range touches an address that is not mapped (a hole, an unmapped page, an address below the map "
                        + "minimum or at or above the map maximum), or it wraps around the 64-bit address space. In the "
                        + "xnu error model a small read, write or copy (at most the flavor's small-transfer limit) that "
                        + "meets a page without the needed protection is also reported this way.");
        add(KernReturn.KERN_PROTECTION_FAILURE, 403, "Protection failure",
                "A page in the range does not have the protection the call needs (read for vm_read and copy sources, "
                        + "write for vm_write and copy destinations), or vm_protect asked for more than an entry's "
                        + "maximum protection or for write and execute at once on an arm64 task.");
        add(KernReturn.KERN_NO_SPACE, 409, "No space",
                "vm_allocate found the fixed range already in use (without VM_FLAGS_OVERWRITE 0x4000), or no free "
                        + "range large enough anywhere in the map.");
        add(KernReturn.KERN_INVALID_ARGUMENT, 400, "Invalid argument",
                "An argument Mach refuses (flags or protection bits outside the accepted masks, a vm_read size above "
                        + "0xffffffff, a range whose end wraps), or a request the API cannot turn into a Mach call: "
                        + "malformed JSON, a missing field, a number that is not an unsigned 64-bit integer, an unknown "
                        + "protection or inheritance; detail names the field. Also a snapshot image that is corrupt, "
                        + "truncated or of another version (nothing is created). The same kern is reported with other "
                        + "statuses for HTTP-level refusals: 404 for a path that names no resource (unknown tasks are "
                        + "MACH_SEND_INVALID_DEST instead), 405 for a method the path does not support, 406 for an "
                        + "Accept header the call cannot answer, 413 for a body over the transfer limit "
                        + "(machvm.api.max-transfer) and 415 for a Content-Type the call does not take.");
        add(KernReturn.KERN_FAILURE, 500, "Failure",
                "The service failed unexpectedly. The detail is generic and carries an incident id that is also in "
                        + "the server log; the task the call was made on is unchanged.");
        add(KernReturn.KERN_RESOURCE_SHORTAGE, 507, "Resource shortage",
                "The page store is out of capacity (machvm.store.capacity) or the task limit (machvm.tasks.max) is "
                        + "reached. Checked only after every Mach check has passed; nothing was changed.");
        add(KernReturn.KERN_NAME_EXISTS, 409, "Name exists",
                "PUT /tasks/{task} named a task that exists with other settings (flavor, error model or name), or, "
                        + "to fork a task or restore a snapshot image into it, a task that exists at all.");
        add(KernReturn.KERN_NOT_RECEIVER, 421, "Not receiver",
                "In a cluster, a shard was asked directly (Machvm-Direct: 1, or machvm.cluster.forward=false) about a "
                        + "task another shard owns; owner, ownerUrl, slot and epoch name the owner, and so does the "
                        + "header Machvm-Owner. Send the call there, or through the cluster's entry point. It never "
                        + "means that the task does not exist.");
        add(KernReturn.MACH_SEND_TIMED_OUT, 503, "Send timed out",
                "In a cluster, the shard that owns the task is down or restarting, or the task is being handed off "
                        + "to another shard and the wait (machvm.cluster.move-wait) ran out; also a cluster-wide "
                        + "GET /tasks or /host/statistics when a shard does not answer. Retry after Retry-After "
                        + "seconds: the call did not happen, and no other shard answers for the task meanwhile.");
        add(KernReturn.MACH_SEND_INVALID_DEST, 404, "Invalid destination",
                "The task does not exist or was terminated: the call went through a dead task port. Also reported "
                        + "when destTask of vm_read_overwrite names no live task.");
    }

    private ProblemTypes() {
    }

    private static void add(KernReturn kern, int status, String title, String description) {
        TYPES.put(kern, new ProblemType(TYPE_PREFIX + kern.name(), kern, status, title, description));
    }

    /** The problem type of a failing code. */
    public static ProblemType of(KernReturn kern) {
        ProblemType type = TYPES.get(kern);
        if (type == null) {
            throw new IllegalArgumentException(kern + " is not a failure");
        }
        return type;
    }

    /** The problem type of a code name, or null when the name is no failing code. */
    public static ProblemType byName(String name) {
        KernReturn kern = KernReturn.byName(name);
        return kern == null ? null : TYPES.get(kern);
    }

    /**
     * The members every problem of a {@code kern} has, in the order the API writes them: {@code type, title, status,
     * detail, instance, kern, kernReturn}.
     */
    public static Map<String, Object> members(KernReturn kern, String detail, String instance) {
        ProblemType type = of(kern);
        Map<String, Object> members = new LinkedHashMap<>();
        members.put("type", type.type());
        members.put("title", type.title());
        members.put("status", type.status());
        members.put("detail", detail);
        members.put("instance", instance);
        members.put("kern", kern.name());
        members.put("kernReturn", kern.value());
        return members;
    }

    /** The HTTP status of a failure with this code. */
    public static int status(KernReturn kern) {
        return of(kern).status();
    }

    /** One problem type: the {@code type} URI, its Mach code, its usual HTTP status, title and description. */
    public record ProblemType(String type, KernReturn kern, int status, String title, String description) {
    }
}
