package io.machvm.cluster;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The fence of a handoff: every call on a task holds its task's stripe shared for the time of the call, and a handoff
 * holds it exclusively while it copies the task to its new owner. Stripes are taken in index order, so two ids in
 * one call and a handoff of several tasks cannot deadlock.
 */
final class Fences {
    private static final int STRIPES = 4096;
    private final ReentrantReadWriteLock[] stripes = new ReentrantReadWriteLock[STRIPES];

    Fences() {
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new ReentrantReadWriteLock();
        }
    }

    /** Thrown when a fence is not had within the wait. */
    static final class Busy extends Exception {
        Busy() {
            super(null, null, false, false);
        }
    }

    /** Holds the ids' stripes shared (a call) or exclusively (a handoff) until closed. */
    AutoCloseable hold(Collection<String> ids, boolean exclusive, Duration wait) throws Busy {
        if (ids.size() == 1) {
            // the common case: one task, no sorting
            ReentrantReadWriteLock stripe = stripes[index(ids.iterator().next())];
            Lock lock = exclusive ? stripe.writeLock() : stripe.readLock();
            try {
                // the timed tryLock, unlike the plain one, lets a handoff waiting for the stripe go first
                if (!lock.tryLock(wait.toNanos(), TimeUnit.NANOSECONDS)) {
                    throw new Busy();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Busy();
            }
            return lock::unlock;
        }
        TreeSet<Integer> indexes = new TreeSet<>();
        for (String id : ids) {
            indexes.add(index(id));
        }
        long deadline = System.nanoTime() + wait.toNanos();
        List<Lock> held = new ArrayList<>(indexes.size());
        try {
            for (int index : indexes) {
                ReentrantReadWriteLock stripe = stripes[index];
                Lock lock = exclusive ? stripe.writeLock() : stripe.readLock();
                if (!lock.tryLock(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                    throw new Busy();
                }
                held.add(lock);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            release(held);
            throw new Busy();
        } catch (Busy e) {
            release(held);
            throw e;
        }
        return () -> release(held);
    }

    private static int index(String id) {
        return Math.floorMod(id.hashCode() * 0x9E3779B9, STRIPES);
    }

    private static void release(List<Lock> held) {
        for (int i = held.size() - 1; i >= 0; i--) {
            held.get(i).unlock();
        }
    }
}
