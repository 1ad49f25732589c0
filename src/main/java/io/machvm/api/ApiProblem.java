package io.machvm.api;

import io.machvm.vm.KernReturn;

/**
 * A request the API refuses before it reaches a Mach call (bad JSON, a bad number, a wrong media type…): an HTTP status
 * with the {@code kern} it is reported under. Like {@link io.machvm.vm.KernException} it captures no stack trace.
 */
public final class ApiProblem extends RuntimeException {
    private final int status;
    private final KernReturn kern;

    public ApiProblem(int status, KernReturn kern, String detail) {
        super(detail, null, false, false);
        this.status = status;
        this.kern = kern;
    }

    /** {@code 400 KERN_INVALID_ARGUMENT}. */
    public static ApiProblem invalidArgument(String detail) {
        return new ApiProblem(400, KernReturn.KERN_INVALID_ARGUMENT, detail);
    }

    /** {@code 413 KERN_INVALID_ARGUMENT}: a body over a limit. */
    public static ApiProblem tooLarge(String detail) {
        return new ApiProblem(413, KernReturn.KERN_INVALID_ARGUMENT, detail);
    }

    /** {@code 415 KERN_INVALID_ARGUMENT}. */
    public static ApiProblem unsupportedMediaType(String detail) {
        return new ApiProblem(415, KernReturn.KERN_INVALID_ARGUMENT, detail);
    }

    public int status() {
        return status;
    }

    public KernReturn kern() {
        return kern;
    }

    public String detail() {
        return getMessage();
    }
}
