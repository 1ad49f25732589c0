package io.machvm.store;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A count of units (map entries, page-table nodes, resident pages) with a ceiling, drawn from by a holder and, through
 * {@link #parent()}, by every budget above it: a task's budget inside its tenant's inside the node's. An acquisition
 * either takes the units from every level or from none, so a refusal changes nothing.
 */
public final class Budget {
    /** A limit that never refuses. */
    public static final long UNLIMITED = Long.MAX_VALUE;

    private final String name;
    private final long limitUnits;
    private final Budget parent;
    private final AtomicLong usedUnits = new AtomicLong();

    public Budget(String name, long limitUnits, Budget parent) {
        if (limitUnits < 0) {
            throw new IllegalArgumentException(name + ": limit " + limitUnits + " < 0");
        }
        this.name = name;
        this.limitUnits = limitUnits;
        this.parent = parent;
    }

    /** A budget with no parent. */
    public static Budget root(String name, long limitUnits) {
        return new Budget(name, limitUnits, null);
    }

    /** A budget drawing from this one. */
    public Budget child(String childName, long childLimitUnits) {
        return new Budget(childName, childLimitUnits, this);
    }

    /**
     * Takes {@code units} from this budget and every parent, or from none.
     *
     * @return {@code null} when granted, else the budget that refused (for the problem's detail)
     */
    public Budget tryAcquire(long units) {
        if (units < 0) {
            throw new IllegalArgumentException(name + ": acquire " + units + " < 0");
        }
        if (units == 0) {
            return null;
        }
        for (Budget level = this; level != null; level = level.parent) {
            if (!level.tryTake(units)) {
                for (Budget undo = this; undo != level; undo = undo.parent) {
                    undo.give(units);
                }
                return level;
            }
        }
        return null;
    }

    /**
     * Takes {@code units} from this budget and every parent even past their limits: for what is already held and
     * must not be refused (a task restored after a restart, whose limits may since have been lowered). A budget over
     * its limit refuses every later {@link #tryAcquire} until enough is released.
     */
    public void acquireAnyway(long units) {
        if (units < 0) {
            throw new IllegalArgumentException(name + ": acquire " + units + " < 0");
        }
        for (Budget level = this; level != null; level = level.parent) {
            level.usedUnits.addAndGet(units);
        }
    }

    /** Returns {@code units} taken by {@link #tryAcquire} or {@link #acquireAnyway} to this budget and every parent. */
    public void release(long units) {
        if (units < 0) {
            throw new IllegalArgumentException(name + ": release " + units + " < 0");
        }
        for (Budget level = this; level != null; level = level.parent) {
            level.give(units);
        }
    }

    private boolean tryTake(long units) {
        long used;
        do {
            used = usedUnits.get();
            if (used > limitUnits - units) {
                return false;
            }
        } while (!usedUnits.compareAndSet(used, used + units));
        return true;
    }

    private void give(long units) {
        long used;
        do {
            used = usedUnits.get();
            if (used < units) {
                throw new IllegalStateException(name + ": release of " + units + " exceeds the " + used + " in use");
            }
        } while (!usedUnits.compareAndSet(used, used - units));
    }

    public String name() {
        return name;
    }

    public long limitUnits() {
        return limitUnits;
    }

    public long usedUnits() {
        return usedUnits.get();
    }

    public Budget parent() {
        return parent;
    }

    @Override
    public String toString() {
        return name + " " + usedUnits.get() + "/" + limitUnits;
    }
}
