package io.machvm.cluster;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
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

    /** Shards a table has at most: far more than a cluster needs, and each still owns 16 slots. */
    public static final int MAX_SHARDS = 1024;

    public SlotTable(long epoch, List<String> shards, short[] owners) {
        if (epoch < 1) {
            throw new IllegalArgumentException("a table's epoch is at least 1, not " + epoch);
        }
        checkShards(shards);
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

    /**
     * Checks a list of shards: 1 to {@link #MAX_SHARDS} base URLs, each {@code http} or {@code https} with a host and
     * nothing after the port (a path, query or fragment), no two alike.
     *
     * @throws IllegalArgumentException naming the first one that is not
     */
    public static void checkShards(List<String> shards) {
        if (shards.isEmpty() || shards.size() > MAX_SHARDS) {
            throw new IllegalArgumentException("a table has 1 to " + MAX_SHARDS + " shards, not " + shards.size());
        }
        Set<String> seen = new HashSet<>();
        for (String url : shards) {
            URI uri;
            try {
                uri = url == null ? null : new URI(url);
            } catch (URISyntaxException e) {
                uri = null;
            }
            if (uri == null || !("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
                    || uri.getHost() == null || uri.getRawUserInfo() != null
                    || !(uri.getRawPath() == null || uri.getRawPath().isEmpty()) || uri.getRawQuery() != null
                    || uri.getRawFragment() != null) {
                throw new IllegalArgumentException("shard " + seen.size() + " is not a base URL "
                        + "(http://host:port): " + shown(url));
            }
            if (!seen.add(url)) {
                throw new IllegalArgumentException("shard " + shown(url) + " is listed twice");
            }
        }
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

    /**
     * Reads {@link #toJson}'s form.
     *
     * @throws IllegalArgumentException when {@code json} is not a table: a member missing or of another type, a slot
     *                                  range out of bounds, a slot without an owner, a shard list {@link #checkShards}
     *                                  refuses
     */
    public static SlotTable fromJson(JsonNode json) {
        JsonNode epoch = json == null ? null : json.get("epoch");
        JsonNode ranges = json == null ? null : json.get("slots");
        if (epoch == null || !epoch.canConvertToExactIntegral() || !epoch.canConvertToLong() || ranges == null
                || !ranges.isArray()) {
            throw new IllegalArgumentException("a table is {\"epoch\": n, \"shards\": [url, …], \"slots\": "
                    + "[[from, to, shard], …]}");
        }
        List<String> shards = shardList(json.get("shards"));
        short[] owners = new short[Placement.SLOTS];
        Arrays.fill(owners, (short) -1);
        for (JsonNode range : ranges) {
            if (!range.isArray() || range.size() != 3 || !range.get(0).isInt() || !range.get(1).isInt()
                    || !range.get(2).isInt()) {
                throw new IllegalArgumentException("a slot range is [from, to, shard], not " + range);
            }
            int from = range.get(0).asInt();
            int to = range.get(1).asInt();
            int shard = range.get(2).asInt();
            if (from < 0 || to < from || to >= Placement.SLOTS || shard < 0 || shard >= shards.size()) {
                throw new IllegalArgumentException("slot range " + range + " is not within slots 0 to "
                        + (Placement.SLOTS - 1) + " and shards 0 to " + (shards.size() - 1));
            }
            Arrays.fill(owners, from, to + 1, (short) shard);
        }
        return new SlotTable(epoch.asLong(), shards, owners);
    }

    private static String shown(String url) {
        return url == null ? "null" : "\"" + (url.length() > 80 ? url.substring(0, 80) + "…" : url) + "\"";
    }

    /** A JSON array of shard URLs, {@link #checkShards checked}. */
    public static List<String> shardList(JsonNode urls) {
        if (urls == null || !urls.isArray()) {
            throw new IllegalArgumentException("shards is an array of the shards' base URLs");
        }
        List<String> shards = new ArrayList<>();
        for (JsonNode url : urls) {
            if (!url.isString()) {
                throw new IllegalArgumentException("shards is an array of the shards' base URLs, not " + url);
            }
            shards.add(url.asString());
        }
        checkShards(shards);
        return shards;
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
