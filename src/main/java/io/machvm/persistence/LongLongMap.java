package io.machvm.persistence;

import java.util.Arrays;

/** An open-addressing map from long to long, with no object per entry (page indexes and content ids run to millions). */
final class LongLongMap {
    /** Never a key: page indexes are below 2^40 and content ids positive. */
    private static final long FREE = Long.MIN_VALUE;

    private long[] keys;
    private long[] values;
    private int size;

    LongLongMap() {
        this(16);
    }

    LongLongMap(int expected) {
        int capacity = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
        keys = new long[capacity];
        values = new long[capacity];
        Arrays.fill(keys, FREE);
    }

    int size() {
        return size;
    }

    boolean containsKey(long key) {
        return keys[slot(key)] != FREE;
    }

    /** The value of {@code key}, or {@code missing}. */
    long get(long key, long missing) {
        int i = slot(key);
        return keys[i] == FREE ? missing : values[i];
    }

    void put(long key, long value) {
        int i = slot(key);
        if (keys[i] == FREE) {
            keys[i] = key;
            size++;
            if (size * 2 > keys.length) {
                values[i] = value;
                grow();
                return;
            }
        }
        values[i] = value;
    }

    void remove(long key) {
        int i = slot(key);
        if (keys[i] == FREE) {
            return;
        }
        keys[i] = FREE;
        size--;
        // Re-insert the rest of the probe run so that lookups never stop at the hole.
        int mask = keys.length - 1;
        for (int j = (i + 1) & mask; keys[j] != FREE; j = (j + 1) & mask) {
            long k = keys[j];
            long v = values[j];
            keys[j] = FREE;
            int to = slot(k);
            keys[to] = k;
            values[to] = v;
        }
    }

    void clear() {
        Arrays.fill(keys, FREE);
        size = 0;
    }

    /** Receives one entry. */
    @FunctionalInterface
    interface EntryVisitor {
        void visit(long key, long value);
    }

    void forEach(EntryVisitor visitor) {
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] != FREE) {
                visitor.visit(keys[i], values[i]);
            }
        }
    }

    private int slot(long key) {
        int mask = keys.length - 1;
        int i = (int) (mix(key) & mask);
        while (keys[i] != FREE && keys[i] != key) {
            i = (i + 1) & mask;
        }
        return i;
    }

    private static long mix(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return h ^ (h >>> 29);
    }

    private void grow() {
        long[] oldKeys = keys;
        long[] oldValues = values;
        keys = new long[oldKeys.length * 2];
        values = new long[oldKeys.length * 2];
        Arrays.fill(keys, FREE);
        for (int i = 0; i < oldKeys.length; i++) {
            if (oldKeys[i] != FREE) {
                int to = slot(oldKeys[i]);
                keys[to] = oldKeys[i];
                values[to] = oldValues[i];
            }
        }
    }
}
