package io.machvm.ops;

import static io.machvm.ops.EntrypointScript.cgroupV1;
import static io.machvm.ops.EntrypointScript.cgroupV2;
import static io.machvm.ops.EntrypointScript.run;
import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.ops.EntrypointScript.Result;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The container entrypoint's memory arithmetic (src/main/docker/entrypoint.sh), run with {@code sh} in dry-run mode against
 * fake cgroup limits: heap = limit - capacity - overhead, direct memory = capacity + headroom.
 */
class EntrypointScriptTest {
    private static final String LAUNCH = "-cp /app org.springframework.boot.loader.launch.JarLauncher";
    private static final long GIB = 1L << 30;

    @TempDir
    Path cgroup;

    @Test
    void heapIsWhatTheLimitLeavesAfterStoreAndOverhead() {
        Result result = run(cgroupV2(cgroup, String.valueOf(2 * GIB)), Map.of("MACHVM_STORE_CAPACITY", "1GB"));
        assertThat(result.exitCode()).as(result.stderr()).isZero();
        // 2048 = 1024 store + 768 heap + 256 overhead; direct = 1024 + 64
        assertThat(result.command()).isEqualTo(
                "java -XX:MaxDirectMemorySize=1088m -Xmx768m -XX:+ExitOnOutOfMemoryError " + LAUNCH);
        assertThat(result.capacity()).isEqualTo("1GB");
        assertThat(result.stderr()).contains(
                "memory limit 2048MiB = page store 1024MiB + heap 768MiB + JVM overhead 256MiB");
    }

    @Test
    void withoutACapacityTheStoreTakesHalfTheLimitAndTheApplicationIsToldSo() {
        Result result = run(cgroupV2(cgroup, String.valueOf(4 * GIB)), Map.of());
        assertThat(result.exitCode()).as(result.stderr()).isZero();
        assertThat(result.capacity()).isEqualTo("2048MB");
        assertThat(result.command()).isEqualTo(
                "java -XX:MaxDirectMemorySize=2112m -Xmx1792m -XX:+ExitOnOutOfMemoryError " + LAUNCH);
    }

    @Test
    void storePercentAndOverheadsCanBeTuned() {
        Result result = run(cgroupV2(cgroup, String.valueOf(4 * GIB)), Map.of("MACHVM_STORE_PERCENT", "75",
                "MACHVM_JVM_OVERHEAD_MIB", "384", "MACHVM_DIRECT_HEADROOM_MIB", "128"));
        assertThat(result.exitCode()).as(result.stderr()).isZero();
        // 4096 * 75% = 3072 store; heap = 4096 - 3072 - 384 = 640; direct = 3072 + 128
        assertThat(result.capacity()).isEqualTo("3072MB");
        assertThat(result.command()).isEqualTo(
                "java -XX:MaxDirectMemorySize=3200m -Xmx640m -XX:+ExitOnOutOfMemoryError " + LAUNCH);
    }

    @Test
    void cgroupV1LimitIsRead() {
        Result result = run(cgroupV1(cgroup, String.valueOf(3 * GIB)), Map.of("MACHVM_STORE_CAPACITY", "512MB"));
        assertThat(result.exitCode()).as(result.stderr()).isZero();
        assertThat(result.command()).isEqualTo(
                "java -XX:MaxDirectMemorySize=576m -Xmx2304m -XX:+ExitOnOutOfMemoryError " + LAUNCH);
    }

    @ParameterizedTest
    @CsvSource({"v2, max", "v1, 9223372036854771712", "none, ''"})
    void withoutALimitTheHeapIsLeftToTheJvmAndTheStoreKeepsItsDefault(String version, String limit) {
        Path root = switch (version) {
            case "v2" -> cgroupV2(cgroup, limit);
            case "v1" -> cgroupV1(cgroup, limit);
            default -> cgroup;
        };
        Result result = run(root, Map.of());
        assertThat(result.exitCode()).as(result.stderr()).isZero();
        assertThat(result.command()).isEqualTo(
                "java -XX:MaxDirectMemorySize=1088m -XX:+ExitOnOutOfMemoryError " + LAUNCH);
        assertThat(result.capacity()).isEmpty();
        assertThat(result.stderr()).contains("no container memory limit");
    }

    @Test
    void aLimitTooSmallForStorePlusHeapStopsWithTheNumbers() {
        Result result = run(cgroupV2(cgroup, String.valueOf(GIB)), Map.of("MACHVM_STORE_CAPACITY", "1GB"));
        assertThat(result.exitCode()).isEqualTo(1);
        assertThat(result.stdout()).isEmpty();
        assertThat(result.stderr().strip()).isEqualTo("machvm entrypoint: the container memory limit of 1024MiB is "
                + "too small for machvm.store.capacity 1024MiB + JVM overhead 256MiB + a heap of at least 128MiB: "
                + "raise the limit to 1408MiB or more, or lower MACHVM_STORE_CAPACITY");
    }

    @Test
    void flagsGivenByTheUserWin() {
        Result result = run(cgroupV2(cgroup, String.valueOf(2 * GIB)), Map.of("MACHVM_STORE_CAPACITY", "1GB",
                "JAVA_TOOL_OPTIONS", "-Xmx600m -XX:MaxDirectMemorySize=1200m", "JAVA_OPTS", "-Dfoo=bar"),
                "--server.port=9000");
        assertThat(result.exitCode()).as(result.stderr()).isZero();
        assertThat(result.command()).isEqualTo(
                "java -XX:+ExitOnOutOfMemoryError -Dfoo=bar " + LAUNCH + " --server.port=9000");
        assertThat(result.stderr()).contains("heap as given", "-XX:MaxDirectMemorySize as given");
    }

    @Test
    void maxRamPercentageCountsAsAHeapFlag() {
        Result result = run(cgroupV2(cgroup, String.valueOf(2 * GIB)),
                Map.of("MACHVM_STORE_CAPACITY", "1GB", "JDK_JAVA_OPTIONS", "-XX:MaxRAMPercentage=30"));
        assertThat(result.command()).isEqualTo(
                "java -XX:MaxDirectMemorySize=1088m -XX:+ExitOnOutOfMemoryError " + LAUNCH);
    }

    @ParameterizedTest
    @CsvSource({"16KB, 65", "1073741824, 1088", "1073741824B, 1088", "2gb, 2112", "0512MB, 576", "1TB, 1048640",
            "1048577, 66"})
    void capacityIsReadAsASpringDataSizeAndRoundedUpToMiB(String capacity, long directMib) {
        Result result = run(cgroup, Map.of("MACHVM_STORE_CAPACITY", capacity));
        assertThat(result.exitCode()).as(result.stderr()).isZero();
        assertThat(result.command()).startsWith("java -XX:MaxDirectMemorySize=" + directMib + "m ");
        assertThat(result.capacity()).isEqualTo(capacity);
    }

    @ParameterizedTest
    @CsvSource({"lots", "1.5GB", "-1GB", "12PB"})
    void capacityThatIsNotADataSizeStops(String capacity) {
        Result result = run(cgroup, Map.of("MACHVM_STORE_CAPACITY", capacity));
        assertThat(result.exitCode()).isEqualTo(1);
        assertThat(result.stderr().strip()).isEqualTo(
                "machvm entrypoint: MACHVM_STORE_CAPACITY='" + capacity + "' is not a data size such as 512MB or 1GB");
    }
}
