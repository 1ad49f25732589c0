package io.machvm.persistence;

/**
 * The persistence directory cannot be used (missing, not writable, or held by another live process). Its message is
 * one line naming {@code machvm.persistence.directory}; the start-up failure analyzer prints it as the reason the
 * application did not start.
 */
public final class UnusableDirectoryException extends IllegalStateException {
    private final String action;

    public UnusableDirectoryException(String message, String action) {
        super(message);
        this.action = action;
    }

    /** What the operator can do about it. */
    public String action() {
        return action;
    }
}
