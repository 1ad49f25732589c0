package io.machvm.vm;

import java.util.Arrays;

/** A growable list of {@code int}s without boxing. */
final class IntList {
    private int[] items;
    private int size;

    IntList(int initialCapacity) {
        items = new int[Math.max(4, initialCapacity)];
    }

    void add(int value) {
        if (size == items.length) {
            items = Arrays.copyOf(items, size * 2);
        }
        items[size++] = value;
    }

    int get(int index) {
        return items[index];
    }

    int size() {
        return size;
    }

    /** The backing array; valid in {@code [0, size())}. */
    int[] array() {
        return items;
    }

    void clear() {
        size = 0;
    }
}
