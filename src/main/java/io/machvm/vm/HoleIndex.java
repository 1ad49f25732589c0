package io.machvm.vm;

import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongBinaryOperator;

/**
 * The unmapped ranges (holes) of a map, in a treap ordered by start address and augmented with the largest hole of
 * each subtree, so that the first fit for {@code vm_allocate(ANYWHERE)} — the lowest hole large enough — is found in
 * O(log holes) however fragmented the map is.
 *
 * <p>Not thread-safe: a {@link VmMap} guards it with its lock.
 */
final class HoleIndex {
    private static final class Node {
        final long start;
        final long size;
        final int priority = ThreadLocalRandom.current().nextInt();
        long maxSize;
        Node left;
        Node right;

        Node(long start, long size) {
            this.start = start;
            this.size = size;
            this.maxSize = size;
        }

        void update() {
            long m = size;
            if (left != null && left.maxSize > m) {
                m = left.maxSize;
            }
            if (right != null && right.maxSize > m) {
                m = right.maxSize;
            }
            maxSize = m;
        }
    }

    private Node root;

    void clear() {
        root = null;
    }

    /** Adds the hole {@code [start, start + size)}; it must not overlap another. */
    void add(long start, long size) {
        if (size <= 0) {
            return;
        }
        Node[] parts = split(root, start);
        root = merge(merge(parts[0], new Node(start, size)), parts[1]);
    }

    /** Removes the hole starting at {@code start}; returns its size, or -1 when there is none. */
    long remove(long start) {
        Node[] lessAndRest = split(root, start);
        Node[] exactAndGreater = split(lessAndRest[1], start + 1);
        long size = -1;
        if (exactAndGreater[0] != null) {
            size = exactAndGreater[0].size;
        }
        root = merge(lessAndRest[0], exactAndGreater[1]);
        return size;
    }

    /** The start of the hole containing {@code address} or the last one below it, or -1. */
    long floorStart(long address) {
        Node n = root;
        long best = -1;
        while (n != null) {
            if (n.start <= address) {
                best = n.start;
                n = n.right;
            } else {
                n = n.left;
            }
        }
        return best;
    }

    /** The size of the hole starting at {@code start}, or -1. */
    long sizeAt(long start) {
        Node n = root;
        while (n != null) {
            if (n.start == start) {
                return n.size;
            }
            n = start < n.start ? n.left : n.right;
        }
        return -1;
    }

    /** The start of the lowest hole of at least {@code size} bytes (unsigned), or -1. */
    long firstFit(long size) {
        Node n = root;
        if (n == null || Long.compareUnsigned(n.maxSize, size) < 0) {
            return -1;
        }
        while (true) {
            if (n.left != null && Long.compareUnsigned(n.left.maxSize, size) >= 0) {
                n = n.left;
            } else if (Long.compareUnsigned(n.size, size) >= 0) {
                return n.start;
            } else {
                n = n.right;
            }
        }
    }

    /** Visits holes with start in {@code [from, to)} in address order. */
    void forEach(long from, long to, LongBinaryOperator visitor) {
        forEach(root, from, to, visitor);
    }

    private static void forEach(Node n, long from, long to, LongBinaryOperator visitor) {
        if (n == null) {
            return;
        }
        if (n.start >= from) {
            forEach(n.left, from, to, visitor);
        }
        if (n.start >= from && n.start < to) {
            visitor.applyAsLong(n.start, n.size);
        }
        if (n.start < to) {
            forEach(n.right, from, to, visitor);
        }
    }

    /** Splits into nodes with start below {@code key} and the rest. */
    private static Node[] split(Node n, long key) {
        if (n == null) {
            return new Node[2];
        }
        if (n.start < key) {
            Node[] r = split(n.right, key);
            n.right = r[0];
            n.update();
            return new Node[] {n, r[1]};
        }
        Node[] l = split(n.left, key);
        n.left = l[1];
        n.update();
        return new Node[] {l[0], n};
    }

    private static Node merge(Node a, Node b) {
        if (a == null) {
            return b;
        }
        if (b == null) {
            return a;
        }
        if (a.priority > b.priority) {
            a.right = merge(a.right, b);
            a.update();
            return a;
        }
        b.left = merge(a, b.left);
        b.update();
        return b;
    }
}
