package io.machvm.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.store.PageStore;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Page accounting under random calls: at every check the multiset of page handles over all maps equals the stores'
 * reference counts (and resident/shared counts follow); after every task is terminated the stores are empty.
 */
class PageAccountingTest {
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void handlesMatchReferenceCountsAndTerminationFreesEverything(boolean tight) {
        long seed = Long.getLong("machvm.diff.seed", tight ? 0xacc0_0002L : 0xacc0_0001L);
        DiffDriver driver = new DiffDriver(seed, tight);
        driver.checkAccounting = true;
        driver.checkEvery = 50;
        driver.run(Integer.getInteger("machvm.accounting.ops", 3000));
        driver.checkAccounting();
        assertThat(driver.armStore.residentPages() + driver.x86Store.residentPages())
                .as("the run left pages behind to account for").isPositive();
        driver.terminateAll();
        for (PageStore store : new PageStore[] {driver.armStore, driver.x86Store}) {
            assertThat(store.residentPages()).isZero();
            assertThat(store.sharedPages()).isZero();
            assertThat(store.slabCount()).isZero();
        }
        assertThat(driver.capacity.remainingBytes()).isEqualTo(driver.capacity.capacityBytes());
    }
}
