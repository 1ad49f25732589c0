package io.machvm.vm;

/**
 * A value with a fixed name in requests, answers, settings and images ({@code "arm64"}, {@code "xnu"},
 * {@code "share"}), distinct from its Java name.
 */
public interface WireNamed {
    String wireName();

    /** The one of {@code values} with this wire name, or null (also for a null name). */
    static <T extends WireNamed> T byWireName(T[] values, String name) {
        for (T value : values) {
            if (value.wireName().equals(name)) {
                return value;
            }
        }
        return null;
    }
}
