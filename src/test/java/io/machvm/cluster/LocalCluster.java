package io.machvm.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A cluster of the packaged jar on this machine, driven through {@code scripts/local-cluster.sh} in a temporary
 * directory: the entry point's and the shards' URLs as the script prints them, and plain HTTP calls to them.
 */
final class LocalCluster implements BeforeAllCallback, AfterAllCallback {
    private static final Path SCRIPT = Path.of("scripts", "local-cluster.sh").toAbsolutePath();
    private static final Pattern PROXY = Pattern.compile("^PROXY=(\\S+)$", Pattern.MULTILINE);
    private static final Pattern SHARD = Pattern.compile("^SHARD (\\d+) (\\S+)$", Pattern.MULTILINE);

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    /** More {@code --machvm.*} arguments for every shard ({@code MACHVM_ARGS}). */
    private final String shardArguments;
    private final Map<Integer, String> shards = new TreeMap<>();
    private Path dir;
    private String proxy;
    /** How many shards a test class registering this as an extension starts with (0: the class calls {@link #up}). */
    private int initialShards;

    LocalCluster(String shardArguments) {
        this.shardArguments = shardArguments;
    }

    /** As an extension of a test class ({@code @RegisterExtension}): up with {@code n} shards before all, then down. */
    LocalCluster startingWith(int n) {
        initialShards = n;
        return this;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        if (initialShards > 0) {
            up(initialShards);
        }
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        if (initialShards > 0) {
            down();
        }
    }

    /** Starts {@code n} shards and the entry point in a new directory. */
    void up(int n) throws Exception {
        dir = Files.createTempDirectory("machvm-cluster");
        run("up", Integer.toString(n), dir.toString());
        assertThat(shards).hasSize(n);
    }

    /**
     * Stops everything the script started, and checks that nothing of it runs on: no shard, no entry point, and no
     * earlier entry point that a reload left finishing its connections. Nothing when {@link #up} did not get as far
     * as a directory.
     */
    void down() throws Exception {
        if (dir != null) {
            run("down", dir.toString());
            String mark = dir.toString() + "/";
            assertThat(ProcessHandle.allProcesses().filter(p -> p.info().commandLine().orElse("").contains(mark))
                    .map(p -> p.pid() + " " + p.info().commandLine().orElse("")))
                    .as("processes of the cluster left after down").isEmpty();
        }
    }

    Path dir() {
        return dir;
    }

    /** The entry point's base URL. */
    String proxy() {
        return proxy;
    }

    /** The shards' base URLs by index, as the last command printed them (kept up to date by {@link #run}). */
    Map<Integer, String> shards() {
        return shards;
    }

    /** The cluster secret the script made for the directory. */
    String secret() throws IOException {
        return Files.readString(dir.resolve("secret")).trim();
    }

    /** Runs the script with these arguments; takes the PROXY and SHARD lines it prints. */
    void run(String... args) throws Exception {
        String output = script(0, args);
        Matcher proxyLine = PROXY.matcher(output);
        if (proxyLine.find()) {
            proxy = proxyLine.group(1);
            shards.clear();
            Matcher shardLine = SHARD.matcher(output);
            while (shardLine.find()) {
                shards.put(Integer.parseInt(shardLine.group(1)), shardLine.group(2));
            }
        }
    }

    /** Runs the script with these arguments expecting it to fail; returns what it printed. */
    String refused(String... args) throws Exception {
        return script(1, args);
    }

    private String script(int exitCode, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("bash", SCRIPT.toString()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().putIfAbsent("JAVA_HOME", System.getProperty("java.home"));
        if (!shardArguments.isEmpty()) {
            builder.environment().put("MACHVM_ARGS", shardArguments);
        }
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor()).as(String.join(" ", args) + ":\n" + output).isEqualTo(exitCode);
        return output;
    }

    /** One call; {@code headers} are name, value pairs. The body is read as ISO-8859-1, byte for byte. */
    HttpResponse<String> send(String method, String url, String type, String body, String... headers)
            throws IOException, InterruptedException {
        return http.send(request(method, url, type, body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(body), headers),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.ISO_8859_1));
    }

    /** {@link #send} with bytes both ways (a snapshot image, a multipart body). */
    HttpResponse<byte[]> sendBytes(String method, String url, String type, byte[] body, String... headers)
            throws IOException, InterruptedException {
        return http.send(request(method, url, type, body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofByteArray(body), headers), HttpResponse.BodyHandlers.ofByteArray());
    }

    private static HttpRequest request(String method, String url, String type, HttpRequest.BodyPublisher body,
            String... headers) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
                .method(method, body);
        if (type != null) {
            request.header("Content-Type", type);
        }
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        return request.build();
    }
}
