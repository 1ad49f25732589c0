package io.machvm.bench;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Runs the core JMH benchmarks of targets 1 and 2 with {@link CpuTimeProfiler} and prints, as Markdown tables, every
 * score and each target's ratio against its baseline from the same run, with PASS/FAIL.
 *
 * <p>Two ratios per target: of the wall-clock scores (JMH's primary result) and of the CPU time per operation (the
 * {@code cpu} secondary result). The verdict uses the CPU-time ratio: on this shared 2-core machine the wall-clock
 * scores include the time the benchmark thread was descheduled for other tenants' processes, which varies from fork
 * to fork and makes wall ratios of consecutive forks swing; CPU time per operation does not include it. The wall
 * ratio is printed next to it, and a row where the two verdicts differ is marked.
 *
 * <pre>java -cp target/benchmarks.jar io.machvm.bench.CoreTargets [jmh options]</pre>
 * Any JMH option may be given (e.g. {@code -rf json -rff out.json}, {@code -wi 3}); without a benchmark pattern it
 * runs {@link VmCopyBenchmark} and {@link VmReadWriteBenchmark}. Exits with 1 when a target is missed.
 */
public final class CoreTargets {
    private CoreTargets() {
    }

    record Score(Result<?> wall, Result<?> cpu) {
    }

    public static void main(String[] args) throws Exception {
        CommandLineOptions cli = new CommandLineOptions(args);
        OptionsBuilder builder = new OptionsBuilder();
        builder.parent(cli);
        if (cli.getIncludes().isEmpty()) {
            builder.include(VmCopyBenchmark.class.getName() + "\\.")
                    .include(VmReadWriteBenchmark.class.getName() + "\\.");
        }
        builder.addProfiler(CpuTimeProfiler.class);
        Collection<RunResult> results = new Runner(builder.build()).run();

        Map<String, Score> scores = new LinkedHashMap<>();
        for (RunResult r : results) {
            String name = r.getParams().getBenchmark();
            name = name.substring(name.lastIndexOf('.') + 1);
            String flavor = r.getParams().getParam("flavor");
            scores.put(flavor == null ? name : name + "[" + flavor + "]",
                    new Score(r.getPrimaryResult(), r.getSecondaryResults().get("cpu")));
        }

        StringBuilder out = new StringBuilder();
        out.append("\nScores (mean ± 99.9% CI half-width):\n\n| benchmark | wall clock | CPU time | unit |\n")
                .append("|---|---:|---:|---|\n");
        scores.forEach((k, v) -> out.append(String.format(Locale.ROOT, "| %s | %.3f ± %.3f | %s | %s |%n", k,
                v.wall.getScore(), v.wall.getScoreError(),
                v.cpu == null ? "-" : String.format(Locale.ROOT, "%.3f ± %.3f", v.cpu.getScore(), v.cpu.getScoreError()),
                v.wall.getScoreUnit())));

        boolean[] missed = {false};
        out.append("\nTargets (verdict on the CPU-time ratio):\n\n| target | ratio (wall) | ratio (CPU) | limit | result |\n")
                .append("|---|---:|---:|---:|---|\n");
        for (String aligned : new String[] {"alignedPingPong", "alignedOverPrivate"}) {
            compare(out, missed, scores, "misalignedByOneByte", aligned, true, 20, true);
            compare(out, missed, scores, "directByteBufferCopy", aligned, true, 20, true);
        }
        for (String flavor : new String[] {"ARM64", "X86_64"}) {
            compare(out, missed, scores, "vmWrite[" + flavor + "]", "bufferPut", false, 2, true);
            compare(out, missed, scores, "vmReadInto[" + flavor + "]", "bufferGet", false, 2, true);
            compare(out, missed, scores, "vmRead[" + flavor + "]", "bufferGetNewArray", false, 2, false);
        }
        out.append("\n(speed-up = slow / fast; slowdown = measured / baseline. * informational: vm_read into a new "
                + "array, against a get into a new array. ! wall-clock verdict differs)\n");
        System.out.println(out);
        System.exit(missed[0] ? 1 : 0);
    }

    /**
     * {@code speedup}: {@code a / b >= limit} (b is that many times faster); otherwise {@code a / b <= limit} (a is at
     * most that many times slower).
     */
    private static void compare(StringBuilder out, boolean[] missed, Map<String, Score> scores, String a, String b,
            boolean speedup, double limit, boolean gating) {
        Score sa = scores.get(a);
        Score sb = scores.get(b);
        if (sa == null || sb == null) {
            return;
        }
        if (!sa.wall.getScoreUnit().equals(sb.wall.getScoreUnit())) {
            throw new IllegalStateException("units differ: " + a + " vs " + b);
        }
        double wall = sa.wall.getScore() / sb.wall.getScore();
        Double cpu = sa.cpu == null || sb.cpu == null ? null : sa.cpu.getScore() / sb.cpu.getScore();
        boolean wallPass = speedup ? wall >= limit : wall <= limit;
        boolean pass = cpu == null ? wallPass : (speedup ? cpu >= limit : cpu <= limit);
        String verdict = pass ? "PASS" : "FAIL";
        if (!gating) {
            verdict = "(" + verdict.toLowerCase(Locale.ROOT) + ") *";
        }
        if (wallPass != pass) {
            verdict += " !";
        }
        if (gating && !pass) {
            missed[0] = true;
        }
        out.append(String.format(Locale.ROOT, "| %s / %s (%s) | %.2f | %s | %s %s | %s |%n", a, b,
                speedup ? "speed-up" : "slowdown", wall, cpu == null ? "-" : String.format(Locale.ROOT, "%.2f", cpu),
                speedup ? ">=" : "<=", (int) limit, verdict));
    }
}
