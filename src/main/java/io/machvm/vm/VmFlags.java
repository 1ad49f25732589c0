package io.machvm.vm;

/** The {@code VM_FLAGS_*} bits {@code vm_allocate} understands. */
public final class VmFlags {
    public static final int FIXED = 0x0;
    public static final int ANYWHERE = 0x1;
    public static final int OVERWRITE = 0x4000;
    /** {@code VM_FLAGS_USER_ALLOCATE | USER_MAP | USER_REMAP | ALIAS_MASK}: any other bit is refused. */
    public static final int USER_ALLOCATE_MASK = 0xFF07509F;

    private VmFlags() {
    }
}
