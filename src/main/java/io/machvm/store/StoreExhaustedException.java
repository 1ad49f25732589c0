package io.machvm.store;

/** Thrown when the page store cannot supply the pages asked for; nothing was allocated. */
public final class StoreExhaustedException extends RuntimeException {
    public StoreExhaustedException(String message) {
        super(message, null, false, false);
    }
}
