package io.machvm.vm;

import static io.machvm.vm.KernReturn.KERN_RESOURCE_SHORTAGE;

import io.machvm.store.Budget;

/**
 * The units one holder (a map's private pages and entries, memory shared by forks) has taken from a {@link Budget}.
 * A change that may grow the holder first {@link #raise raises} the charge by a bound of its growth, so that a
 * refusal comes before anything changes, and afterwards {@link #settle settles} it to what the holder really holds.
 *
 * <p>Not thread-safe: guarded by the lock of the map that holds it.
 */
final class Charge {
    private final Budget budget;
    private final String unit;
    private long held;

    Charge(Budget budget, String unit) {
        this.budget = budget;
        this.unit = unit;
    }

    /**
     * Takes {@code units} more from the budget and its parents.
     *
     * @throws KernException {@code KERN_RESOURCE_SHORTAGE}, having taken nothing, when a level refuses
     */
    void raise(long units) {
        Budget refused = budget.tryAcquire(units);
        if (refused != null) {
            throw shortage(refused, units, unit);
        }
        held += units;
    }

    /** Gives back what is held above {@code actual}, or takes what is missing (as far as the budget allows). */
    void settle(long actual) {
        if (actual < held) {
            budget.release(held - actual);
            held = actual;
        } else if (actual > held && budget.tryAcquire(actual - held) == null) {
            held = actual;
        }
    }

    /** Settles to {@code actual}, taking what is missing even past the budget's limits ({@link Budget#acquireAnyway}). */
    void settleAnyway(long actual) {
        if (actual < held) {
            budget.release(held - actual);
        } else if (actual > held) {
            budget.acquireAnyway(actual - held);
        }
        held = actual;
    }

    long held() {
        return held;
    }

    Budget budget() {
        return budget;
    }

    static KernException shortage(Budget refused, long units, String unit) {
        return new KernException(KERN_RESOURCE_SHORTAGE, refused.name() + " (" + refused.limitUnits() + " " + unit
                + ") is reached: " + refused.usedUnits() + " in use, " + units + " more needed");
    }
}
