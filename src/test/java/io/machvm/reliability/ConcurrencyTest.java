package io.machvm.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.vm.KernException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Concurrency: 16 virtual threads (half through HTTP, half through {@code VmService}) issue random mixed calls on
 * three shared tasks (two arm64, one x86_64) for {@code machvm.stress.seconds} (default 8), including cross-task
 * vm_read_overwrite, vm_copy, protect and allocate/deallocate churn, and task creation at the task limit.
 *
 * <p>Every result must be explainable by some serial order per task. Writers only write whole 4 KiB blocks filled with
 * one (writer, sequence) stamp, and copies move whole blocks, so in any serial order every block holds one stamp that
 * was issued (or zeros): a read that sees a mixed or unknown block saw a torn call. The 128 KiB zone Z is only ever
 * written, copied and read whole, so every read of Z sees one stamp across all of it (atomic writes and copies, also
 * through the streaming write path). Error answers must be the ones some order explains (a write to the churned region
 * may find it unmapped or read-only, never anything else). At the end the page handles of the maps equal the stores'
 * reference counts: no page leaked or released twice.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ConcurrencyTest extends SmallStoreTestBase {
    private static final long SEED = Long.getLong("machvm.stress.seed", new SecureRandom().nextLong());
    private static final int SECONDS = Integer.getInteger("machvm.stress.seconds", 8);
    private static final int THREADS = 16;
    private static final int BLOCK = 4096;
    /** General region: 64 blocks, always mapped rw-. */
    private static final long G = MIN;
    private static final int G_BLOCKS = 64;
    /** Atomic zone: 32 blocks, written, copied and read only whole. */
    private static final long Z = MIN + (1 << 20);
    private static final int Z_BLOCKS = 32;
    /** Churned region: 16 blocks, deallocated, reallocated and protected r--/rw- at random. */
    private static final long C = MIN + (2 << 20);
    private static final int C_BLOCKS = 16;
    private static final String[] TASKS = {"cc-arm-a", "cc-arm-b", "cc-x86"};

    /** The highest sequence each writer has issued. */
    private final AtomicLongArray issued = new AtomicLongArray(THREADS);
    private final List<String> violations = Collections.synchronizedList(new ArrayList<>());
    private final Map<String, AtomicLong> outcomes = new ConcurrentHashMap<>();

    @Test
    void randomMixedCallsOnSharedTasksAreSeriallyExplainableAndLeakNoPage() throws Exception {
        System.out.println("ConcurrencyTest: " + THREADS + " threads for " + SECONDS + " s, seed " + SEED
                + " (-Dmachvm.stress.seed=" + SEED + ")");
        task(TASKS[0], "arm64");
        task(TASKS[1], "arm64");
        task(TASKS[2], "x86_64");
        for (String t : TASKS) {
            allocate(t, G, (long) G_BLOCKS * BLOCK);
            allocate(t, Z, (long) Z_BLOCKS * BLOCK);
            allocate(t, C, (long) C_BLOCKS * BLOCK);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(SECONDS);
        List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < THREADS; w++) {
            int writer = w;
            threads.add(Thread.ofVirtual().name("stress-" + w).start(() -> run(writer, deadline)));
        }
        for (Thread thread : threads) {
            thread.join(TimeUnit.SECONDS.toMillis(SECONDS + 60L));
            assertThat(thread.isAlive()).as(thread.getName() + " is stuck").isFalse();
        }
        System.out.println("ConcurrencyTest: outcomes " + new TreeMap<>(outcomes));
        // Quiescent: every block of every task is still explainable.
        for (String t : TASKS) {
            check("final read of G", t, G, readWhole(t, G, G_BLOCKS), G_BLOCKS, false);
            check("final read of Z", t, Z, readWhole(t, Z, Z_BLOCKS), Z_BLOCKS, true);
        }
        if (!violations.isEmpty()) {
            throw new AssertionError(violations.size() + " violation(s) (seed " + SEED + ", -Dmachvm.stress.seed="
                    + SEED + "):\n  " + String.join("\n  ", violations.subList(0, Math.min(20, violations.size()))));
        }
        assertThat(outcomes.keySet()).as("the run exercised the calls").contains("write G 204", "read Z 200",
                "read-overwrite G 200", "copy G 204", "write Z 204");
        assertAccountingMatches();
        terminateAllTasks();
        assertAccountingMatches();
        assertThat(statistics().path("residentPages").asLong()).as("resident pages once every task is gone").isZero();
    }

    private byte[] readWhole(String t, long address, int blocks) {
        return read(t, address, (long) blocks * BLOCK);
    }

    // ---------------------------------------------------------------- one thread

    private void run(int writer, long deadline) {
        Random r = new Random(SEED * 31 + writer);
        boolean viaHttp = writer < THREADS / 2;
        Client client = new Client(port);
        try {
            while (System.nanoTime() < deadline && violations.size() < 20) {
                String t = TASKS[r.nextInt(TASKS.length)];
                int op = r.nextInt(100);
                if (op < 22) {
                    int b = r.nextInt(G_BLOCKS);
                    int k = 1 + r.nextInt(Math.min(8, G_BLOCKS - b));
                    outcome("write G", write(client, viaHttp, t, G + (long) b * BLOCK, stamped(writer, k)), 204);
                } else if (op < 40) {
                    int b = r.nextInt(G_BLOCKS);
                    int k = 1 + r.nextInt(Math.min(16, G_BLOCKS - b));
                    Object got = read(client, viaHttp, t, G + (long) b * BLOCK, k);
                    if (got instanceof byte[] bytes) {
                        check("read of G", t, G + (long) b * BLOCK, bytes, k, false);
                        outcome("read G", 200, 200);
                    } else {
                        outcome("read G", (Integer) got, 200);
                    }
                } else if (op < 50) {
                    int k = 1 + r.nextInt(8);
                    int s = r.nextInt(G_BLOCKS - k + 1);
                    int d = r.nextInt(G_BLOCKS - k + 1);
                    if (r.nextInt(3) == 0) { // page-aligned on both flavors: shared copy-on-write on arm64
                        s &= ~3;
                        d &= ~3;
                        k = (k + 3) & ~3;
                        s = Math.min(s, G_BLOCKS - k);
                        d = Math.min(d, G_BLOCKS - k);
                    }
                    outcome("copy G", copy(client, viaHttp, t, G + (long) s * BLOCK, (long) k * BLOCK,
                            G + (long) d * BLOCK), 204);
                } else if (op < 60) {
                    int k = 1 + r.nextInt(8);
                    int s = r.nextInt(G_BLOCKS - k + 1);
                    int d = r.nextInt(G_BLOCKS - k + 1);
                    String dest = TASKS[r.nextInt(TASKS.length)];
                    outcome("read-overwrite G", readOverwrite(client, viaHttp, t, G + (long) s * BLOCK,
                            (long) k * BLOCK, dest, G + (long) d * BLOCK), 200);
                } else if (op < 66) {
                    outcome("write Z", write(client, viaHttp, t, Z, stamped(writer, Z_BLOCKS)), 204);
                } else if (op < 74) {
                    Object got = read(client, viaHttp, t, Z, Z_BLOCKS);
                    if (got instanceof byte[] bytes) {
                        check("read of Z", t, Z, bytes, Z_BLOCKS, true);
                        outcome("read Z", 200, 200);
                    } else {
                        outcome("read Z", (Integer) got, 200);
                    }
                } else if (op < 78) {
                    String dest = TASKS[r.nextInt(TASKS.length)];
                    outcome("read-overwrite Z", readOverwrite(client, viaHttp, t, Z, (long) Z_BLOCKS * BLOCK, dest, Z),
                            200);
                } else if (op < 94) {
                    churn(client, viaHttp, r, t, writer);
                } else if (viaHttp) {
                    scratchTask(client, writer);
                } else {
                    outcome("regions", client.get("/tasks/" + t + "/regions").status(), 200);
                }
            }
        } catch (Throwable e) {
            violations.add("thread " + writer + " failed: " + e);
        }
    }

    private void churn(Client client, boolean viaHttp, Random r, String t, int writer) {
        int op = r.nextInt(6);
        String range = "{\"address\":\"" + hex(C) + "\",\"size\":\"" + hex((long) C_BLOCKS * BLOCK) + "\"";
        switch (op) {
            case 0 -> outcome("deallocate C", client.json("POST", "/tasks/" + t + "/deallocate", range + "}").status(),
                    204);
            case 1 -> outcome("allocate C", client.json("POST", "/tasks/" + t + "/allocate", range + "}").status(),
                    201, 409);
            case 2 -> outcome("protect C", client.json("POST", "/tasks/" + t + "/protect", range
                    + ",\"setMaximum\":false,\"protection\":\"" + (r.nextBoolean() ? "r--" : "rw-") + "\"}")
                    .status(), 204, 404);
            case 3, 4 -> {
                int b = r.nextInt(C_BLOCKS);
                int k = 1 + r.nextInt(C_BLOCKS - b);
                outcome("write C", write(client, viaHttp, t, C + (long) b * BLOCK, stamped(writer, k)), 204, 403, 404);
            }
            default -> {
                int b = r.nextInt(C_BLOCKS);
                int k = 1 + r.nextInt(C_BLOCKS - b);
                Object got = read(client, viaHttp, t, C + (long) b * BLOCK, k);
                if (got instanceof byte[] bytes) {
                    check("read of C", t, C + (long) b * BLOCK, bytes, k, false);
                    outcome("read C", 200, 200);
                } else {
                    outcome("read C", (Integer) got, 200, 404);
                }
            }
        }
    }

    /** Creation at the task limit (3 tasks live, limit 5): 201, 200 (someone else made it) or 507. */
    private void scratchTask(Client client, int writer) {
        String id = "cc-scratch-" + (writer % 3);
        int created = client.json("PUT", "/tasks/" + id, "{\"flavor\":\"x86_64\"}").status();
        outcome("create scratch", created, 201, 200, 507, 409);
        int info = client.get("/tasks/" + id).status();
        outcome("info scratch", info, 200, 404);
        outcome("delete scratch", client.send("DELETE", "/tasks/" + id, null).status(), 204, 404);
    }

    // ---------------------------------------------------------------- calls through HTTP or VmService

    private int write(Client client, boolean viaHttp, String t, long address, byte[] data) {
        if (viaHttp) {
            return client.octets("PUT", "/tasks/" + t + "/memory/" + hex(address), data).status();
        }
        return status(() -> {
            if (data.length > 64 * 1024) {
                try {
                    service.write(t, address, new ByteArrayInputStream(data), data.length);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            } else {
                service.write(t, address, data);
            }
        }, 204);
    }

    /** The bytes, or the failure's HTTP status. */
    private Object read(Client client, boolean viaHttp, String t, long address, int blocks) {
        long size = (long) blocks * BLOCK;
        if (viaHttp) {
            Client.Result result = client.get("/tasks/" + t + "/memory/" + hex(address) + "?size=" + hex(size));
            return result.status() == 200 ? result.body() : (Object) result.status();
        }
        try {
            return service.read(t, address, size);
        } catch (KernException e) {
            return statusOf(e);
        }
    }

    private int copy(Client client, boolean viaHttp, String t, long source, long size, long dest) {
        if (viaHttp) {
            return client.json("POST", "/tasks/" + t + "/copy", "{\"sourceAddress\":\"" + hex(source) + "\",\"size\":\""
                    + hex(size) + "\",\"destAddress\":\"" + hex(dest) + "\"}").status();
        }
        return status(() -> service.copy(t, source, size, dest), 204);
    }

    private int readOverwrite(Client client, boolean viaHttp, String t, long source, long size, String destTask,
            long dest) {
        if (viaHttp) {
            return client.json("POST", "/tasks/" + t + "/read-overwrite", "{\"address\":\"" + hex(source)
                    + "\",\"size\":\"" + hex(size) + "\",\"destTask\":\"" + destTask + "\",\"destAddress\":\""
                    + hex(dest) + "\"}").status();
        }
        return status(() -> service.readOverwrite(t, source, size, destTask, dest), 200);
    }

    private static int status(Runnable call, int success) {
        try {
            call.run();
            return success;
        } catch (KernException e) {
            return statusOf(e);
        }
    }

    private static int statusOf(KernException e) {
        return switch (e.kern()) {
            case KERN_INVALID_ADDRESS, MACH_SEND_INVALID_DEST -> 404;
            case KERN_PROTECTION_FAILURE -> 403;
            case KERN_NO_SPACE -> 409;
            case KERN_INVALID_ARGUMENT -> 400;
            case KERN_RESOURCE_SHORTAGE -> 507;
            default -> 500;
        };
    }

    private void outcome(String call, int status, int... allowed) {
        outcomes.computeIfAbsent(call + " " + status, k -> new AtomicLong()).incrementAndGet();
        for (int a : allowed) {
            if (a == status) {
                return;
            }
        }
        violations.add(call + " answered " + status + ", which no serial order explains");
    }

    // ---------------------------------------------------------------- stamps

    /** {@code blocks} whole blocks, each filled with one new stamp of {@code writer}. */
    private byte[] stamped(int writer, int blocks) {
        long seq = issued.incrementAndGet(writer);
        long stamp = ((long) (writer + 1) << 48) | seq;
        ByteBuffer out = ByteBuffer.allocate(blocks * BLOCK);
        while (out.hasRemaining()) {
            out.putLong(stamp);
        }
        return out.array();
    }

    /**
     * Each block of {@code bytes} must hold one stamp that was issued (or zeros); with {@code whole}, all blocks the
     * same stamp.
     */
    private void check(String what, String t, long address, byte[] bytes, int blocks, boolean whole) {
        if (bytes.length != blocks * BLOCK) {
            violations.add(what + " in " + t + " returned " + bytes.length + " bytes for " + blocks + " blocks");
            return;
        }
        ByteBuffer in = ByteBuffer.wrap(bytes);
        Set<Long> stamps = new java.util.HashSet<>();
        for (int b = 0; b < blocks; b++) {
            long stamp = in.getLong(b * BLOCK);
            for (int i = 0; i < BLOCK; i += 8) {
                if (in.getLong(b * BLOCK + i) != stamp) {
                    violations.add(what + " in " + t + ": block at " + hex(address + (long) b * BLOCK)
                            + " mixes stamps " + Long.toHexString(stamp) + " and "
                            + Long.toHexString(in.getLong(b * BLOCK + i)) + " (a torn call)");
                    return;
                }
            }
            if (stamp != 0) {
                int writer = (int) (stamp >>> 48) - 1;
                long seq = stamp & 0xFFFF_FFFF_FFFFL;
                if (writer < 0 || writer >= THREADS || seq < 1 || seq > issued.get(writer)) {
                    violations.add(what + " in " + t + ": block at " + hex(address + (long) b * BLOCK)
                            + " holds " + Long.toHexString(stamp) + ", which nobody wrote");
                    return;
                }
            }
            stamps.add(stamp);
        }
        if (whole && stamps.size() > 1) {
            violations.add(what + " in " + t + " sees " + stamps.size() + " different stamps across the zone "
                    + "(a write or copy of the whole zone was not atomic)");
        }
    }
}
