package io.machvm.vm;

/** A transfer larger than the service's configured limit; {@code KERN_INVALID_ARGUMENT}. */
public final class TransferLimitException extends KernException {
    private final long limitBytes;

    public TransferLimitException(long limitBytes, String detail) {
        super(KernReturn.KERN_INVALID_ARGUMENT, detail);
        this.limitBytes = limitBytes;
    }

    public long limitBytes() {
        return limitBytes;
    }
}
