package io.machvm.api;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.net.URI;
import java.util.jar.JarFile;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The application in a JVM of its own (a small heap, say), on a free port, with its output kept as its log. */
public final class ChildServer implements AutoCloseable {
    private static final Pattern STARTED = Pattern.compile("Tomcat started on port (\\d+)");

    private final Process process;
    private final StringBuffer log = new StringBuffer();
    private final int port;
    private final Thread logReader;

    private ChildServer(List<String> jvmOptions, List<String> arguments, Duration startTimeout) throws Exception {
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        List<String> command = new ArrayList<>();
        command.add(java);
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", applicationClassPath(), "io.machvm.MachvmApplication",
                "--server.port=0", "--spring.main.banner-mode=off"));
        command.addAll(arguments);
        process = new ProcessBuilder(command).redirectErrorStream(true).start();
        CompletableFuture<Integer> started = new CompletableFuture<>();
        logReader = Thread.ofPlatform().daemon().name("child-server-log").start(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = out.readLine()) != null; ) {
                    log.append(line).append('\n');
                    Matcher m = STARTED.matcher(line);
                    if (m.find()) {
                        started.complete(Integer.parseInt(m.group(1)));
                    }
                }
            } catch (IOException ignored) {
                // the process ended
            }
            started.completeExceptionally(new IllegalStateException("the server exited:\n" + log));
        });
        port = started.get(startTimeout.toSeconds(), TimeUnit.SECONDS);
    }

    /** Starts the server and returns once it listens. */
    public static ChildServer start(List<String> jvmOptions, List<String> arguments, Duration startTimeout)
            throws Exception {
        return new ChildServer(jvmOptions, arguments, startTimeout);
    }

    public int port() {
        return port;
    }

    public long pid() {
        return process.pid();
    }

    /**
     * {@code kill -9}: no shutdown hook runs. Waits up to {@code timeout} for the exit and then for the last log lines.
     *
     * @return the exit value (137 for SIGKILL), or -1 when the process has not exited
     */
    public int kill(Duration timeout) throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            return -1;
        }
        logReader.join(10_000);
        return process.exitValue();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    public String log() {
        return log.toString();
    }

    /**
     * SIGTERM, Spring's graceful shutdown, and waits up to {@code timeout} for the exit and then for the last log
     * lines. Through the process handle: {@link Process#destroy()} also closes the pipe that carries those lines.
     *
     * @return whether the process exited
     */
    public boolean stop(Duration timeout) throws InterruptedException {
        process.toHandle().destroy();
        boolean exited = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        logReader.join(10_000);
        return exited;
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }

    /**
     * The application's runtime class path: this JVM's, without the test classes (whose configurations are not the
     * application's). Surefire may hide it in a manifest-only jar.
     */
    public static String applicationClassPath() throws IOException {
        String classPath = System.getProperty("surefire.test.class.path");
        if (classPath == null || classPath.isBlank()) {
            classPath = System.getProperty("java.class.path");
        }
        List<String> entries = new ArrayList<>();
        for (String entry : classPath.split(File.pathSeparator)) {
            if (entry.endsWith(".jar") && new File(entry).getName().startsWith("surefirebooter")) {
                try (JarFile jar = new JarFile(entry)) {
                    for (String url : jar.getManifest().getMainAttributes().getValue("Class-Path").split(" ")) {
                        if (!url.isBlank()) {
                            entries.add(new File(URI.create(url)).getPath());
                        }
                    }
                }
            } else {
                entries.add(entry);
            }
        }
        entries.removeIf(e -> e.replace('\\', '/').replaceAll("/$", "").endsWith("test-classes"));
        return String.join(File.pathSeparator, entries);
    }
}
