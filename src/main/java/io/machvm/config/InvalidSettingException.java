package io.machvm.config;

/**
 * A {@code machvm.*} setting with a value the service cannot run with. Its message is one line that names the
 * setting; the start-up failure analyzer prints it as the reason the application did not start.
 */
public class InvalidSettingException extends IllegalArgumentException {
    private final String setting;
    private final String action;

    /**
     * @param setting the property name, e.g. {@code machvm.store.capacity}
     * @param message one line naming the setting and saying what is wrong with its value
     * @param action  what the operator can do about it, or null for the generic advice
     */
    public InvalidSettingException(String setting, String message, String action) {
        super(message);
        this.setting = setting;
        this.action = action;
    }

    public InvalidSettingException(String setting, String message) {
        this(setting, message, null);
    }

    /** The property name, e.g. {@code machvm.store.capacity}. */
    public String setting() {
        return setting;
    }

    /** What to do about it, or null. */
    public String action() {
        return action;
    }
}
