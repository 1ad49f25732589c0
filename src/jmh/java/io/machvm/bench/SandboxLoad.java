package io.machvm.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Load measurements of the sandbox features against a running server on this machine (loopback only), with the
 * server's CPU time read from {@code /proc/<pid>/stat}:
 *
 * <ul>
 *   <li>{@code batch}: 100 x vm_write of 4 KiB as 100 single requests (application/octet-stream, one keep-alive
 *       connection) against one {@code POST /tasks/{task}/batch} of 100 vm_write calls (base64), plain and atomic;
 *       wall time and server CPU time per 100 writes.</li>
 *   <li>{@code fork}: a task with 1 GiB resident forked over HTTP ({@code POST /tasks {"parent"}}), then the child
 *       terminated; wall time of each, and the store's resident pages before and after.</li>
 * </ul>
 *
 * <pre>
 * java -cp target/benchmarks.jar io.machvm.bench.SandboxLoad batch|fork http://localhost:8080 SERVER_PID [seconds]
 * </pre>
 */
public final class SandboxLoad {
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private static final long MIN = 0x1_0000_0000L;
    private static final Pattern RESIDENT = Pattern.compile("\"residentPages\":(\\d+)");

    private final String base;
    private final long pid;

    private SandboxLoad(String base, long pid) {
        this.base = base;
        this.pid = pid;
    }

    public static void main(String[] args) throws Exception {
        SandboxLoad load = new SandboxLoad(args[1], Long.parseLong(args[2]));
        int seconds = args.length > 3 ? Integer.parseInt(args[3]) : 60;
        switch (args[0]) {
            case "batch" -> load.batch(seconds);
            case "fork" -> load.fork();
            default -> throw new IllegalArgumentException("batch or fork, not " + args[0]);
        }
    }

    // ---------------------------------------------------------------- batch vs single calls

    private void batch(int seconds) throws Exception {
        String task = "bench-batch-" + System.nanoTime();
        expect(201, send("PUT", "/tasks/" + task, "application/json", "{}".getBytes(StandardCharsets.UTF_8)));
        int pages = 100;
        int pageSize = 16384;
        expect(201, send("POST", "/tasks/" + task + "/allocate", "application/json",
                ("{\"address\":\"0x100000000\",\"size\":" + pages * pageSize + "}").getBytes(StandardCharsets.UTF_8)));
        byte[] data = new byte[4096];
        Arrays.fill(data, (byte) 0x5a);
        StringBuilder calls = new StringBuilder();
        String b64 = Base64.getEncoder().encodeToString(data);
        for (int i = 0; i < pages; i++) {
            calls.append(i == 0 ? "" : ",").append("{\"call\":\"vm_write\",\"address\":\"0x")
                    .append(Long.toHexString(MIN + (long) i * pageSize)).append("\",\"data\":\"").append(b64)
                    .append("\"}");
        }
        byte[] plainBatch = ("{\"calls\":[" + calls + "]}").getBytes(StandardCharsets.UTF_8);
        byte[] atomicBatch = ("{\"atomic\":true,\"calls\":[" + calls + "]}").getBytes(StandardCharsets.UTF_8);
        String[] paths = new String[pages];
        for (int i = 0; i < pages; i++) {
            paths[i] = "/tasks/" + task + "/memory/0x" + Long.toHexString(MIN + (long) i * pageSize);
        }
        Runnable singles = () -> {
            for (String path : paths) {
                expect(204, send("PUT", path, "application/octet-stream", data));
            }
        };
        Runnable plain = () -> expect(200, send("POST", "/tasks/" + task + "/batch", "application/json", plainBatch));
        Runnable atomic = () -> expect(200, send("POST", "/tasks/" + task + "/batch", "application/json",
                atomicBatch));

        System.out.printf("warm-up: %d s of the three forms interleaved%n", seconds / 2);
        long warmEnd = System.nanoTime() + seconds / 2 * 1_000_000_000L;
        while (System.nanoTime() < warmEnd) {
            singles.run();
            plain.run();
            atomic.run();
        }
        // Interleaved rounds, so that the machine's background load falls on all three alike.
        long[] wall = new long[3];
        long[] cpu = new long[3];
        int rounds = 0;
        Runnable[] forms = {singles, plain, atomic};
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < end) {
            for (int f = 0; f < forms.length; f++) {
                long cpu0 = serverCpuNanos();
                long t0 = System.nanoTime();
                forms[f].run();
                wall[f] += System.nanoTime() - t0;
                cpu[f] += serverCpuNanos() - cpu0;
            }
            rounds++;
        }
        String[] names = {"100 single PUT /memory (octet-stream)", "1 batch of 100 vm_write (base64)",
            "1 atomic batch of 100 vm_write (base64)"};
        System.out.printf("%d rounds of 100 x vm_write of 4 KiB each form, %d s, load average %s%n", rounds, seconds,
                Files.readString(Path.of("/proc/loadavg")).strip());
        for (int f = 0; f < forms.length; f++) {
            System.out.printf("  %-42s wall %8.3f ms  server CPU %8.3f ms  per 100 writes (%.1f us CPU per write)%n",
                    names[f], wall[f] / 1e6 / rounds, cpu[f] / 1e6 / rounds, cpu[f] / 1e3 / rounds / 100);
        }
        System.out.printf("  batch / singles: wall %.2fx, server CPU %.2fx less%n", (double) wall[0] / wall[1],
                (double) cpu[0] / cpu[1]);
        expect(204, send("DELETE", "/tasks/" + task, null, null));
    }

    // ---------------------------------------------------------------- fork of 1 GiB over HTTP

    private void fork() {
        String task = "bench-fork-" + System.nanoTime();
        expect(201, send("PUT", "/tasks/" + task, "application/json", "{}".getBytes(StandardCharsets.UTF_8)));
        long size = 1L << 30;
        expect(201, send("POST", "/tasks/" + task + "/allocate", "application/json",
                ("{\"address\":\"0x100000000\",\"size\":" + size + "}").getBytes(StandardCharsets.UTF_8)));
        byte[] chunk = new byte[64 << 20];
        for (long at = 0; at < size; at += chunk.length) {
            Arrays.fill(chunk, (byte) (at >>> 26));
            expect(204, send("PUT", "/tasks/" + task + "/memory/0x" + Long.toHexString(MIN + at),
                    "application/octet-stream", chunk));
        }
        int rounds = 30;
        long[] forkWall = new long[rounds];
        long[] terminateWall = new long[rounds];
        long[] forkCpu = new long[rounds];
        long resident = resident();
        for (int i = -10; i < rounds; i++) {
            long cpu0 = serverCpuNanos();
            long t0 = System.nanoTime();
            String body = expect(201, send("POST", "/tasks", "application/json",
                    ("{\"parent\":\"" + task + "\"}").getBytes(StandardCharsets.UTF_8)));
            long t1 = System.nanoTime();
            long cpu1 = serverCpuNanos();
            String child = body.replaceAll(".*\"id\":\"([^\"]+)\".*", "$1");
            if (resident() != resident) {
                throw new IllegalStateException("the fork copied pages");
            }
            long t2 = System.nanoTime();
            expect(204, send("DELETE", "/tasks/" + child, null, null));
            long t3 = System.nanoTime();
            if (i >= 0) {
                forkWall[i] = t1 - t0;
                forkCpu[i] = cpu1 - cpu0;
                terminateWall[i] = t3 - t2;
            }
        }
        Arrays.sort(forkWall);
        Arrays.sort(forkCpu);
        Arrays.sort(terminateWall);
        System.out.printf("fork over HTTP of a task with 1 GiB resident (%,d pages), %d rounds after 10 warm-up:%n",
                resident, rounds);
        System.out.printf("  POST /tasks {\"parent\"}   wall median %.2f ms (min %.2f, max %.2f); server CPU median "
                + "%.2f ms (10 ms resolution)%n", forkWall[rounds / 2] / 1e6, forkWall[0] / 1e6,
                forkWall[rounds - 1] / 1e6, forkCpu[rounds / 2] / 1e6);
        System.out.printf("  DELETE /tasks/{child}    wall median %.2f ms%n", terminateWall[rounds / 2] / 1e6);
        System.out.printf("  residentPages before and after every fork: %,d%n", resident);
        expect(204, send("DELETE", "/tasks/" + task, null, null));
    }

    private long resident() {
        Matcher m = RESIDENT.matcher(expect(200, send("GET", "/host/statistics", null, null)));
        if (!m.find()) {
            throw new IllegalStateException("no residentPages");
        }
        return Long.parseLong(m.group(1));
    }

    // ---------------------------------------------------------------- plumbing

    /** The server's user + system CPU time from /proc (clock ticks of 10 ms). */
    private long serverCpuNanos() {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) * 10_000_000L;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the server's CPU time: " + e);
        }
    }

    private HttpResponse<String> send(String method, String path, String contentType, byte[] body) {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create(base + path)).method(method,
                body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        if (contentType != null) {
            r.header("Content-Type", contentType);
        }
        try {
            return CLIENT.send(r.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String expect(int status, HttpResponse<String> response) {
        if (response.statusCode() != status) {
            throw new IllegalStateException("expected " + status + ": " + response.statusCode() + " "
                    + response.body());
        }
        return response.body();
    }
}
