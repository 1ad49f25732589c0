package io.machvm.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class BudgetTest {

    @Test
    void grantsAtEveryLevelOrNone() {
        Budget node = Budget.root("node", 10);
        Budget tenant = node.child("tenant", 6);
        Budget task = tenant.child("task", 100);

        assertThat(task.tryAcquire(5)).isNull();
        assertThat(task.tryAcquire(2)).isSameAs(tenant);
        assertThat(task.usedUnits()).isEqualTo(5);
        assertThat(tenant.usedUnits()).isEqualTo(5);
        assertThat(node.usedUnits()).isEqualTo(5);

        Budget other = node.child("other", Budget.UNLIMITED);
        assertThat(other.tryAcquire(6)).isSameAs(node);
        assertThat(other.tryAcquire(5)).isNull();
        assertThat(node.usedUnits()).isEqualTo(10);

        task.release(5);
        assertThat(tenant.usedUnits()).isZero();
        assertThat(node.usedUnits()).isEqualTo(5);
    }

    @Test
    void refusesToReleaseMoreThanIsInUse() {
        Budget budget = Budget.root("b", 4);
        budget.tryAcquire(3);
        assertThatThrownBy(() -> budget.release(4)).isInstanceOf(IllegalStateException.class);
        assertThat(budget.usedUnits()).isEqualTo(3);
    }

    @Test
    void unlimitedNeverOverflows() {
        Budget budget = Budget.root("b", Budget.UNLIMITED);
        assertThat(budget.tryAcquire(Long.MAX_VALUE - 1)).isNull();
        assertThat(budget.tryAcquire(2)).isSameAs(budget);
    }
}
