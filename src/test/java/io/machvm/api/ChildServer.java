package io.machvm.api;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The application in a JVM of its own (a small heap, say), on a free port, with its output kept as its log. */
final class ChildServer implements AutoCloseable {
    private static final Pattern STARTED = Pattern.compile("Tomcat started on port (\\d+)");

    private final Process process;
    private final StringBuffer log = new StringBuffer();
    private final int port;

    private ChildServer(List<String> jvmOptions, List<String> arguments, Duration startTimeout) throws Exception {
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        List<String> command = new ArrayList<>();
        command.add(java);
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", LowHeapStreamingTest.applicationClassPath(), "io.machvm.MachvmApplication",
                "--server.port=0", "--spring.main.banner-mode=off"));
        command.addAll(arguments);
        process = new ProcessBuilder(command).redirectErrorStream(true).start();
        CompletableFuture<Integer> started = new CompletableFuture<>();
        Thread.ofPlatform().daemon().name("child-server-log").start(() -> {
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
    static ChildServer start(List<String> jvmOptions, List<String> arguments, Duration startTimeout)
            throws Exception {
        return new ChildServer(jvmOptions, arguments, startTimeout);
    }

    int port() {
        return port;
    }

    boolean isAlive() {
        return process.isAlive();
    }

    String log() {
        return log.toString();
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
