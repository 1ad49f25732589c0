package io.machvm.ops;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machvm.service.TaskInfo;
import io.machvm.service.TaskSpec;
import io.machvm.service.VmService;
import io.machvm.vm.KernException;
import io.machvm.vm.KernReturn;
import io.machvm.vm.VmFlags;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.annotation.DirtiesContext;

/**
 * The exact machvm series on {@code /actuator/prometheus} after a known sequence of calls. The calls go through the
 * {@link VmService} bean (the layer that records them); a context of its own (distinct capacity, closed afterwards)
 * makes the counts exact whatever other tests did.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = "machvm.store.capacity=64MB")
@DirtiesContext
class PrometheusMetricsTest {
    private static final int PAGE = 16384;

    @Autowired
    VmService vm;

    @LocalServerPort
    int port;

    @Test
    void scrapeShowsExactlyTheCallsMadeAndTheStoreGauges() {
        TaskInfo task = vm.createTask(TaskSpec.DEFAULTS);
        vm.createTask("ops-metrics-other", TaskSpec.DEFAULTS);
        long source = vm.allocate(task.id(), 0, 2 * PAGE, VmFlags.ANYWHERE);
        long dest = vm.allocate(task.id(), 0, 2 * PAGE, VmFlags.ANYWHERE);
        byte[] data = new byte[4096];
        Arrays.fill(data, (byte) 0x5a);
        vm.write(task.id(), source, data);
        vm.write(task.id(), source + PAGE, data);
        vm.copy(task.id(), source, 2 * PAGE, dest);
        assertThat(vm.read(task.id(), dest + PAGE, 16)).containsOnly(0x5a);
        assertThatThrownBy(() -> vm.write(task.id(), 0x1000, data))
                .isInstanceOfSatisfying(KernException.class,
                        e -> assertThat(e.kern()).isEqualTo(KernReturn.KERN_INVALID_ADDRESS));
        assertThatThrownBy(() -> vm.allocate("ops-metrics-none", 0, PAGE, VmFlags.ANYWHERE))
                .isInstanceOfSatisfying(KernException.class,
                        e -> assertThat(e.kern()).isEqualTo(KernReturn.MACH_SEND_INVALID_DEST));
        vm.terminateTask("ops-metrics-other");

        String scrape = given().port(port).when().get("/actuator/prometheus")
                .then().statusCode(200).extract().asString();

        List<String> series = scrape.lines()
                .filter(line -> line.startsWith("machvm_"))
                .filter(line -> !line.startsWith("machvm_calls_seconds_sum")
                        && !line.startsWith("machvm_calls_seconds_max"))
                .sorted()
                .toList();
        // Prometheus text format as written by Micrometer's client: counts are integers, other values doubles.
        assertThat(series).containsExactly(
                // the aligned two-page copy shares both pages instead of moving their bytes
                "machvm_bytes_total{call=\"cow_shared\"} 32768.0",
                "machvm_bytes_total{call=\"vm_copy\"} 32768.0",
                "machvm_bytes_total{call=\"vm_read\"} 16.0",
                "machvm_bytes_total{call=\"vm_write\"} 8192.0",
                "machvm_calls_seconds_count{call=\"task_create\",kern=\"KERN_SUCCESS\"} 2",
                "machvm_calls_seconds_count{call=\"task_terminate\",kern=\"KERN_SUCCESS\"} 1",
                "machvm_calls_seconds_count{call=\"vm_allocate\",kern=\"KERN_SUCCESS\"} 2",
                "machvm_calls_seconds_count{call=\"vm_allocate\",kern=\"MACH_SEND_INVALID_DEST\"} 1",
                "machvm_calls_seconds_count{call=\"vm_copy\",kern=\"KERN_SUCCESS\"} 1",
                "machvm_calls_seconds_count{call=\"vm_read\",kern=\"KERN_SUCCESS\"} 1",
                "machvm_calls_seconds_count{call=\"vm_write\",kern=\"KERN_INVALID_ADDRESS\"} 1",
                "machvm_calls_seconds_count{call=\"vm_write\",kern=\"KERN_SUCCESS\"} 2",
                // 64MB = 4096 arm64 pages; two written, then shared by the whole-page copy
                "machvm_pages_free 4094.0",
                "machvm_pages_resident 2.0",
                "machvm_pages_shared 2.0",
                "machvm_store_capacity_bytes 6.7108864E7",
                "machvm_tasks 1.0",
                // per tenant: a page shared copy-on-write counts in every task that maps it, as in task info
                "machvm_tenant_map_entries{tenant=\"default\"} 2.0",
                "machvm_tenant_resident_bytes{tenant=\"default\"} 65536.0",
                "machvm_tenant_tasks{tenant=\"default\"} 1.0");
        assertThat(scrape).contains("# TYPE machvm_calls_seconds summary", "# TYPE machvm_bytes_total counter",
                "# TYPE machvm_tasks gauge", "# TYPE machvm_store_capacity_bytes gauge");
        assertThat(scrape.lines().filter(line -> line.startsWith("machvm_calls_seconds_sum{"))).hasSize(8);
    }
}
