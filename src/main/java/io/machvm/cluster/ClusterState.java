package io.machvm.cluster;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * This shard's index and the ownership table, with the table being moved to during a scale ({@code pending}), kept
 * in a file (written to a temporary file, fsynced, renamed) so that a restarted shard routes as before.
 */
public final class ClusterState {
    private final int self;
    /** Where the state is kept; null for a shard that keeps it nowhere. */
    private final Path file;
    private volatile SlotTable current;
    private volatile SlotTable pending;
    /** The table of the scale this shard had begun when it last stopped (its file's {@code pending}), or null. */
    private final SlotTable interrupted;

    public ClusterState(int self, SlotTable current, SlotTable pending, Path file) {
        this.self = self;
        this.current = current;
        this.pending = pending;
        this.interrupted = pending;
        this.file = file;
    }

    /** The state kept in {@code file}, or null when there is none. */
    public static ClusterState load(int self, Path file) {
        if (file == null || !Files.exists(file)) {
            return null;
        }
        try {
            JsonNode json = JsonMapper.shared().readTree(Files.readString(file));
            return fromJson(self, json, file);
        } catch (RuntimeException | IOException e) {
            throw new IllegalStateException("cannot read the cluster table " + file + ": " + e.getMessage(), e);
        }
    }

    static ClusterState fromJson(int self, JsonNode json, Path file) {
        JsonNode pending = json.get("pending");
        return new ClusterState(self, SlotTable.fromJson(json.required("table")),
                pending == null || pending.isNull() ? null : SlotTable.fromJson(pending), file);
    }

    public int self() {
        return self;
    }

    public SlotTable current() {
        return current;
    }

    public SlotTable pending() {
        return pending;
    }

    /**
     * The scale this shard had begun when it last stopped, or null: a task it holds for another shard may then be one
     * whose handoff did not happen yet. Without one, every such task was handed off by a scale that this copy of the
     * shard missed (a scale commits only once every handoff succeeded).
     */
    public SlotTable interrupted() {
        return interrupted;
    }

    /**
     * Whether {@code other} is newer: a higher table epoch, or the same one with a scale under way that this state
     * does not know of. A scale is the only thing that changes the table, and it numbers each table.
     */
    boolean olderThan(ClusterState other) {
        long mine = current.epoch();
        long theirs = other.current.epoch();
        return theirs > mine || (theirs == mine && pending == null && other.pending != null);
    }

    /** Takes another shard's table and scale under way (newer than this shard's own: {@link #olderThan}). */
    synchronized void adopt(ClusterState newer) {
        current = newer.current;
        pending = newer.pending;
        save();
    }

    public synchronized ObjectNode toJson() {
        JsonMapper mapper = JsonMapper.shared();
        ObjectNode json = mapper.createObjectNode();
        json.put("shard", self);
        json.set("table", current.toJson(mapper));
        json.set("pending", pending == null ? null : pending.toJson(mapper));
        return json;
    }

    /** Starts a scale: {@code next} must follow the current table. Repeating the same call is fine. */
    public synchronized void begin(SlotTable next) {
        if (next.equals(pending)) {
            return;
        }
        if (pending != null) {
            throw new IllegalStateException("a scale to epoch " + pending.epoch() + " is under way");
        }
        if (next.epoch() != current.epoch() + 1) {
            throw new IllegalStateException("the new table must have epoch " + (current.epoch() + 1) + ", not "
                    + next.epoch());
        }
        pending = next;
        save();
    }

    /** Ends a scale: the pending table becomes the table. Repeating it is fine. */
    public synchronized void commit(long epoch) {
        if (pending == null && current.epoch() == epoch) {
            return;
        }
        if (pending == null || pending.epoch() != epoch) {
            throw new IllegalStateException("no scale to epoch " + epoch + " is under way");
        }
        current = pending;
        pending = null;
        save();
    }

    /** Replaces the state (a new shard copying a peer's). */
    public synchronized void replace(SlotTable table, SlotTable next) {
        current = table;
        pending = next;
        save();
    }

    public synchronized void save() {
        if (file == null) {
            return;
        }
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Path partial = file.resolveSibling(file.getFileName() + ".partial");
            Files.writeString(partial, JsonMapper.shared().writeValueAsString(toJson()));
            try (FileChannel channel = FileChannel.open(partial, StandardOpenOption.WRITE)) {
                channel.force(true);
            }
            Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the cluster table " + file, e);
        }
    }
}
