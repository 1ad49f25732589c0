package io.machvm.vm;

/** A task's machine flavor: page size, small-transfer limit, map bounds and W^X policy (SEMANTICS.md). */
public enum Flavor implements WireNamed {
    ARM64("arm64", 16384, 32768, 0x1_0000_0000L, 0x7ffffe000000L, false),
    X86_64("x86_64", 4096, 16384, 0x1_0000_0000L, 0x7fffffe00000L, true);

    private final String wireName;
    private final int pageSize;
    private final int pageShift;
    private final long smallTransferLimit;
    private final long minAddress;
    private final long maxAddress;
    private final boolean writeExecuteAllowed;

    Flavor(String wireName, int pageSize, long smallTransferLimit, long minAddress, long maxAddress,
            boolean writeExecuteAllowed) {
        this.wireName = wireName;
        this.pageSize = pageSize;
        this.pageShift = Integer.numberOfTrailingZeros(pageSize);
        this.smallTransferLimit = smallTransferLimit;
        this.minAddress = minAddress;
        this.maxAddress = maxAddress;
        this.writeExecuteAllowed = writeExecuteAllowed;
    }

    @Override
    public String wireName() {
        return wireName;
    }

    public int pageSize() {
        return pageSize;
    }

    public int pageShift() {
        return pageShift;
    }

    /** S: the largest transfer XNU moves through a kernel buffer ({@code msg_ool_size_small}). */
    public long smallTransferLimit() {
        return smallTransferLimit;
    }

    /** The lowest mappable address (a 64-bit macOS process has a 4 GiB page zero). */
    public long minAddress() {
        return minAddress;
    }

    /** The end of the mappable range (exclusive). */
    public long maxAddress() {
        return maxAddress;
    }

    /** Whether a page may be writable and executable at once (false where code signing enforces W^X). */
    public boolean writeExecuteAllowed() {
        return writeExecuteAllowed;
    }

    /** The flavor with this wire name ({@code arm64} or {@code x86_64}), or null. */
    public static Flavor fromWireName(String name) {
        return WireNamed.byWireName(values(), name);
    }
}
