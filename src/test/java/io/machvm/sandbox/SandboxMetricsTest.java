package io.machvm.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Every sandbox endpoint is timed as its call in {@code machvm.calls}, with the call's kern. */
class SandboxMetricsTest extends SandboxTestSupport {

    /** {@code machvm_calls_seconds_count} by {@code call/kern}. */
    private Map<String, Long> counts() {
        Map<String, Long> counts = new HashMap<>();
        String scrape = get("/actuator/prometheus").expect(200).text();
        for (String line : scrape.lines().toList()) {
            if (line.startsWith("machvm_calls_seconds_count{")) {
                String call = line.replaceAll(".*call=\"([^\"]+)\".*", "$1");
                String kern = line.replaceAll(".*kern=\"([^\"]+)\".*", "$1");
                counts.put(call + "/" + kern, Long.parseLong(line.substring(line.lastIndexOf(' ') + 1)));
            }
        }
        return counts;
    }

    @Test
    void eachEndpointIsTimedAsItsCall() {
        String task = newTask();
        allocate(task, MIN, PAGE);
        Map<String, Long> before = counts();

        String child = json("POST", "/tasks", "{\"parent\":\"" + task + "\"}").expect(201).json().path("id")
                .asString();
        json("POST", "/tasks", "{\"parent\":\"" + newId("none") + "\"}").expect(404);
        byte[] image = snapshot(task);
        send("GET", "/tasks/" + task + "/snapshot?clearDirty=true", null, null).expect(200);
        String restored = send("POST", "/tasks", IMAGE, image).expect(201).json().path("id").asString();
        image[image.length / 2] ^= 1;
        send("POST", "/tasks", IMAGE, image).expect(400);
        get("/tasks/" + task + "/pages?address=0x100000000&size=1").expect(200);
        send("DELETE", "/tasks/" + task + "/pages/dirty", null, null).expect(204);
        json("POST", "/tasks/" + task + "/batch", "{\"calls\":[{\"call\":\"vm_region\",\"address\":0}]}").expect(200);
        json("POST", "/tasks/" + task + "/batch", "{\"atomic\":true,\"calls\":[{\"call\":\"vm_write\",\"address\":0,"
                + "\"data\":\"AA==\"}]}").expect(404);

        Map<String, Long> after = counts();
        Map<String, Long> expected = Map.of(
                "task_fork/KERN_SUCCESS", 1L,
                "task_fork/MACH_SEND_INVALID_DEST", 1L,
                "task_snapshot/KERN_SUCCESS", 2L,
                "task_restore/KERN_SUCCESS", 1L,
                "task_restore/KERN_INVALID_ARGUMENT", 1L,
                "vm_page_range_query/KERN_SUCCESS", 1L,
                "vm_dirty_clear/KERN_SUCCESS", 1L,
                "batch/KERN_SUCCESS", 1L,
                "batch/KERN_INVALID_ADDRESS", 1L,
                "vm_region/KERN_SUCCESS", 1L);
        expected.forEach((series, delta) -> assertThat(after.getOrDefault(series, 0L)
                - before.getOrDefault(series, 0L)).as(series).isEqualTo(delta));
        assertThat(after.getOrDefault("vm_write/KERN_INVALID_ADDRESS", 0L)
                - before.getOrDefault("vm_write/KERN_INVALID_ADDRESS", 0L)).as("the call inside the batch").isOne();
        terminate(restored);
        terminate(child);
        terminate(task);
    }
}
