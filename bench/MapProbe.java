import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The parts of bench/run.sh that need many sequential, individually timed HTTP calls to machvm on 127.0.0.1.
 * Run as a single-file program with Java 25: {@code java bench/MapProbe.java COMMAND ARGS}. Prints
 * {@code key=value} result lines on stdout (run.sh appends them to results.env) and progress on stderr.
 *
 * <ul>
 *   <li>{@code scaling URL SIZES ITER ROUNDS}: for each entry count N in SIZES (e.g. 10,1000,100000) builds a
 *       task whose map has N one-page entries separated by N-1 one-page holes (allocate 2N pages, deallocate
 *       every other page), then times vm_region (random address), vm_copy (256 bytes between two random
 *       entries) and vm_allocate ANYWHERE of 2 pages (first fit must skip all N-1 holes; each is deallocated
 *       again, untimed). Rounds interleave the sizes. Reports the client-side median and p99 and the
 *       service-side mean from the machvm.calls timer on /actuator/prometheus.</li>
 *   <li>{@code cow URL TASK SOURCE SIZE REPS}: vm_copy of SIZE bytes at SOURCE (already written) to a page
 *       aligned destination (shares pages copy-on-write) and to one misaligned by one byte (moves bytes),
 *       REPS times in a row each after 3 untimed rounds of both; reports medians and minima.</li>
 *   <li>{@code report RESULTS_ENV OUT_MD}: the markdown results table with ratios and PASS/FAIL.</li>
 * </ul>
 * Every loop is bounded by its arguments; all traffic goes to the URL given, which run.sh sets to 127.0.0.1.
 */
public class MapProbe {
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private static final Duration TIMEOUT = Duration.ofSeconds(120);
    private static final Pattern ADDRESS = Pattern.compile("\"address\"\\s*:\\s*\"(0x[0-9a-fA-F]+)\"");
    private static final Pattern ID = Pattern.compile("\"id\"\\s*:\\s*\"([^\"]+)\"");
    private static final Pattern PAGE_SIZE = Pattern.compile("\"pageSize\"\\s*:\\s*(\\d+)");
    private static final Pattern REGION_COUNT = Pattern.compile("\"regionCount\"\\s*:\\s*(\\d+)");

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            throw new IllegalArgumentException("usage: MapProbe scaling|cow|report ...");
        }
        switch (args[0]) {
            case "scaling" -> scaling(args[1], parseSizes(args[2]), Integer.parseInt(args[3]),
                    Integer.parseInt(args[4]));
            case "cow" -> cow(args[1], args[2], Long.decode(args[3]), Long.decode(args[4]),
                    Integer.parseInt(args[5]));
            case "report" -> Report.write(Path.of(args[1]), Path.of(args[2]));
            default -> throw new IllegalArgumentException("unknown command " + args[0]);
        }
    }

    private static int[] parseSizes(String text) {
        return Arrays.stream(text.split(",")).mapToInt(Integer::parseInt).toArray();
    }

    // ------------------------------------------------------------------ HTTP helpers

    record Reply(int status, String body) {
    }

    static Reply send(String method, String url, String json) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(TIMEOUT);
        if (json != null) {
            b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json));
        } else {
            b.method(method, HttpRequest.BodyPublishers.noBody());
        }
        try {
            HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
            return new Reply(r.statusCode(), r.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static Reply expect(int status, String method, String url, String json) {
        Reply r = send(method, url, json);
        if (r.status() != status) {
            throw new IllegalStateException(method + " " + url + " " + (json == null ? "" : json) + " -> "
                    + r.status() + " " + r.body());
        }
        return r;
    }

    static String find(Pattern p, String text) {
        Matcher m = p.matcher(text);
        if (!m.find()) {
            throw new IllegalStateException("no " + p + " in " + text);
        }
        return m.group(1);
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    static String createTask(String url, String name) {
        return find(ID, expect(201, "POST", url + "/tasks", "{\"name\":\"" + name + "\"}").body());
    }

    static long allocateAnywhere(String url, String task, long size) {
        Reply r = expect(201, "POST", url + "/tasks/" + task + "/allocate",
                "{\"size\":\"" + hex(size) + "\",\"anywhere\":true}");
        return Long.decode(find(ADDRESS, r.body()));
    }

    static void deallocate(String url, String task, long address, long size) {
        expect(204, "POST", url + "/tasks/" + task + "/deallocate",
                "{\"address\":\"" + hex(address) + "\",\"size\":\"" + hex(size) + "\"}");
    }

    static void copy(String url, String task, long source, long size, long dest) {
        expect(204, "POST", url + "/tasks/" + task + "/copy", "{\"sourceAddress\":\"" + hex(source)
                + "\",\"size\":\"" + hex(size) + "\",\"destAddress\":\"" + hex(dest) + "\"}");
    }

    /** The machvm.calls timer's (count, sum seconds) for one call with KERN_SUCCESS, from /actuator/prometheus. */
    static double[] callTimer(String url, String call) {
        String text = expect(200, "GET", url + "/actuator/prometheus", null).body();
        double count = 0;
        double sum = 0;
        for (String line : text.split("\n")) {
            if (!line.startsWith("machvm_calls_seconds_") || !line.contains("call=\"" + call + "\"")
                    || !line.contains("kern=\"KERN_SUCCESS\"")) {
                continue;
            }
            double v = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            if (line.startsWith("machvm_calls_seconds_count{")) {
                count += v;
            } else if (line.startsWith("machvm_calls_seconds_sum{")) {
                sum += v;
            }
        }
        return new double[] {count, sum};
    }

    static double percentile(long[] sorted, double p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    static String us(double nanos) {
        return String.format(Locale.ROOT, "%.1f", nanos / 1000.0);
    }

    // ------------------------------------------------------------------ scaling

    /** A task whose map holds n one-page entries, page 2i of [base, base + 2n pages), with holes between. */
    record Fragmented(int n, String task, long base, long page) {
    }

    static Fragmented fragmented(String url, int n, long page) throws Exception {
        long t0 = System.nanoTime();
        String task = createTask(url, "bench-scaling-" + n);
        long base = allocateAnywhere(url, task, 2L * n * page);
        // punch n-1 one-page holes; the last odd page merges into the free space above
        int workers = Math.min(8, Math.max(1, n / 64));
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> futures = new ArrayList<>();
            for (int w = 0; w < workers; w++) {
                int first = w;
                futures.add(pool.submit(() -> {
                    for (long i = first; i < n; i += workers) {
                        try {
                            deallocate(url, task, base + (2 * i + 1) * page, page);
                        } catch (UncheckedIOException lost) {
                            // The JDK client can lose an answer when it reuses a pooled keep-alive connection at the
                            // moment it sees it close; vm_deallocate is idempotent, so ask again.
                            deallocate(url, task, base + (2 * i + 1) * page, page);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        }
        int regions = Integer.parseInt(find(REGION_COUNT, expect(200, "GET", url + "/tasks/" + task, null).body()));
        if (regions != n) {
            throw new IllegalStateException("task " + task + " has " + regions + " entries, expected " + n);
        }
        System.err.printf(Locale.ROOT, "scaling: %d entries built in %.1f s%n", n, (System.nanoTime() - t0) / 1e9);
        return new Fragmented(n, task, base, page);
    }

    enum Op {
        REGION("vm_region"), COPY("vm_copy"), ALLOCATE("vm_allocate");

        final String call;

        Op(String call) {
            this.call = call;
        }

        String key() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Runs k calls of op on map m; returns the client-side nanos of each timed call. */
    static long[] run(String url, Fragmented m, Op op, int k, SplittableRandom rnd) {
        long[] nanos = new long[k];
        String taskUrl = url + "/tasks/" + m.task();
        for (int j = 0; j < k; j++) {
            long start;
            switch (op) {
                case REGION -> {
                    // any byte of the first 2n-1 pages: an entry, or a hole with an entry above it
                    long address = m.base() + rnd.nextLong((2L * m.n() - 1) * m.page());
                    start = System.nanoTime();
                    expect(200, "GET", taskUrl + "/regions/" + hex(address), null);
                    nanos[j] = System.nanoTime() - start;
                }
                case COPY -> {
                    long src = m.base() + 2L * rnd.nextInt(m.n()) * m.page();
                    long dst = m.base() + 2L * rnd.nextInt(m.n()) * m.page() + 4096;
                    start = System.nanoTime();
                    copy(url, m.task(), src, 256, dst);
                    nanos[j] = System.nanoTime() - start;
                }
                case ALLOCATE -> {
                    start = System.nanoTime();
                    long address = allocateAnywhere(url, m.task(), 2 * m.page());
                    nanos[j] = System.nanoTime() - start;
                    if (address < m.base() + 2L * m.n() * m.page() - m.page()) {
                        throw new IllegalStateException("ANYWHERE landed in a one-page hole at " + hex(address));
                    }
                    deallocate(url, m.task(), address, 2 * m.page());
                }
                default -> throw new IllegalStateException();
            }
        }
        return nanos;
    }

    static void scaling(String url, int[] sizes, int iterations, int rounds) throws Exception {
        long page = Long.parseLong(find(PAGE_SIZE, expect(200, "GET", url + "/host/page-size", null).body()));
        List<Fragmented> maps = new ArrayList<>();
        for (int n : sizes) {
            maps.add(fragmented(url, n, page));
        }
        SplittableRandom rnd = new SplittableRandom(42);
        // warm-up: the same calls, untimed, on every map
        for (Fragmented m : maps) {
            for (Op op : Op.values()) {
                run(url, m, op, iterations, rnd);
            }
        }
        Map<String, List<long[]>> samples = new HashMap<>();
        Map<String, double[]> server = new HashMap<>();
        for (int r = 0; r < rounds; r++) {
            for (Fragmented m : maps) {
                for (Op op : Op.values()) {
                    String key = op.key() + "." + m.n();
                    double[] before = callTimer(url, op.call);
                    long[] nanos = run(url, m, op, iterations, rnd);
                    double[] after = callTimer(url, op.call);
                    samples.computeIfAbsent(key, x -> new ArrayList<>()).add(nanos);
                    double[] acc = server.computeIfAbsent(key, x -> new double[2]);
                    acc[0] += after[0] - before[0];
                    acc[1] += after[1] - before[1];
                }
            }
            System.err.printf(Locale.ROOT, "scaling: round %d/%d done%n", r + 1, rounds);
        }
        for (Fragmented m : maps) {
            for (Op op : Op.values()) {
                String key = op.key() + "." + m.n();
                long[] all = samples.get(key).stream().flatMapToLong(Arrays::stream).sorted().toArray();
                double[] acc = server.get(key);
                double serverMean = acc[0] > 0 ? acc[1] / acc[0] * 1e9 : Double.NaN;
                System.out.println("scaling." + key + ".p50_us=" + us(percentile(all, 50)));
                System.out.println("scaling." + key + ".p99_us=" + us(percentile(all, 99)));
                System.out.println("scaling." + key + ".server_us=" + us(serverMean));
                System.out.println("scaling." + key + ".calls=" + all.length);
            }
        }
        for (Fragmented m : maps) {
            expect(204, "DELETE", url + "/tasks/" + m.task(), null);
        }
    }

    // ------------------------------------------------------------------ copy-on-write

    static void cow(String url, String task, long source, long size, int reps) throws IOException {
        long page = Long.parseLong(find(PAGE_SIZE, expect(200, "GET", url + "/host/page-size", null).body()));
        long aligned = allocateAnywhere(url, task, size);
        long misaligned = allocateAnywhere(url, task, size + page) + 1;
        long[][] nanos = new long[3][reps];
        double[] serverMeanNanos = new double[2];
        try (RawClient raw = new RawClient(url)) {
            for (int r = 0; r < 3; r++) { // warm-up, untimed
                copy(url, task, source, size, aligned);
                copy(url, task, source, size, misaligned);
            }
            for (int i = 0; i < 2000; i++) { // the client's own code, compiled
                raw.send("GET", "/host/page-size", null);
            }
            String copyPath = "/tasks/" + task + "/copy";
            for (int kind = 0; kind < 2; kind++) {
                long dest = kind == 0 ? aligned : misaligned;
                String body = "{\"sourceAddress\":\"" + hex(source) + "\",\"size\":\"" + hex(size)
                        + "\",\"destAddress\":\"" + hex(dest) + "\"}";
                // The service's own time is read from its vm_copy timer around the whole series: a scrape between
                // two copies would disturb the next one (it allocates megabytes).
                double[] before = callTimer(url, "vm_copy");
                for (int r = 0; r < reps; r++) {
                    long start = System.nanoTime();
                    int status = raw.send("POST", copyPath, body);
                    nanos[kind][r] = System.nanoTime() - start;
                    if (status != 204) {
                        throw new IllegalStateException("vm_copy answered " + status);
                    }
                }
                double[] after = callTimer(url, "vm_copy");
                serverMeanNanos[kind] = (after[1] - before[1]) * 1e9 / (after[0] - before[0]);
            }
            for (int r = 0; r < reps; r++) { // the round trip of a call that does nothing, for scale
                long start = System.nanoTime();
                raw.send("GET", "/host/page-size", null);
                nanos[2][r] = System.nanoTime() - start;
            }
        }
        long[] floor = nanos[2].clone();
        Arrays.sort(floor);
        System.out.println("cow.floor.median_ms=" + String.format(Locale.ROOT, "%.3f", percentile(floor, 50) / 1e6));
        String[] names = {"aligned", "misaligned"};
        for (int kind = 0; kind < 2; kind++) {
            long[] sorted = nanos[kind].clone();
            Arrays.sort(sorted);
            System.out.println("cow." + names[kind] + ".median_ms="
                    + String.format(Locale.ROOT, "%.3f", percentile(sorted, 50) / 1e6));
            System.out.println("cow." + names[kind] + ".min_ms="
                    + String.format(Locale.ROOT, "%.3f", sorted[0] / 1e6));
            System.out.println("cow." + names[kind] + ".server_mean_ms="
                    + String.format(Locale.ROOT, "%.3f", serverMeanNanos[kind] / 1e6));
            System.out.println("cow." + names[kind] + ".all_ms=" + Arrays.stream(nanos[kind])
                    .mapToObj(n -> String.format(Locale.ROOT, "%.2f", n / 1e6)).reduce((a, b) -> a + "/" + b)
                    .orElse(""));
        }
        deallocate(url, task, aligned, size);
        deallocate(url, task, misaligned - 1, size + page);
    }

    /**
     * A bare HTTP/1.1 client on one keep-alive socket, for the timed calls: the JDK HttpClient hands each request
     * between threads several times, which on a loaded 2-core machine adds milliseconds that are not the service's.
     */
    static final class RawClient implements AutoCloseable {
        private final java.net.Socket socket;
        private final java.io.BufferedInputStream in;
        private final java.io.OutputStream out;
        private final String host;

        RawClient(String url) throws IOException {
            URI uri = URI.create(url);
            socket = new java.net.Socket(uri.getHost(), uri.getPort());
            socket.setTcpNoDelay(true);
            in = new java.io.BufferedInputStream(socket.getInputStream(), 1 << 16);
            out = socket.getOutputStream();
            host = uri.getHost() + ":" + uri.getPort();
        }

        /** Sends one request and reads the whole answer; returns the status. */
        int send(String method, String path, String json) throws IOException {
            byte[] body = json == null ? new byte[0] : json.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            String head = method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\n"
                    + (json == null ? "" : "Content-Type: application/json\r\n")
                    + "Content-Length: " + body.length + "\r\n\r\n";
            out.write(head.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            String status = line();
            long length = 0;
            for (String h; !(h = line()).isEmpty(); ) {
                if (h.regionMatches(true, 0, "Content-Length:", 0, 15)) {
                    length = Long.parseLong(h.substring(15).trim());
                } else if (h.regionMatches(true, 0, "Transfer-Encoding:", 0, 18)) {
                    throw new IOException("chunked answers are not read by this client: " + h);
                }
            }
            in.skipNBytes(length);
            return Integer.parseInt(status.split(" ")[1]);
        }

        private String line() throws IOException {
            StringBuilder b = new StringBuilder();
            for (int c; (c = in.read()) != '\n'; ) {
                if (c < 0) {
                    throw new IOException("connection closed");
                }
                if (c != '\r') {
                    b.append((char) c);
                }
            }
            return b.toString();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    // ------------------------------------------------------------------ report

    /** Turns results.env (key=value lines from run.sh and this tool) into the markdown results table. */
    static final class Report {
        private final Map<String, String> v = new HashMap<>();
        private final StringBuilder out = new StringBuilder();
        private int pass;
        private int fail;

        static void write(Path env, Path md) throws IOException {
            Report r = new Report();
            for (String line : Files.readAllLines(env)) {
                int eq = line.indexOf('=');
                if (eq > 0 && !line.startsWith("#")) {
                    r.v.put(line.substring(0, eq).trim(), line.substring(eq + 1).trim());
                }
            }
            r.render();
            Files.writeString(md, r.out.toString());
            System.out.print(r.out);
        }

        String s(String key) {
            return v.getOrDefault(key, "n/a");
        }

        double d(String key) {
            String t = v.get(key);
            if (t == null || t.isEmpty()) {
                return Double.NaN;
            }
            try {
                return Double.parseDouble(t);
            } catch (NumberFormatException e) {
                return Double.NaN;
            }
        }

        static String f(double x, int decimals) {
            return Double.isNaN(x) ? "n/a" : String.format(Locale.ROOT, "%,." + decimals + "f", x);
        }

        static String ratio(double a, double b) {
            return Double.isNaN(a) || Double.isNaN(b) || b == 0 ? "n/a" : String.format(Locale.ROOT, "%.2f×", a / b);
        }

        String verdict(boolean ok, boolean known) {
            if (!known) {
                fail++;
                return "**FAIL** (not measured)";
            }
            if (ok) {
                pass++;
                return "PASS";
            }
            fail++;
            return "**FAIL**";
        }

        void line(String text) {
            out.append(text).append('\n');
        }

        void render() {
            line("Run: " + s("run.date") + ", mode " + s("run.mode") + ", machvm " + s("run.commit")
                    + ", " + s("run.cpus") + " cores, load average at start " + s("run.loadavg") + ".");
            line("wrk " + s("run.wrk_threads") + " threads × " + s("run.wrk_connections") + " connections, "
                    + s("run.warmup_s") + " s warm-up + " + s("run.duration_s") + " s measured per row; "
                    + "JVM flags `" + s("run.jvm_flags") + "`; Redis " + s("run.redis_version") + ".");
            line("");
            line("### HTTP load (wrk, loopback, server and load generator share the 2 cores)");
            line("");
            line("| shape | server | req/s | p50 ms | p99 ms | payload MB/s | server CPU µs/req | req/s vs baseline |"
                    + " CPU/req vs baseline |");
            line("|---|---|---:|---:|---:|---:|---:|---:|---:|");
            String[][] shapes = {{"write4k", "vm_write 4 KiB"}, {"read4k", "vm_read 4 KiB"},
                {"copy", "vm_copy 4 KiB (JSON)"}, {"write1m", "vm_write 1 MiB"}, {"read1m", "vm_read 1 MiB"}};
            for (String[] shape : shapes) {
                for (String server : new String[] {"machvm", "baseline"}) {
                    String p = "wrk." + server + "." + shape[0] + ".";
                    String vsRps = server.equals("machvm") ? ratio(d(p + "rps"), d("wrk.baseline." + shape[0] + ".rps"))
                            : "1.00×";
                    String vsCpu = server.equals("machvm")
                            ? ratio(d(p + "cpu_us"), d("wrk.baseline." + shape[0] + ".cpu_us")) : "1.00×";
                    String errors = d(p + "errors") > 0 ? " (" + s(p + "errors") + " errors!)" : "";
                    line("| " + shape[1] + " | " + (server.equals("machvm") ? "machvm" : "empty endpoint") + errors
                            + " | " + f(d(p + "rps"), 0) + " | " + f(d(p + "p50_ms"), 2) + " | " + f(d(p + "p99_ms"), 2)
                            + " | " + f(d(p + "mbps"), 1) + " | " + f(d(p + "cpu_us"), 1) + " | " + vsRps + " | "
                            + vsCpu + " |");
                }
            }
            line("");
            double calls = d("wrk.batch_calls");
            line("### Batches (POST /tasks/{task}/batch, " + f(calls, 0) + " calls of 4 KiB per request, base64 JSON,"
                    + " machvm only)");
            line("");
            line("| calls | batches/s | calls/s | p50 ms | p99 ms | payload MB/s | server CPU µs/call | calls/s vs the "
                    + "empty endpoint's req/s | CPU/call vs the empty endpoint's CPU/req |");
            line("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            String[][] batches = {{"batchwrite4k", "write4k", "vm_write 4 KiB"}, {"batchread4k", "read4k",
                "vm_read 4 KiB"}};
            for (String[] b : batches) {
                String p = "wrk.machvm." + b[0] + ".";
                String errors = d(p + "errors") > 0 ? " (" + s(p + "errors") + " errors!)" : "";
                double callRate = d(p + "rps") * calls;
                double cpuPerCall = d(p + "cpu_us") / calls;
                line("| " + b[2] + " × " + f(calls, 0) + errors + " | " + f(d(p + "rps"), 0) + " | " + f(callRate, 0)
                        + " | " + f(d(p + "p50_ms"), 2) + " | " + f(d(p + "p99_ms"), 2) + " | "
                        + f(d(p + "mbps") * calls, 1) + " | " + f(cpuPerCall, 1) + " | "
                        + ratio(callRate, d("wrk.baseline." + b[1] + ".rps")) + " | "
                        + ratio(cpuPerCall, d("wrk.baseline." + b[1] + ".cpu_us")) + " |");
            }
            line("");
            line("### Redis (redis-benchmark, same concurrency)");
            line("");
            line("| shape | Redis req/s | Redis p50 ms | Redis p99 ms | Redis CPU µs/req | machvm req/s | machvm/Redis "
                    + "req/s | machvm/Redis CPU/req |");
            line("|---|---:|---:|---:|---:|---:|---:|---:|");
            String[][] redis = {{"setrange", "write4k", "SETRANGE 4 KiB vs vm_write 4 KiB"},
                {"getrange", "read4k", "GETRANGE 4 KiB vs vm_read 4 KiB"}};
            for (String[] r : redis) {
                String p = "redis." + r[0] + ".";
                String m = "wrk.machvm." + r[1] + ".";
                line("| " + r[2] + " | " + f(d(p + "rps"), 0) + " | " + f(d(p + "p50_ms"), 2) + " | "
                        + f(d(p + "p99_ms"), 2) + " | " + f(d(p + "cpu_us"), 1) + " | " + f(d(m + "rps"), 0) + " | "
                        + ratio(d(m + "rps"), d(p + "rps")) + " | " + ratio(d(m + "cpu_us"), d(p + "cpu_us")) + " |");
            }
            line("");
            line("### Large transfers (curl, 256 MiB in one request, median of " + s("large.reps") + ")");
            line("");
            line("| transfer | machvm GB/s | runs | machvm server CPU ms | empty endpoint GB/s | empty endpoint CPU ms"
                    + " | machvm / empty GB/s | machvm / empty CPU | machvm heap growth MiB (max during − before) |"
                    + " young GCs |");
            line("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|");
            for (String dir : new String[] {"write", "read"}) {
                String m = "large.machvm." + dir + ".";
                String b = "large.baseline." + dir + ".";
                line("| vm_" + dir + " 256 MiB streamed | " + f(d(m + "gbps"), 2) + " | " + s(m + "all_gbps") + " | "
                        + f(d(m + "cpu_ms"), 0) + " | " + f(d(b + "gbps"), 2) + " | " + f(d(b + "cpu_ms"), 0) + " | "
                        + ratio(d(m + "gbps"), d(b + "gbps")) + " | " + ratio(d(m + "cpu_ms"), d(b + "cpu_ms")) + " | "
                        + f(d("large." + dir + ".heap_growth_mib"), 1) + " | " + s("large." + dir + ".young_gcs") + " |");
            }
            line("");
            line("CPU-bound ceiling (256 MiB / machvm server CPU time): write " + f(0.268435456 / (d("large.machvm.write.cpu_ms")
                    / 1000), 2) + " GB/s, read " + f(0.268435456 / (d("large.machvm.read.cpu_ms") / 1000), 2) + " GB/s.");
            line("");
            line("### Copy-on-write (vm_copy 256 MiB, median of " + s("cow.reps") + ")");
            line("");
            line("| copy | client ms (median) | client ms (min) | service ms (mean) | runs, client ms |");
            line("|---|---:|---:|---:|---|");
            line("| page-aligned (shares pages) | " + s("cow.aligned.median_ms") + " | " + s("cow.aligned.min_ms") + " | "
                    + s("cow.aligned.server_mean_ms") + " | " + s("cow.aligned.all_ms") + " |");
            line("| misaligned by one byte (moves bytes) | " + s("cow.misaligned.median_ms") + " | "
                    + s("cow.misaligned.min_ms") + " | " + s("cow.misaligned.server_mean_ms") + " | "
                    + s("cow.misaligned.all_ms") + " |");
            double cowRatio = d("cow.aligned.median_ms") / d("cow.misaligned.median_ms");
            line("");
            line("aligned / misaligned = " + f(cowRatio, 4) + " (client), "
                    + f(d("cow.aligned.server_mean_ms") / d("cow.misaligned.server_mean_ms"), 4) + " (service)."
                    + " Client times are taken on one keep-alive connection; a call that does nothing (GET"
                    + " /host/page-size) takes " + s("cow.floor.median_ms") + " ms on it (median).");
            line("");
            String[] sizes = s("scaling.sizes").split(",");
            String lo = sizes[0];
            String hi = sizes[sizes.length - 1];
            line("### Map scaling (" + s("scaling.iterations") + " calls × " + s("scaling.rounds")
                    + " rounds per cell, one connection; N one-page entries with N−1 one-page holes)");
            line("");
            StringBuilder head = new StringBuilder("| call |");
            StringBuilder rule = new StringBuilder("|---|");
            for (String n : sizes) {
                head.append(" N=").append(n).append(" p50 µs (service µs) |");
                rule.append("---:|");
            }
            head.append(" ").append(hi).append("/").append(lo).append(" client p50 | ").append(hi).append("/")
                    .append(lo).append(" service |");
            rule.append("---:|---:|");
            line(head.toString());
            line(rule.toString());
            double worstService = 0;
            boolean scalingKnown = true;
            for (Op op : Op.values()) {
                StringBuilder row = new StringBuilder("| " + op.call + (op == Op.ALLOCATE ? " ANYWHERE" : "")
                        + (op == Op.COPY ? " 256 B" : "") + " |");
                for (String n : sizes) {
                    String p = "scaling." + op.key() + "." + n + ".";
                    row.append(' ').append(f(d(p + "p50_us"), 0)).append(" (").append(f(d(p + "server_us"), 1))
                            .append(") |");
                }
                String pl = "scaling." + op.key() + "." + lo + ".";
                String ph = "scaling." + op.key() + "." + hi + ".";
                double serviceRatio = d(ph + "server_us") / d(pl + "server_us");
                scalingKnown &= !Double.isNaN(serviceRatio);
                worstService = Math.max(worstService, Double.isNaN(serviceRatio) ? 0 : serviceRatio);
                row.append(' ').append(ratio(d(ph + "p50_us"), d(pl + "p50_us"))).append(" | ")
                        .append(ratio(d(ph + "server_us"), d(pl + "server_us"))).append(" |");
                line(row.toString());
            }
            double logBound = Math.log(Double.parseDouble(hi)) / Math.log(Double.parseDouble(lo));
            line("");
            line("### Targets");
            line("");
            line("| target | measured | result |");
            line("|---|---|---|");
            double w = d("wrk.machvm.write4k.rps") / d("wrk.baseline.write4k.rps");
            double r = d("wrk.machvm.read4k.rps") / d("wrk.baseline.read4k.rps");
            line("| vm_write 4 KiB ≥ 0.85× empty-endpoint req/s | " + f(w, 2) + "× | "
                    + verdict(w >= 0.85, !Double.isNaN(w)) + " |");
            line("| vm_read 4 KiB ≥ 0.85× empty-endpoint req/s | " + f(r, 2) + "× | "
                    + verdict(r >= 0.85, !Double.isNaN(r)) + " |");
            for (String dir : new String[] {"write", "read"}) {
                double gbps = d("large.machvm." + dir + ".gbps");
                double growth = d("large." + dir + ".heap_growth_mib");
                line("| 256 MiB streamed vm_" + dir + " ≥ 1 GB/s | " + f(gbps, 2) + " GB/s | "
                        + verdict(gbps >= 1.0, !Double.isNaN(gbps)) + " |");
                line("| 256 MiB streamed vm_" + dir + " heap growth < 32 MiB | " + f(growth, 1) + " MiB | "
                        + verdict(growth < 32, !Double.isNaN(growth)) + " |");
            }
            line("| aligned COW vm_copy ≤ 0.05× misaligned | " + f(cowRatio, 4) + "× | "
                    + verdict(cowRatio <= 0.05, !Double.isNaN(cowRatio)) + " |");
            line("| no call slower than O(log entries + pages touched): service time " + hi + "/" + lo + " ≤ log("
                    + hi + ")/log(" + lo + ") = " + f(logBound, 1) + " for vm_region, vm_copy, vm_allocate ANYWHERE | "
                    + "worst " + f(worstService, 2) + "× (linear would be " + f(Double.parseDouble(hi)
                    / Double.parseDouble(lo), 0) + "×) | " + verdict(worstService <= logBound, scalingKnown) + " |");
            line("");
            line(pass + " passed, " + fail + " failed");
            line("");
            line("In batches of " + f(calls, 0) + " (POST /tasks/{task}/batch), vm_write 4 KiB runs "
                    + ratio(d("wrk.machvm.batchwrite4k.rps") * calls, d("wrk.baseline.write4k.rps"))
                    + " and vm_read 4 KiB " + ratio(d("wrk.machvm.batchread4k.rps") * calls, d("wrk.baseline.read4k.rps"))
                    + " the empty endpoint's single requests per second (calls/s vs req/s).");
        }
    }
}
