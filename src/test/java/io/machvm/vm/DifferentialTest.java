package io.machvm.vm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * Seeded random call sequences against {@link VmMap} and the naive {@link ReferenceVm}: every answer, every byte read
 * and, periodically, the whole state (pages, their attributes and bytes) must agree.
 *
 * <p>{@code -Dmachvm.diff.ops=N} runs N operations per seed (default 10,000); {@code -Dmachvm.diff.seed=S} replays
 * one seed. A failure prints the seed, the operation index and the last operations.
 */
class DifferentialTest {
    static final int OPS = Integer.getInteger("machvm.diff.ops", 10_000);
    static final Long SEED = Long.getLong("machvm.diff.seed");
    /** Seeds run by default; a replayed seed runs alone. */
    static final long[] SEEDS = {0x5eed_0001L, 0x5eed_0002L, 0x5eed_0003L};

    @Test
    void randomSequencesAgreeWithTheReference() {
        long[] seeds = SEED != null ? new long[] {SEED} : SEEDS;
        for (long seed : seeds) {
            DiffDriver driver = new DiffDriver(seed, false);
            driver.run(OPS);
            if (Boolean.getBoolean("machvm.diff.verbose")) {
                System.out.println("seed " + seed + ": " + driver.stats);
            }
            if (SEED == null && OPS >= 10_000) {
                // The run exercised every call both ways (a generator that drifted into trivia would fail here).
                for (String call : new String[] {"vm_allocate", "vm_protect", "vm_inherit", "vm_write",
                    "vm_write(stream)", "vm_copy", "vm_read", "vm_read(snapshot)", "vm_read_overwrite", "vm_region"}) {
                    assertThat(driver.stats).as("seed %d: %s", seed, call)
                            .containsKey(call + " KERN_SUCCESS")
                            .containsKey(call + " KERN_INVALID_ADDRESS");
                }
                assertThat(driver.stats).as("seed %d", seed).containsKeys("vm_deallocate KERN_SUCCESS",
                        "vm_deallocate KERN_INVALID_ARGUMENT", "vm_allocate KERN_NO_SPACE",
                        "vm_protect KERN_PROTECTION_FAILURE", "vm_copy KERN_PROTECTION_FAILURE",
                        "vm_read_overwrite KERN_PROTECTION_FAILURE", "vm_write(stream) IOException",
                        "vm_write(stream) TransferLimitException", "vm_read MACH_SEND_INVALID_DEST");
            }
        }
    }

    @Test
    void randomSequencesWithATightCapacityRunOutCleanly() {
        long seed = SEED != null ? SEED : 0x7167_0001L;
        DiffDriver driver = new DiffDriver(seed, true);
        driver.run(SEED != null ? OPS : Math.max(1, OPS / 2));
        if (SEED == null && OPS >= 10_000) {
            assertThat(driver.stats.keySet()).as("some calls ran out of pages")
                    .anyMatch(k -> k.endsWith("KERN_RESOURCE_SHORTAGE"));
        }
    }
}
