package io.machvm.cluster;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * The ownership table: which shard owns each of the {@link Placement#SLOTS} slots, and each shard's address. It is
 * state, changed only by a deliberate scale operation ({@link #rebalance}), never by the health of a shard; the epoch
 * counts the changes.
 */
public final class SlotTable {
    private final long epoch;
    private final List<String> shards;
    private final short[] owners;

    public SlotTable(long epoch, List<String> shards, short[] owners) {
        if (owners.length != Placement.SLOTS) {
            throw new IllegalArgumentException("a table has " + Placement.SLOTS + " slots, not " + owners.length);
        }
        for (short owner : owners) {
            if (owner < 0 || owner >= shards.size()) {
                throw new IllegalArgumentException("slot owner " + owner + " is not one of " + shards.size()
                        + " shards");
            }
        }
        this.epoch = epoch;
        this.shards = List.copyOf(shards);
        this.owners = owners.clone();
    }

    /** Slots split into contiguous, even ranges over the shards (shard i gets the i-th range), epoch 1. */
    public static SlotTable even(List<String> shards) {
        int n = shards.size();
        short[] owners = new short[Placement.SLOTS];
        for (int slot = 0; slot < Placement.SLOTS; slot++) {
            owners[slot] = (short) ((long) slot * n / Placement.SLOTS);
        }
        return new SlotTable(1, shards, owners);
    }

    /**
     * The table for a new list of shards (the first ones keep their index), moving as few slots as possible: a shard
     * keeps its slots up to its even share, and only the surplus and the slots of removed shards move, to the shards
     * below their share. Deterministic: every shard computes the same table.
     */
    public SlotTable rebalance(List<String> newShards) {
        int n = newShards.size();
        if (n < 1) {
            throw new IllegalArgumentException("at least one shard");
        }
        int[] target = new int[n];
        for (int i = 0; i < n; i++) {
            target[i] = Placement.SLOTS / n + (i < Placement.SLOTS % n ? 1 : 0);
        }
        short[] next = owners.clone();
        int[] held = new int[n];
        List<Integer> free = new ArrayList<>();
        // Keep each shard's lowest slots up to its share; free the rest (from the top, so ranges stay contiguous).
        for (int slot = 0; slot < Placement.SLOTS; slot++) {
            int owner = owners[slot];
            if (owner < n && held[owner] < target[owner]) {
                held[owner]++;
            } else {
                free.add(slot);
                next[slot] = -1;
            }
        }
        int shard = 0;
        for (int slot : free) {
            while (held[shard] >= target[shard]) {
                shard++;
            }
            next[slot] = (short) shard;
            held[shard]++;
        }
        return new SlotTable(epoch + 1, newShards, next);
    }

    public long epoch() {
        return epoch;
    }

    public List<String> shards() {
        return shards;
    }

    public int owner(int slot) {
        return owners[slot];
    }

    public String url(int shard) {
        return shards.get(shard);
    }

    /** Whether the shard owns at least one slot. */
    public boolean ownsAny(int shard) {
        for (short owner : owners) {
            if (owner == shard) {
                return true;
            }
        }
        return false;
    }

    /** How many slots differ between the two tables. */
    public int slotsMovedTo(SlotTable other) {
        int moved = 0;
        for (int slot = 0; slot < Placement.SLOTS; slot++) {
            if (owners[slot] != other.owners[slot]) {
                moved++;
            }
        }
        return moved;
    }

    /** {@code {"epoch": 2, "shards": ["http://…", …], "slots": [[from, to, shard], …]}} with inclusive ranges. */
    public ObjectNode toJson(JsonMapper mapper) {
        ObjectNode json = mapper.createObjectNode();
        json.put("epoch", epoch);
        ArrayNode urls = json.putArray("shards");
        shards.forEach(urls::add);
        ArrayNode ranges = json.putArray("slots");
        int from = 0;
        for (int slot = 1; slot <= Placement.SLOTS; slot++) {
            if (slot == Placement.SLOTS || owners[slot] != owners[from]) {
                ranges.addArray().add(from).add(slot - 1).add(owners[from]);
                from = slot;
            }
        }
        return json;
    }

    public static SlotTable fromJson(JsonNode json) {
        List<String> shards = new ArrayList<>();
        json.required("shards").forEach(url -> shards.add(url.asString()));
        short[] owners = new short[Placement.SLOTS];
        Arrays.fill(owners, (short) -1);
        for (JsonNode range : json.required("slots")) {
            int from = range.get(0).asInt();
            int to = range.get(1).asInt();
            short shard = (short) range.get(2).asInt();
            for (int slot = from; slot <= to; slot++) {
                owners[slot] = shard;
            }
        }
        return new SlotTable(json.required("epoch").asLong(), shards, owners);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SlotTable t && t.epoch == epoch && t.shards.equals(shards)
                && Arrays.equals(t.owners, owners);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(epoch) * 31 + Arrays.hashCode(owners);
    }
}
