package io.machvm.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** The handoff fence: calls share a task's stripe, a handoff holds it alone and is not starved by a stream of calls. */
class FencesTest {
    private final Fences fences = new Fences();

    @Test
    void callsShareAndAHandoffWaitsForThem() throws Exception {
        AutoCloseable call = fences.hold(List.of("a"), false, Duration.ofSeconds(1));
        AutoCloseable other = fences.hold(List.of("a", "b"), false, Duration.ofSeconds(1));
        assertThatThrownBy(() -> fences.hold(List.of("a"), true, Duration.ofMillis(50)))
                .isInstanceOf(Fences.Busy.class);
        call.close();
        other.close();
        try (AutoCloseable handoff = fences.hold(List.of("a"), true, Duration.ofSeconds(1))) {
            // a call on the task (another request thread) waits, then gives up with Busy (answered 503)
            CompletableFuture<Throwable> call2 = new CompletableFuture<>();
            Thread.ofPlatform().start(() -> {
                try {
                    fences.hold(List.of("a"), false, Duration.ofMillis(50)).close();
                    call2.complete(null);
                } catch (Throwable t) {
                    call2.complete(t);
                }
            });
            assertThat(call2.get(5, TimeUnit.SECONDS)).isInstanceOf(Fences.Busy.class);
        }
        fences.hold(List.of("a"), false, Duration.ofMillis(50)).close();
    }

    @Test
    void aHandoffGetsInWhileCallsKeepComing() throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch started = new CountDownLatch(4);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
        List<CompletableFuture<Void>> callers = java.util.stream.IntStream.range(0, 4)
                .mapToObj(i -> CompletableFuture.runAsync(() -> {
                    started.countDown();
                    while (!stop.get()) {
                        try (AutoCloseable call = fences.hold(List.of("hot"), false, Duration.ofSeconds(5))) {
                            Thread.sleep(1);
                        } catch (Fences.Busy busy) {
                            // waited behind the handoff: the caller would get 503 and retry
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                    }
                }, pool)).toList();
        assertThat(started.await(5, TimeUnit.SECONDS)).isTrue();
        Thread.sleep(50);
        long start = System.nanoTime();
        try (AutoCloseable handoff = fences.hold(List.of("hot"), true, Duration.ofSeconds(5))) {
            assertThat(System.nanoTime() - start).isLessThan(Duration.ofSeconds(2).toNanos());
        } finally {
            stop.set(true);
            CompletableFuture.allOf(callers.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
            pool.shutdown();
        }
    }
}
