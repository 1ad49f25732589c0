package io.machvm.ops;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs {@code src/main/docker/entrypoint.sh} in dry-run mode with a fake cgroup tree and a clean environment. */
final class EntrypointScript {
    static final Path SCRIPT = Path.of("src", "main", "docker", "entrypoint.sh");

    record Result(int exitCode, String stdout, String stderr) {
        /** The java command line the script would exec. */
        String command() {
            return stdout.lines().filter(line -> line.startsWith("java ")).findFirst().orElse("");
        }

        /** MACHVM_STORE_CAPACITY as the application would see it. */
        String capacity() {
            return stdout.lines().filter(line -> line.startsWith("MACHVM_STORE_CAPACITY="))
                    .map(line -> line.substring("MACHVM_STORE_CAPACITY=".length())).findFirst().orElse(null);
        }
    }

    private EntrypointScript() {
    }

    /** A cgroup v2 tree whose {@code memory.max} holds {@code limit} ("max" or bytes). */
    static Path cgroupV2(Path dir, String limit) {
        write(dir.resolve("memory.max"), limit);
        return dir;
    }

    /** A cgroup v1 tree whose {@code memory/memory.limit_in_bytes} holds {@code limit}. */
    static Path cgroupV1(Path dir, String limit) {
        write(dir.resolve("memory").resolve("memory.limit_in_bytes"), limit);
        return dir;
    }

    static Result run(Path cgroupRoot, Map<String, String> env, String... args) {
        List<String> command = new ArrayList<>(List.of("sh", SCRIPT.toString()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().clear();
        builder.environment().put("PATH", "/usr/local/bin:/usr/bin:/bin");
        builder.environment().put("MACHVM_ENTRYPOINT_DRY_RUN", "1");
        builder.environment().put("MACHVM_CGROUP_ROOT", cgroupRoot.toString());
        builder.environment().putAll(env);
        try {
            Process process = builder.start();
            process.getOutputStream().close();
            String stdout = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            String stderr = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IllegalStateException("entrypoint.sh did not finish");
            }
            return new Result(process.exitValue(), stdout, stderr);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static void write(Path file, String content) {
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, content + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
