package io.machvm.service;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.store.Budget;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Per-tenant budgets: made on first use with the tenant's limits, drawing from the node's, refusing per tenant. */
class TenantQuotasTest {
    private static final TenantQuotas.Limits DEFAULTS = new TenantQuotas.Limits(10, 64 * 1024, 100);

    @Test
    void eachTenantHasItsOwnBudgetsWithItsLimits() {
        TenantQuotas quotas = new TenantQuotas(DEFAULTS,
                Map.of("big", new TenantQuotas.Limits(20, 1 << 20, TenantQuotas.UNLIMITED)), null, null);
        assertThat(quotas.residentBytes("acme")).isSameAs(quotas.residentBytes("acme"));
        assertThat(quotas.residentBytes("acme")).isNotSameAs(quotas.residentBytes("beta"));
        assertThat(quotas.residentBytes("acme").limitUnits()).isEqualTo(64 * 1024);
        assertThat(quotas.mapEntries("acme").limitUnits()).isEqualTo(100);
        assertThat(quotas.maxTasks("acme")).isEqualTo(10);
        assertThat(quotas.residentBytes("big").limitUnits()).isEqualTo(1 << 20);
        assertThat(quotas.mapEntries("big").limitUnits()).isEqualTo(Budget.UNLIMITED);
        assertThat(quotas.maxTasks("big")).isEqualTo(20);
        assertThat(quotas.tenantsWithBudgets()).containsExactlyInAnyOrder("acme", "beta", "big");
    }

    @Test
    void aTenantAtItsQuotaIsRefusedWhileOthersGoOn() {
        TenantQuotas quotas = new TenantQuotas(DEFAULTS, Map.of(), null, null);
        Budget acmeTask = quotas.residentBytes("acme").child("task a1", Budget.UNLIMITED);
        Budget acmeTask2 = quotas.residentBytes("acme").child("task a2", Budget.UNLIMITED);
        assertThat(acmeTask.tryAcquire(3 * 16384)).isNull();
        Budget refusing = acmeTask2.tryAcquire(2 * 16384);
        assertThat(refusing).isSameAs(quotas.residentBytes("acme"));
        assertThat(refusing.name()).contains("machvm.quota.max-resident-bytes").contains("acme");
        assertThat(acmeTask2.usedUnits()).isZero(); // all or nothing
        assertThat(quotas.residentBytes("beta").child("task b1", Budget.UNLIMITED).tryAcquire(4 * 16384)).isNull();
        acmeTask.release(3 * 16384);
        assertThat(acmeTask2.tryAcquire(2 * 16384)).isNull();
    }

    @Test
    void tenantBudgetsDrawFromTheNodes() {
        Budget nodeEntries = Budget.root("node map entries", 150);
        TenantQuotas quotas = new TenantQuotas(DEFAULTS, Map.of("big",
                new TenantQuotas.Limits(1, 1, 1000)), null, nodeEntries);
        assertThat(quotas.mapEntries("acme").parent()).isSameAs(nodeEntries);
        assertThat(quotas.mapEntries("acme").tryAcquire(100)).isNull();
        assertThat(quotas.mapEntries("big").tryAcquire(100)).isSameAs(nodeEntries);
        assertThat(quotas.mapEntries("big").tryAcquire(50)).isNull();
        assertThat(quotas.setting("big", "max-map-entries")).isEqualTo("machvm.quota.tenants.big.max-map-entries");
        assertThat(quotas.setting("acme", "max-map-entries")).isEqualTo("machvm.quota.max-map-entries");
    }

    @Test
    void withoutQuotasNothingIsRefused() {
        TenantQuotas quotas = TenantQuotas.unlimited();
        assertThat(quotas.residentBytes("x").tryAcquire(Long.MAX_VALUE / 2)).isNull();
        assertThat(quotas.maxTasks("x")).isEqualTo(TenantQuotas.UNLIMITED);
    }
}
