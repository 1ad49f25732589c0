package io.machvm.vm;

import java.util.Arrays;

/** A growable list of {@code long}s without boxing. */
final class LongList {
    private long[] items = new long[16];
    private int size;

    void add(long value) {
        if (size == items.length) {
            items = Arrays.copyOf(items, size * 2);
        }
        items[size++] = value;
    }

    long get(int index) {
        return items[index];
    }

    int size() {
        return size;
    }

    /** Sorts ascending and removes duplicates. */
    void sortDistinct() {
        Arrays.sort(items, 0, size);
        int out = 0;
        for (int i = 0; i < size; i++) {
            if (out == 0 || items[out - 1] != items[i]) {
                items[out++] = items[i];
            }
        }
        size = out;
    }
}
