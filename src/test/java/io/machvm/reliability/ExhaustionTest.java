package io.machvm.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import tools.jackson.databind.JsonNode;

/**
 * Exhaustion: with a 4 MB page store, filling memory answers {@code 507 KERN_RESOURCE_SHORTAGE} (never an
 * OutOfMemoryError, never a dead server), calls that need no new page still work, and freeing pages (deallocate) or
 * terminating tasks makes the memory usable again. The task limit (5) behaves the same way.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ExhaustionTest extends SmallStoreTestBase {
    private static final long P = ARM_PAGE;
    private static final int CAPACITY_PAGES = (int) (CAPACITY / P);

    @Test
    void fillingThePageStoreAnswers507AndFreeingPagesOrTasksMakesItUsableAgain() {
        String t = task("ex-fill");
        allocate(t, MIN, 2L * CAPACITY); // address space costs nothing until written
        // Fill with 1 MB writes (streamed) until one is refused, then page by page (in place) until one is refused.
        long at = MIN;
        Client.Result refused = null;
        for (int i = 0; i < 10 && refused == null; i++) {
            Client.Result r = write(t, at, pattern(1 << 20, i));
            if (r.status() == 204) {
                at += 1 << 20;
            } else {
                refused = r;
            }
        }
        assertThat(refused).as("a 4 MB store refuses a fifth megabyte").isNotNull();
        refused.expectProblem(507, "KERN_RESOURCE_SHORTAGE");
        int pages = (int) ((at - MIN) / P);
        while (true) {
            Client.Result r = write(t, MIN + pages * P, pattern((int) P, pages));
            if (r.status() != 204) {
                r.expectProblem(507, "KERN_RESOURCE_SHORTAGE");
                break;
            }
            pages++;
        }
        JsonNode full = statistics();
        assertThat(pages).as("every page of the capacity was usable").isEqualTo(CAPACITY_PAGES);
        assertThat(full.path("residentPages").asLong()).isEqualTo(CAPACITY_PAGES);
        assertThat(full.path("freePages").asLong()).isZero();

        // Full: everything that needs a page is refused the same way, in every form and flavor…
        write(t, MIN + pages * P, new byte[1]).expectProblem(507, "KERN_RESOURCE_SHORTAGE");
        call(t, "copy", "{\"sourceAddress\":\"" + hex(MIN + 1) + "\",\"size\":\"0x100\",\"destAddress\":\""
                + hex(MIN + pages * P) + "\"}").expectProblem(507, "KERN_RESOURCE_SHORTAGE");
        http.json("PUT", "/tasks/" + t + "/memory/" + hex(MIN + pages * P), "{\"data\":\"AAEC\"}")
                .expectProblem(507, "KERN_RESOURCE_SHORTAGE");
        String x86 = task("ex-x86", "x86_64");
        allocate(x86, MIN, 1 << 20);
        write(x86, MIN, new byte[100]).expectProblem(507, "KERN_RESOURCE_SHORTAGE");
        call(t, "read-overwrite", "{\"address\":\"" + hex(MIN) + "\",\"size\":\"0x1000\",\"destTask\":\"" + x86
                + "\",\"destAddress\":\"" + hex(MIN) + "\"}").expectProblem(507, "KERN_RESOURCE_SHORTAGE");

        // …while what needs no new page still works: reads, maps, protections, copy-on-write sharing.
        assertThat(read(t, MIN + 5, 10)).isEqualTo(java.util.Arrays.copyOfRange(pattern(1 << 20, 0), 5, 15));
        allocate(t, MIN + 4 * CAPACITY, 64 * P);
        protect(t, MIN + 4 * CAPACITY, 64 * P, false, "r--");
        call(t, "copy", "{\"sourceAddress\":\"" + hex(MIN) + "\",\"size\":\"" + hex(16 * P) + "\",\"destAddress\":\""
                + hex(MIN + pages * P) + "\"}").expect(204);
        assertThat(statistics().path("sharedPages").asLong()).isEqualTo(16);
        JsonNode health = http.get("/actuator/health").expect(200).json();
        assertThat(health.path("status").asString()).isEqualTo("UP");
        http.get("/actuator/health/readiness").expect(200);

        // Deallocating pages makes room again.
        call(t, "deallocate", "{\"address\":\"" + hex(MIN + 32 * P) + "\",\"size\":\"" + hex(64 * P) + "\"}")
                .expect(204);
        assertThat(statistics().path("freePages").asLong()).isEqualTo(64);
        write(t, MIN + 40 * P, pattern((int) (8 * P), 77)).expectProblem(404, "KERN_INVALID_ADDRESS");
        allocate(t, MIN + 32 * P, 64 * P);
        write(t, MIN + 32 * P, pattern((int) (64 * P), 78)).expect(204);
        write(t, MIN + 3 * P, new byte[1]).expectProblem(507, "KERN_RESOURCE_SHORTAGE"); // a shared page: needs a copy

        // Terminating the task makes all of it usable again, by any flavor.
        http.send("DELETE", "/tasks/" + t, null).expect(204);
        JsonNode empty = statistics();
        assertThat(empty.path("residentPages").asLong()).isZero();
        assertThat(empty.path("sharedPages").asLong()).isZero();
        write(x86, MIN, pattern(1 << 20, 5)).expect(204);
        String again = task("ex-again");
        allocate(again, MIN, CAPACITY);
        write(again, MIN, pattern((int) MAX_TRANSFER, 6)).expect(204);
        write(again, MIN + MAX_TRANSFER, pattern((int) (MAX_TRANSFER - (1 << 20)), 7)).expect(204);
        write(again, MIN + CAPACITY - P, new byte[1]).expectProblem(507, "KERN_RESOURCE_SHORTAGE");
        assertAccountingMatches();
    }

    @Test
    void theTaskLimitAnswers507AndTerminatingATaskMakesRoom() throws Exception {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < MAX_TASKS - 1; i++) {
            ids.add(task("ex-limit-" + i));
        }
        Client.Result minted = http.json("POST", "/tasks", "{}").expect(201);
        ids.add(minted.json().path("id").asString());
        assertThat(statistics().path("tasks").asInt()).isEqualTo(MAX_TASKS);

        http.json("POST", "/tasks", "{}").expectProblem(507, "KERN_RESOURCE_SHORTAGE");
        http.json("PUT", "/tasks/ex-limit-extra", "{}").expectProblem(507, "KERN_RESOURCE_SHORTAGE");
        http.json("PUT", "/tasks/" + ids.get(0), "{\"flavor\":\"arm64\"}").expect(200); // it exists: no new slot
        assertThat(http.get("/tasks").expect(200).json().size()).isEqualTo(MAX_TASKS);

        http.send("DELETE", "/tasks/" + ids.get(2), null).expect(204);
        http.json("PUT", "/tasks/ex-limit-extra", "{}").expect(201);
        http.json("POST", "/tasks", "{}").expectProblem(507, "KERN_RESOURCE_SHORTAGE");

        // Racing for the last two slots: exactly two creations win, and the limit is never exceeded.
        http.send("DELETE", "/tasks/ex-limit-extra", null).expect(204);
        http.send("DELETE", "/tasks/" + ids.get(3), null).expect(204);
        AtomicInteger created = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        List<Thread> racers = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            int n = i;
            racers.add(Thread.ofVirtual().start(() -> {
                Client.Result r = n % 2 == 0 ? http.json("POST", "/tasks", "{}")
                        : http.json("PUT", "/tasks/ex-race-" + n, "{}");
                if (r.status() == 201) {
                    created.incrementAndGet();
                } else {
                    r.expectProblem(507, "KERN_RESOURCE_SHORTAGE");
                    refused.incrementAndGet();
                }
            }));
        }
        for (Thread racer : racers) {
            racer.join();
        }
        assertThat(created.get()).isEqualTo(2);
        assertThat(refused.get()).isEqualTo(14);
        assertThat(registry.size()).isEqualTo(MAX_TASKS);
        assertThat(statistics().path("tasks").asInt()).isEqualTo(MAX_TASKS);
    }

    @Test
    void aForkRefusedAtTheTaskLimitLeavesItsParentAsItWas() {
        String parent = task("ex-fork-parent");
        allocate(parent, MIN, 4 * P);
        call(parent, "inherit", "{\"address\":\"" + hex(MIN) + "\",\"size\":\"" + hex(2 * P)
                + "\",\"inheritance\":\"share\"}").expect(204);
        for (int i = 1; i < MAX_TASKS; i++) {
            task("ex-fork-filler-" + i);
        }
        String before = http.get("/tasks/" + parent + "/regions").expect(200).text();
        assertThat(before).doesNotContain("\"shared\":true");

        http.json("POST", "/tasks", "{\"parent\":\"" + parent + "\"}").expectProblem(507, "KERN_RESOURCE_SHORTAGE");
        http.json("PUT", "/tasks/ex-fork-child", "{\"parent\":\"" + parent + "\"}")
                .expectProblem(507, "KERN_RESOURCE_SHORTAGE");

        assertThat(http.get("/tasks/" + parent + "/regions").expect(200).text())
                .as("the parent's share range is not marked shared by a fork that did not happen").isEqualTo(before);
        http.send("DELETE", "/tasks/ex-fork-filler-1", null).expect(204);
        http.json("PUT", "/tasks/ex-fork-child", "{\"parent\":\"" + parent + "\"}").expect(201);
        assertThat(http.get("/tasks/" + parent + "/regions").expect(200).text()).contains("\"shared\":true");
    }
}
