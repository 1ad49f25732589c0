package io.machvm.api;

import java.io.IOException;

/**
 * Reading the request body failed: the client closed the connection or sent less than it announced. The call it was
 * for changed nothing; the answer (if the client still listens) is {@code 400 KERN_INVALID_ARGUMENT}.
 *
 * <p>The I/O failure is kept as {@link #reason()}, not as the cause: Spring MVC offers an exception's causes to
 * exception handlers too, and the handler must see this type.
 */
public final class BodyStreamException extends RuntimeException {
    private final transient IOException reason;

    public BodyStreamException(IOException reason) {
        super("the request body could not be read to its end", null, false, false);
        this.reason = reason;
    }

    public IOException reason() {
        return reason;
    }
}
