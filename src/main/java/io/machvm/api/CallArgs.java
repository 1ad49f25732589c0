package io.machvm.api;

import io.machvm.service.VmService;
import io.machvm.vm.VmFlags;
import io.machvm.vm.VmInherit;

/**
 * The JSON arguments of the Mach calls, read the same way by their endpoints ({@link VmController}) and by a batch
 * ({@link SandboxBatch}): unknown fields are skipped, a missing field is {@code KERN_INVALID_ARGUMENT} when the call
 * needs it, checked in the order the call's arguments are listed.
 */
final class CallArgs {
    private CallArgs() {
    }

    static long required(String field, Long value) {
        if (value == null) {
            throw ApiProblem.invalidArgument(field + " is required");
        }
        return value;
    }

    /** {@code vm_allocate}: address, size, anywhere, flags. */
    record Allocate(Long address, Long size, Boolean anywhere, Long flagsValue) {
        static Allocate read(JsonRequest json) {
            Long address = null;
            Long size = null;
            Boolean anywhere = null;
            Long flagsValue = null;
            for (String field; (field = json.nextField()) != null; ) {
                switch (field) {
                    case "address" -> address = json.u64(field);
                    case "size" -> size = json.u64(field);
                    case "anywhere" -> anywhere = json.bool(field);
                    case "flags" -> flagsValue = json.u32(field);
                    default -> json.skip();
                }
            }
            return new Allocate(address, size, anywhere, flagsValue);
        }

        /** Allocates; answers the address mapped (0 for size 0) and the size rounded to whole pages. */
        Responses.Allocation run(VmService service, String task) {
            long sizeBytes = required("size", size);
            int flags = flags();
            long mapped = service.allocate(task, address == null ? 0 : address, sizeBytes, flags);
            if (sizeBytes == 0) {
                return new Responses.Allocation(U64.format(0), U64.format(0));
            }
            long pageMask = service.pageSize(task) - 1L;
            return new Responses.Allocation(U64.format(mapped), U64.format((sizeBytes + pageMask) & ~pageMask));
        }

        /** The VM_FLAGS_* word from the address, anywhere and flags fields. */
        private int flags() {
            int flags = flagsValue == null ? 0 : (int) (long) flagsValue;
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

    /** A range, address and size: {@code vm_deallocate}, and {@code vm_read} in a batch. */
    record Range(Long address, Long size) {
        static Range read(JsonRequest json) {
            Long address = null;
            Long size = null;
            for (String field; (field = json.nextField()) != null; ) {
                switch (field) {
                    case "address" -> address = json.u64(field);
                    case "size" -> size = json.u64(field);
                    default -> json.skip();
                }
            }
            return new Range(address, size);
        }

        long at() {
            return required("address", address);
        }

        long bytes() {
            return required("size", size);
        }

        void deallocate(VmService service, String task) {
            service.deallocate(task, at(), bytes());
        }
    }

    /** {@code vm_protect}: address, size, setMaximum, protection. */
    record Protect(Long address, Long size, Boolean setMaximum, Integer protection) {
        static Protect read(JsonRequest json) {
            Long address = null;
            Long size = null;
            Boolean setMaximum = null;
            Integer protection = null;
            for (String field; (field = json.nextField()) != null; ) {
                switch (field) {
                    case "address" -> address = json.u64(field);
                    case "size" -> size = json.u64(field);
                    case "setMaximum" -> setMaximum = json.bool(field);
                    case "protection" -> protection = json.protection(field);
                    default -> json.skip();
                }
            }
            return new Protect(address, size, setMaximum, protection);
        }

        void run(VmService service, String task) {
            long at = required("address", address);
            long bytes = required("size", size);
            if (protection == null) {
                throw ApiProblem.invalidArgument("protection is required");
            }
            service.protect(task, at, bytes, setMaximum != null && setMaximum, protection);
        }
    }

    /** {@code vm_inherit}: address, size, inheritance. */
    record Inherit(Long address, Long size, Long inheritance) {
        static Inherit read(JsonRequest json) {
            Long address = null;
            Long size = null;
            Long inheritance = null;
            for (String field; (field = json.nextField()) != null; ) {
                switch (field) {
                    case "address" -> address = json.u64(field);
                    case "size" -> size = json.u64(field);
                    case "inheritance" -> inheritance = json.inheritance(field);
                    default -> json.skip();
                }
            }
            return new Inherit(address, size, inheritance);
        }

        void run(VmService service, String task) {
            long at = required("address", address);
            long bytes = required("size", size);
            if (inheritance == null) {
                throw ApiProblem.invalidArgument("inheritance is required");
            }
            // A value above VM_INHERIT_LAST_VALID reaches vm_inherit as null, which refuses it as Mach does.
            service.inherit(task, at, bytes, VmInherit.fromValue(inheritance));
        }
    }

    /** {@code vm_copy}: sourceAddress, size, destAddress. */
    record Copy(Long sourceAddress, Long size, Long destAddress) {
        static Copy read(JsonRequest json) {
            Long source = null;
            Long size = null;
            Long dest = null;
            for (String field; (field = json.nextField()) != null; ) {
                switch (field) {
                    case "sourceAddress" -> source = json.u64(field);
                    case "size" -> size = json.u64(field);
                    case "destAddress" -> dest = json.u64(field);
                    default -> json.skip();
                }
            }
            return new Copy(source, size, dest);
        }

        void run(VmService service, String task) {
            service.copy(task, required("sourceAddress", sourceAddress), required("size", size),
                    required("destAddress", destAddress));
        }
    }

    /** {@code vm_read_overwrite}: address, size, destTask (absent: the same task), destAddress. */
    record ReadOverwrite(Long address, Long size, String destTask, Long destAddress) {
        static ReadOverwrite read(JsonRequest json) {
            Long address = null;
            Long size = null;
            String destTask = null;
            Long destAddress = null;
            for (String field; (field = json.nextField()) != null; ) {
                switch (field) {
                    case "address" -> address = json.u64(field);
                    case "size" -> size = json.u64(field);
                    case "destTask" -> destTask = json.string(field);
                    case "destAddress" -> destAddress = json.u64(field);
                    default -> json.skip();
                }
            }
            return new ReadOverwrite(address, size, destTask, destAddress);
        }

        /**
         * Checks that the required fields are there; {@code check} then sees the destination task before
         * the call runs.
         */
        Responses.ReadOverwriteResult run(VmService service, String task, java.util.function.Consumer<String> check) {
            long at = required("address", address);
            long bytes = required("size", size);
            long destAt = required("destAddress", destAddress);
            check.accept(destTask);
            return new Responses.ReadOverwriteResult(U64.format(service.readOverwrite(task, at, bytes, destTask,
                    destAt)));
        }
    }
}
