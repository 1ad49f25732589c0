package io.machvm.vm;

/** A Mach call that failed with a {@link KernReturn}; the task it was made on is unchanged. */
public class KernException extends RuntimeException {
    private final KernReturn kern;

    public KernException(KernReturn kern, String detail) {
        // Failures are answers, not bugs: no stack trace is captured, which keeps error paths as cheap as success.
        super(detail, null, false, false);
        if (kern == KernReturn.KERN_SUCCESS) {
            throw new IllegalArgumentException("KERN_SUCCESS is not a failure");
        }
        this.kern = kern;
    }

    public KernReturn kern() {
        return kern;
    }

    /** The human-readable detail, naming the addresses and sizes involved. */
    public String detail() {
        return getMessage();
    }
}
