package io.machvm.cluster;

import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;

/**
 * Where a task lives: its slot, one of {@value #SLOTS}, from its tenant and its placement key.
 *
 * <p>The placement key of a task id is the part before the first {@code .} (the whole id when it has none or starts
 * with one): {@code build-42}, {@code build-42.fork1} and {@code build-42.scratch} share a slot, and so a shard, the
 * way Redis hash tags ({@code {build-42}.fork1}) do; ids cannot hold braces. The slot is
 * {@code CRC-32(tenant ":" key) mod 16384} (CRC-32 of zlib and gzip, which HAProxy and nginx can compute too).
 */
public final class Placement {
    public static final int SLOTS = 16384;

    private Placement() {
    }

    /** The placement key of a task id. */
    public static String key(String id) {
        int dot = id.indexOf('.');
        return dot <= 0 ? id : id.substring(0, dot);
    }

    /** The slot of a tenant's task id. */
    public static int slot(String tenant, String id) {
        CRC32 crc = new CRC32();
        crc.update((tenant + ":" + key(id)).getBytes(StandardCharsets.UTF_8));
        return (int) (crc.getValue() & (SLOTS - 1));
    }
}
