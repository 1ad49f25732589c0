package io.machvm.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A real cluster of the packaged jar, driven through {@code scripts/local-cluster.sh}: scale up and down under
 * concurrent writers, SIGTERM and SIGKILL of a shard, forks and cross-shard calls, server-minted ids, a fork family
 * that keeps sharing its pages across a scale. Counts tasks lost, duplicated and wrongly answered 404, which must all
 * be 0. Run with {@code ./mvnw -Pcluster verify}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LocalClusterIT {
    private static final long BASE = 0x100000000L;
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final LocalCluster cluster = new LocalCluster("");
    private Path dir;
    private String proxy;
    private final Map<Integer, String> shards = cluster.shards();
    /** The last acknowledged content of every task the tests made: what must be read back. */
    private final Map<String, String> expected = new ConcurrentHashMap<>();
    private final AtomicInteger connectionRetries = new AtomicInteger();

    @BeforeAll
    void up() throws Exception {
        cluster.up(2);
        dir = cluster.dir();
        proxy = cluster.proxy();
    }

    @AfterAll
    void down() throws Exception {
        cluster.down();
    }

    @Test
    @Order(1)
    void tasksCreatedThroughTheEntryPointLiveOnExactlyOneShard() throws Exception {
        for (int i = 0; i < 40; i++) {
            makeTask("w-" + i, "w-" + i + ":0");
        }
        // server-minted ids: the Location answers through the entry point, on the shard that minted it
        for (int i = 0; i < 10; i++) {
            HttpResponse<String> created = send("POST", proxy + "/tasks", "application/json", "{}");
            assertThat(created.statusCode()).isEqualTo(201);
            String location = created.headers().firstValue("Location").orElseThrow();
            String id = location.substring("/tasks/".length());
            HttpResponse<String> info = send("GET", proxy + location, null, null);
            assertThat(info.statusCode()).as(location).isEqualTo(200);
            assertThat(info.headers().firstValue("Machvm-Shard"))
                    .isEqualTo(created.headers().firstValue("Machvm-Shard"));
            allocateAndWrite(id, id + ":0");
        }
        // the entry point sends a default-tenant request straight to the owner: no forwarding hop
        for (int i = 0; i < 40; i++) {
            HttpResponse<String> info = send("GET", proxy + "/tasks/w-" + i, null, null);
            assertThat(info.headers().firstValue("Machvm-Entry"))
                    .hasValue("shard-" + info.headers().firstValue("Machvm-Shard").orElseThrow());
        }
        assertEveryTaskExactlyOnce();
    }

    @Test
    @Order(2)
    void aShardAskedDirectlyNamesTheOwner() throws Exception {
        String id = "w-0";
        int owner = ownerOf(id);
        int other = 1 - owner;
        HttpResponse<String> answer = send("GET", shards.get(other) + "/tasks/" + id, null, null,
                "Machvm-Direct", "1");
        assertThat(answer.statusCode()).isEqualTo(421);
        assertThat(answer.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        JsonNode problem = JSON.readTree(answer.body());
        assertThat(problem.get("owner").asInt()).isEqualTo(owner);
        assertThat(problem.get("ownerUrl").asString()).isEqualTo(shards.get(owner));
        // forwarded when not asked directly
        assertThat(send("GET", shards.get(other) + "/tasks/" + id, null, null).statusCode()).isEqualTo(200);
        // the local operator is an admin: its tenant~id is placed as the plain id of that tenant
        assertThat(send("GET", shards.get(other) + "/tasks/default~" + id, null, null, "Machvm-Direct", "1")
                .statusCode()).isEqualTo(421);
        assertThat(send("GET", shards.get(owner) + "/tasks/default~" + id, null, null, "Machvm-Direct", "1")
                .statusCode()).isEqualTo(200);
        // the shards' own headers from a client: refused through the entry point and on a shard, nothing made
        String asked = idOn(other, "asked-");
        for (String base : List.of(proxy, shards.get(owner))) {
            HttpResponse<String> refused = send("PUT", base + "/tasks/" + asked, null, null, "Machvm-Asking", "1");
            assertThat(refused.statusCode()).as(refused.body()).isEqualTo(400);
            assertThat(JSON.readTree(refused.body()).get("header").asString()).isEqualTo("Machvm-Asking");
        }
        assertThat(send("GET", proxy + "/tasks/" + asked, null, null).statusCode()).isEqualTo(404);
        // the whole cluster's list and statistics through the entry point
        HttpResponse<String> stats = send("GET", proxy + "/host/statistics", null, null);
        assertThat(stats.headers().firstValue("Machvm-Shard")).hasValue("all");
        assertThat(JSON.readTree(stats.body()).get("tasks").asInt()).isEqualTo(expected.size());
    }

    @Test
    @Order(3)
    void forksAndReadOverwriteWorkAcrossShards() throws Exception {
        String parent = "w-1";
        int parentOwner = ownerOf(parent);
        String remoteChild = idOn(1 - parentOwner, "fork-");
        HttpResponse<String> fork = send("PUT", proxy + "/tasks/" + remoteChild, "application/json",
                "{\"parent\": \"" + parent + "\"}");
        assertThat(fork.statusCode()).as(fork.body()).isEqualTo(201);
        assertThat(ownerOf(remoteChild)).isEqualTo(1 - parentOwner);
        assertThat(read(remoteChild, expected.get(parent).length())).isEqualTo(expected.get(parent));
        expected.put(remoteChild, expected.get(parent));

        // a child with the parent's placement key, and a minted child, stay on the parent's shard
        String colocated = parent + ".child";
        assertThat(send("PUT", proxy + "/tasks/" + colocated, "application/json",
                "{\"parent\": \"" + parent + "\"}").statusCode()).isEqualTo(201);
        assertThat(ownerOf(colocated)).isEqualTo(parentOwner);
        expected.put(colocated, expected.get(parent));
        HttpResponse<String> minted = send("POST", proxy + "/tasks", "application/json",
                "{\"parent\": \"" + parent + "\"}");
        assertThat(minted.statusCode()).as(minted.body()).isEqualTo(201);
        String mintedId = JSON.readTree(minted.body()).get("id").asString();
        assertThat(ownerOf(mintedId)).isEqualTo(parentOwner);
        expected.put(mintedId, expected.get(parent));

        // vm_read_overwrite from a task on one shard into a task on the other
        String source = "w-2";
        String dest = idOn(1 - ownerOf(source), "dest-");
        makeTask(dest, "xxxxxxxx");
        HttpResponse<String> copied = send("POST", proxy + "/tasks/" + source + "/read-overwrite",
                "application/json", "{\"address\": \"0x100000000\", \"size\": \"" + expected.get(source).length()
                        + "\", \"destTask\": \"" + dest + "\", \"destAddress\": \"0x100000000\"}");
        assertThat(copied.statusCode()).as(copied.body()).isEqualTo(200);
        String merged = expected.get(source) + "xxxxxxxx".substring(expected.get(source).length());
        assertThat(read(dest, 8)).isEqualTo(merged);
        expected.put(dest, merged);
        assertEveryTaskExactlyOnce();
    }

    @Test
    @Order(3)
    void snapshotsRestoreThroughTheEntryPointRawAndAsForms() throws Exception {
        String source = "w-3";
        HttpResponse<byte[]> image = cluster.sendBytes("GET", proxy + "/tasks/" + source + "/snapshot", null, null);
        assertThat(image.statusCode()).isEqualTo(200);

        // a restore under a minted id lives where it was received, raw or as a form
        HttpResponse<byte[]> raw = cluster.sendBytes("POST", proxy + "/tasks/restore",
                "application/vnd.machvm.snapshot", image.body());
        HttpResponse<byte[]> form = cluster.sendBytes("POST", proxy + "/tasks/restore/form",
                "multipart/form-data; boundary=" + BOUNDARY, formBody("image", image.body()));
        // a chosen id goes to its owner, here on the shard that does not hold the source
        String chosen = idOn(1 - ownerOf(source), "restored-");
        HttpResponse<byte[]> named = cluster.sendBytes("PUT", proxy + "/tasks/" + chosen + "/snapshot/form",
                "multipart/form-data; boundary=" + BOUNDARY, formBody("image", image.body()));
        for (HttpResponse<byte[]> restored : List.of(raw, form, named)) {
            String body = new String(restored.body(), StandardCharsets.UTF_8);
            assertThat(restored.statusCode()).as(body).isEqualTo(201);
            String id = JSON.readTree(body).get("id").asString();
            assertThat(read(id, expected.get(source).length())).isEqualTo(expected.get(source));
            expected.put(id, expected.get(source));
        }
        assertThat(ownerOf(chosen)).isEqualTo(1 - ownerOf(source));

        // vm_write as a form, through the entry point to the owner
        HttpResponse<byte[]> written = cluster.sendBytes("PUT", proxy + "/tasks/" + chosen + "/memory/0x"
                + Long.toHexString(BASE) + "/form", "multipart/form-data; boundary=" + BOUNDARY,
                formBody("data", "formed".getBytes(StandardCharsets.UTF_8)));
        assertThat(written.statusCode()).isEqualTo(204);
        // and through the shard that does not own it, which forwards the multipart body as it arrives
        HttpResponse<byte[]> forwarded = cluster.sendBytes("PUT", shards.get(ownerOf(source)) + "/tasks/" + chosen
                + "/memory/0x" + Long.toHexString(BASE) + "/form", "multipart/form-data; boundary=" + BOUNDARY,
                formBody("data", "formed".getBytes(StandardCharsets.UTF_8)));
        assertThat(forwarded.statusCode()).isEqualTo(204);
        String merged = "formed" + expected.get(chosen).substring(Math.min(6, expected.get(chosen).length()));
        assertThat(read(chosen, merged.length())).isEqualTo(merged);
        expected.put(chosen, merged);
        assertEveryTaskExactlyOnce();
    }

    private static final String BOUNDARY = "machvm-cluster-test";

    /** A multipart/form-data body with one file part. */
    private static byte[] formBody(String part, byte[] content) {
        byte[] head = ("--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"" + part
                + "\"; filename=\"" + part + ".bin\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        byte[] tail = ("\r\n--" + BOUNDARY + "--\r\n").getBytes(StandardCharsets.US_ASCII);
        byte[] body = java.util.Arrays.copyOf(head, head.length + content.length + tail.length);
        System.arraycopy(content, 0, body, head.length, content.length);
        System.arraycopy(tail, 0, body, head.length + content.length, tail.length);
        return body;
    }

    @Test
    @Order(4)
    void scalingUpAndDownUnderWritersLosesNothing() throws Exception {
        List<List<String>> groups = new ArrayList<>();
        for (int w = 0; w < 4; w++) {
            List<String> group = new ArrayList<>();
            for (int i = w * 10; i < w * 10 + 10; i++) {
                group.add("w-" + i);
            }
            groups.add(group);
        }
        AtomicInteger wrong404 = new AtomicInteger();
        AtomicInteger writes = new AtomicInteger();
        List<String> failures = new ArrayList<>();
        int unansweredBefore = connectionRetries.get();
        whileWriting(groups, (id, n) -> {
            String value = id + ":" + n;
            int status = writeRetrying(id, value);
            if (status == 204) {
                expected.put(id, value);
                writes.incrementAndGet();
            } else if (status == 404) {
                wrong404.incrementAndGet();
            } else {
                synchronized (failures) {
                    failures.add(id + " " + status);
                }
            }
        }, () -> {
            run("scale", "3", dir.toString());
            assertThat(shards).hasSize(3);
            int before = writes.get();
            Thread.sleep(500);
            assertThat(writes.get()).isGreaterThan(before);
            run("scale", "2", dir.toString());
            assertThat(shards).hasSize(2);
        });
        assertThat(wrong404.get()).as("wrong 404s").isZero();
        assertThat(failures).as("failed writes").isEmpty();
        assertThat(writes.get()).isGreaterThan(100);
        // the entry point's reloads keep each keep-alive connection until it has answered one more request
        assertThat(connectionRetries.get() - unansweredBefore).as("writes left without an answer").isZero();
        System.out.printf("scale 2->3->2 under 4 writers: %d writes acknowledged%n", writes.get());
        assertEveryTaskExactlyOnce();
    }

    @Test
    @Order(5)
    void whileAShardIsStoppedItsTasksAnswer503AndComeBackAfterStart() throws Exception {
        String id = "w-3";
        int owner = ownerOf(id);
        String newId = idOn(owner, "late-");
        // keep-alive writers to every shard's tasks through the entry point while the owner stops gracefully: each
        // write is answered, 204 or 503 (the shard drains while HAProxy's check takes it out)
        Map<Integer, Integer> statuses = new ConcurrentHashMap<>();
        AtomicInteger unanswered = new AtomicInteger();
        Set<String> uncertain = ConcurrentHashMap.newKeySet();
        List<List<String>> groups = new ArrayList<>();
        for (int w = 0; w < 4; w++) {
            groups.add(List.of("w-" + w, "w-" + (w + 4), "w-" + (w + 8), "w-" + (w + 12)));
        }
        whileWriting(groups, (task, n) -> {
            String value = task + ":t" + n;
            try {
                HttpResponse<String> answer = send("PUT", proxy + "/tasks/" + task + "/memory/0x"
                        + Long.toHexString(BASE), "application/octet-stream", value);
                statuses.merge(answer.statusCode(), 1, Integer::sum);
                if (answer.statusCode() == 204) {
                    expected.put(task, value);
                } else {
                    uncertain.add(task); // a 503 may say the call may or may not have happened
                }
            } catch (IOException closed) {
                unanswered.incrementAndGet();
                uncertain.add(task);
            }
        }, () -> run("stop", Integer.toString(owner), dir.toString()));
        assertThat(unanswered.get()).as("writes left without an answer (statuses %s)", statuses).isZero();
        assertThat(statuses.keySet()).as("statuses").containsAnyOf(204).isSubsetOf(204, 503);
        HttpResponse<String> down = send("GET", proxy + "/tasks/" + id, null, null);
        assertThat(down.statusCode()).isEqualTo(503);
        assertThat(down.headers().firstValue("Retry-After")).isPresent();
        // a create for an id of the stopped shard makes no copy elsewhere
        assertThat(send("PUT", proxy + "/tasks/" + newId, null, null).statusCode()).isEqualTo(503);
        assertThat(send("GET", proxy + "/tasks", null, null).statusCode()).isEqualTo(503);
        // a scale needs every shard that holds slots: refused up front, nothing started or changed
        String state = Files.readString(dir.resolve("cluster.env"));
        String third = Files.readString(dir.resolve("shard-2/pid")).trim(); // shard 2 of the earlier scale, exited
        assertThat(cluster.refused("scale", "3", dir.toString()))
                .contains("shard " + owner + " is not running", "nothing was changed");
        assertThat(Files.readString(dir.resolve("cluster.env"))).isEqualTo(state);
        assertThat(Files.readString(dir.resolve("shard-2/pid")).trim()).isEqualTo(third);
        assertThat(ProcessHandle.of(Long.parseLong(third)).filter(ProcessHandle::isAlive)).isEmpty();
        run("start", Integer.toString(owner), dir.toString());
        assertThat(send("GET", proxy + "/tasks/" + newId, null, null).statusCode()).isEqualTo(404);
        for (String task : uncertain) { // what a client does after a 503: write again
            String value = task + ":after-start";
            assertThat(writeRetrying(task, value)).isEqualTo(204);
            expected.put(task, value);
        }
        assertEveryTaskExactlyOnce();
    }

    /**
     * SIGKILL loses at most the checkpoint interval (machvm.persistence.checkpoint-interval, 1 s by default): every
     * change acknowledged earlier than that survives, creates and deletes included.
     */
    @Test
    @Order(6)
    void sigkillLosesNothingOlderThanTheCheckpointInterval() throws Exception {
        int victim = ownerOf("w-4");
        for (String id : List.copyOf(expected.keySet())) {
            if (ownerOf(id) == victim) {
                String value = id.length() > 8 ? expected.get(id) : id + ":k";
                if (value.length() <= expected.get(id).length() || id.startsWith("w-")) {
                    assertThat(writeRetrying(id, value)).isEqualTo(204);
                    expected.put(id, value);
                }
            }
        }
        String created = idOn(victim, "kill-");
        makeTask(created, created);
        String deleted = idOn(victim, "gone-");
        makeTask(deleted, deleted);
        assertThat(send("DELETE", proxy + "/tasks/" + deleted, null, null).statusCode()).isEqualTo(204);
        expected.remove(deleted);
        Thread.sleep(2500); // older than the checkpoint interval
        // writes under way when the owner dies, sent through the entry point and through the other shard
        String inFlight = idOn(victim, "inflight-");
        makeTask(inFlight, inFlight);
        expected.remove(inFlight);
        List<CompletableFuture<HttpResponse<String>>> cut = new ArrayList<>();
        for (String base : List.of(proxy, shards.get(1 - victim))) {
            cut.add(trickle(base + "/tasks/" + inFlight + "/memory/0x100000000"));
        }
        Thread.sleep(1500);
        run("stop", Integer.toString(victim), dir.toString(), "--kill");
        try {
            for (CompletableFuture<HttpResponse<String>> call : cut) {
                HttpResponse<String> answer;
                try {
                    answer = call.get(60, TimeUnit.SECONDS);
                } catch (ExecutionException dropped) {
                    // the answer came while the body was still being sent, and the connection was reset before the
                    // client read it (TCP discards it then): no answer, which is not a wrong one
                    assertThat(dropped.getCause()).isInstanceOf(IOException.class);
                    continue;
                }
                assertThat(answer.statusCode()).as(answer.body()).isEqualTo(503);
                assertThat(answer.headers().firstValue("Retry-After")).hasValue("1");
                assertThat(answer.headers().firstValue("Content-Type")).hasValue("application/problem+json");
                assertThat(answer.body()).contains("MACH_SEND_TIMED_OUT", "may or may not have taken effect");
            }
        } finally {
            run("start", Integer.toString(victim), dir.toString());
        }
        assertThat(send("GET", proxy + "/tasks/" + deleted, null, null).statusCode()).isEqualTo(404);
        assertEveryTaskExactlyOnce();
    }

    /** A 64 KiB vm_write whose body arrives 1 KiB every 250 ms: under way for 16 s. */
    private static CompletableFuture<HttpResponse<String>> trickle(String url) {
        InputStream slow = new InputStream() {
            private int sent;

            @Override
            public int read() {
                throw new UnsupportedOperationException();
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (sent >= 64 * 1024) {
                    return -1;
                }
                if (sent > 0) {
                    try {
                        Thread.sleep(250);
                    } catch (InterruptedException e) {
                        throw new InterruptedIOException();
                    }
                }
                int n = Math.min(Math.min(len, 1024), 64 * 1024 - sent);
                java.util.Arrays.fill(b, off, off + n, (byte) 'x');
                sent += n;
                return n;
            }
        };
        HttpRequest request = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/octet-stream")
                .PUT(HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofInputStream(() -> slow),
                        64 * 1024))
                .build();
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()
                .sendAsync(request, HttpResponse.BodyHandlers.ofString());
    }

    /**
     * A former owner that comes back with a copy of its volume taken before a scale holds copies of the tasks that the
     * scale gave away (as a shard that crashed between a handoff's import and its own delete does). It takes the
     * cluster's table from its peers, not its own older one, and drops the copies: every task once, with the content
     * written at its new owner since, and a task deleted there since stays deleted.
     */
    @Test
    @Order(7)
    void aFormerOwnerRestartedFromAVolumeOlderThanAScaleDropsWhatItGaveAway() throws Exception {
        Set<String> before = directIds(1);
        Path data = dir.resolve("shard-1").resolve("data");
        Path saved = dir.resolve("shard-1-data-before-scale");
        run("stop", "1", dir.toString());
        copyTree(data, saved);
        run("start", "1", dir.toString());
        run("scale", "3", dir.toString());
        List<String> given = new ArrayList<>(directIds(2));
        given.retainAll(before);
        assertThat(given).as("tasks shard 1 gave to shard 2").isNotEmpty();
        for (String id : given) {
            assertThat(writeRetrying(id, id + ":at-2")).isEqualTo(204);
            expected.put(id, id + ":at-2");
        }
        String deleted = given.getFirst();
        assertThat(send("DELETE", proxy + "/tasks/" + deleted, null, null).statusCode()).isEqualTo(204);
        expected.remove(deleted);

        run("stop", "1", dir.toString());
        deleteTree(data);
        copyTree(saved, data);
        run("start", "1", dir.toString());
        for (int shard : shards.keySet()) {
            assertThat(directIds(shard)).as("shard " + shard).doesNotContain(deleted);
        }
        assertThat(send("GET", proxy + "/tasks/" + deleted, null, null).statusCode()).isEqualTo(404);
        assertEveryTaskExactlyOnce();
        assertThat(Files.readString(dir.resolve("shard-1").resolve("log")))
                .contains("table epoch", "stray tasks (held here, owned by another shard): " + given.size()
                        + " dropped");
        run("scale", "2", dir.toString());
        assertEveryTaskExactlyOnce();
    }

    /**
     * A parent and its fork with co-locating ids ({@code fam-N} and {@code fam-N.child}) move together when their
     * shard is scaled away, and arrive sharing their copy-on-write pages and their share-inherited memory: the
     * receiving shard's statistics gain exactly the sender's resident and shared pages, and writes afterwards stay
     * private to the task that made them, except in the shared memory.
     */
    @Test
    @Order(8)
    void aForkFamilyMovedTogetherKeepsSharingItsPages() throws Exception {
        String parent = idOn(1, "fam-");
        String child = parent + ".child";
        JsonNode stats1 = statistics(1);
        long page = stats1.get("pageSize").asLong();
        String region = "{\"address\": \"0x100000000\", \"size\": \"0x" + Long.toHexString(8 * page) + "\"";
        assertThat(send("PUT", proxy + "/tasks/" + parent, null, null).statusCode()).isEqualTo(201);
        assertThat(send("POST", proxy + "/tasks/" + parent + "/allocate", "application/json", region
                + ", \"flags\": 0}").statusCode()).isEqualTo(201);
        for (int p = 0; p < 8; p++) {
            assertThat(writeAt(parent, p * page, "page " + p)).isEqualTo(204);
        }
        // the last two pages are inherited shared: the fork sees them as one memory with its parent
        assertThat(send("POST", proxy + "/tasks/" + parent + "/inherit", "application/json",
                "{\"address\": \"0x" + Long.toHexString(BASE + 6 * page) + "\", \"size\": \"0x"
                        + Long.toHexString(2 * page) + "\", \"inheritance\": \"share\"}").statusCode())
                .isEqualTo(204);
        HttpResponse<String> fork = send("PUT", proxy + "/tasks/" + child, "application/json",
                "{\"parent\": \"" + parent + "\"}");
        assertThat(fork.statusCode()).as(fork.body()).isEqualTo(201);
        assertThat(ownerOf(child)).isEqualTo(1);
        assertThat(writeAt(child, 0, "child's own")).isEqualTo(204);
        expected.put(parent, "page 0");
        expected.put(child, "child's own");
        JsonNode before0 = statistics(0);
        JsonNode before1 = statistics(1);
        assertThat(before1.get("sharedPages").asLong()).as("pages 1 to 5 of the family").isGreaterThanOrEqualTo(5);

        run("scale", "1", dir.toString());
        assertThat(shards).hasSize(1);

        JsonNode after = statistics(0);
        assertThat(after.get("residentPages").asLong()).as("no page was copied")
                .isEqualTo(before0.get("residentPages").asLong() + before1.get("residentPages").asLong());
        assertThat(after.get("sharedPages").asLong())
                .isEqualTo(before0.get("sharedPages").asLong() + before1.get("sharedPages").asLong());
        assertThat(writeAt(parent, page, "parent's write")).isEqualTo(204);
        assertThat(writeAt(child, 2 * page, "child's write")).isEqualTo(204);
        assertThat(read(child, page, 6)).isEqualTo("page 1");
        assertThat(read(parent, 2 * page, 6)).isEqualTo("page 2");
        assertThat(writeAt(child, 6 * page, "seen by both")).isEqualTo(204);
        assertThat(read(parent, 6 * page, 12)).isEqualTo("seen by both");
        assertThat(statistics(0).get("sharedPages").asLong()).as("each write copied one page")
                .isEqualTo(after.get("sharedPages").asLong() - 2);
        assertEveryTaskExactlyOnce();
    }

    /**
     * A scale that stopped between two shards' commits (as when a shard dies during the commit step) leaves one shard
     * on the new table and the other on the old one with the scale under way. Running scale again finishes that scale
     * first (begin where needed, handoffs, commit everywhere) and then scales as asked: every task once.
     */
    @Test
    @Order(9)
    void aScaleCommittedOnOneShardOnlyIsFinishedByTheNextScale() throws Exception {
        run("scale", "2", dir.toString());
        String[] admin = {"Machvm-Cluster-Secret", cluster.secret()};
        HttpResponse<String> plan = send("POST", shards.get(0) + "/cluster/plan", "application/json",
                "{\"shards\":[\"" + shards.get(0) + "\"]}", admin);
        assertThat(plan.statusCode()).as(plan.body()).isEqualTo(200);
        long epoch = JSON.readTree(plan.body()).get("epoch").asLong();
        for (String shard : shards.values()) {
            assertThat(send("POST", shard + "/cluster/begin", "application/json", plan.body(), admin).statusCode())
                    .isEqualTo(200);
        }
        for (String shard : shards.values()) {
            assertThat(send("POST", shard + "/cluster/migrate", null, null, admin).statusCode()).isEqualTo(200);
        }
        assertThat(send("POST", shards.get(0) + "/cluster/commit?epoch=" + epoch, null, null, admin).statusCode())
                .isEqualTo(200);
        assertThat(JSON.readTree(send("GET", shards.get(1) + "/cluster", null, null, admin).body()).get("pending")
                .isNull()).as("shard 1 still has the scale under way").isFalse();

        run("scale", "2", dir.toString());
        assertThat(shards).hasSize(2);
        for (String shard : shards.values()) {
            JsonNode state = JSON.readTree(send("GET", shard + "/cluster", null, null, admin).body());
            assertThat(state.get("pending").isNull()).as(shard).isTrue();
            assertThat(state.get("table").get("epoch").asLong()).as(shard).isEqualTo(epoch + 1);
        }
        assertThat(directIds(1)).as("shard 1 owns slots again").isNotEmpty();
        assertEveryTaskExactlyOnce();
    }

    // ------------------------------------------------------------------ checks

    /** Every task made is on exactly one shard, reached through the entry point, with its last acknowledged bytes. */
    private void assertEveryTaskExactlyOnce() throws Exception {
        Map<String, Integer> copies = new HashMap<>();
        for (Map.Entry<Integer, String> shard : shards.entrySet()) {
            HttpResponse<String> list = send("GET", shard.getValue() + "/tasks", null, null, "Machvm-Direct", "1");
            assertThat(list.statusCode()).isEqualTo(200);
            for (JsonNode task : JSON.readTree(list.body())) {
                copies.merge(task.get("id").asString(), 1, Integer::sum);
            }
        }
        List<String> lost = new ArrayList<>();
        List<String> duplicated = new ArrayList<>();
        List<String> wrong = new ArrayList<>();
        for (Map.Entry<String, String> task : expected.entrySet()) {
            int n = copies.getOrDefault(task.getKey(), 0);
            if (n == 0) {
                lost.add(task.getKey());
            } else if (n > 1) {
                duplicated.add(task.getKey());
            }
            HttpResponse<String> got = send("GET", proxy + "/tasks/" + task.getKey() + "/memory/0x100000000?size="
                    + task.getValue().length(), null, null);
            if (got.statusCode() == 404) {
                wrong.add(task.getKey());
            } else if (got.statusCode() != 200 || !got.body().equals(task.getValue())) {
                lost.add(task.getKey() + " (" + got.statusCode() + " " + got.body() + " instead of "
                        + task.getValue() + ")");
            }
        }
        assertThat(lost).as("tasks lost").isEmpty();
        assertThat(duplicated).as("tasks duplicated").isEmpty();
        assertThat(wrong).as("tasks wrongly 404").isEmpty();
        HttpResponse<String> all = send("GET", proxy + "/tasks", null, null);
        assertThat(all.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(all.body()).size()).isEqualTo(copies.size());
    }

    // ------------------------------------------------------------------ helpers

    /** The ids of one shard's own tasks. */
    private Set<String> directIds(int shard) throws Exception {
        HttpResponse<String> list = send("GET", shards.get(shard) + "/tasks", null, null, "Machvm-Direct", "1");
        assertThat(list.statusCode()).as(list.body()).isEqualTo(200);
        Set<String> ids = new TreeSet<>();
        JSON.readTree(list.body()).forEach(task -> ids.add(task.get("id").asString()));
        return ids;
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path file : files.toList()) {
                Files.copy(file, to.resolve(from.relativize(file).toString()), StandardCopyOption.COPY_ATTRIBUTES);
            }
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(file);
            }
        }
    }

    private void makeTask(String id, String content) throws Exception {
        HttpResponse<String> created = send("PUT", proxy + "/tasks/" + id, null, null);
        assertThat(created.statusCode()).as(id + ": " + created.body()).isEqualTo(201);
        allocateAndWrite(id, content);
    }

    private void allocateAndWrite(String id, String content) throws Exception {
        HttpResponse<String> allocated = send("POST", proxy + "/tasks/" + id + "/allocate", "application/json",
                "{\"address\": \"0x100000000\", \"size\": \"0x4000\", \"flags\": 0}");
        assertThat(allocated.statusCode()).as(allocated.body()).isEqualTo(201);
        assertThat(writeRetrying(id, content)).isEqualTo(204);
        expected.put(id, content);
    }

    /**
     * vm_write, retried while the answer is 503 (a shard restarting, a task being handed off) or the connection
     * closes before an answer (the entry point reloading during a scale): a write is idempotent.
     */
    /** One writer's call for a task in a round of {@link #whileWriting}. */
    private interface Write {
        void write(String task, int round) throws Exception;
    }

    /** What runs while the writers of {@link #whileWriting} write. */
    private interface Step {
        void run() throws Exception;
    }

    /**
     * One writer per group of tasks, each writing its tasks in turn, round after round, from half a second before
     * {@code during} until half a second after it; a writer's failure is thrown here.
     */
    private void whileWriting(List<List<String>> groups, Write write, Step during) throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        try (ExecutorService writers = Executors.newFixedThreadPool(groups.size())) {
            List<Future<?>> running = new ArrayList<>();
            for (List<String> group : groups) {
                running.add(writers.submit(() -> {
                    for (int round = 1; !stop.get(); round++) {
                        for (String task : group) {
                            write.write(task, round);
                        }
                    }
                    return null;
                }));
            }
            try {
                Thread.sleep(500);
                during.run();
                Thread.sleep(500);
            } finally {
                stop.set(true); // also when a step fails: the writers must end for the pool to close
            }
            for (Future<?> f : running) {
                f.get();
            }
        }
    }

    private int writeRetrying(String id, String value) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            HttpResponse<String> answer;
            try {
                answer = send("PUT", proxy + "/tasks/" + id + "/memory/0x" + Long.toHexString(BASE),
                        "application/octet-stream", value);
            } catch (IOException closed) {
                if (System.nanoTime() > deadline) {
                    throw closed;
                }
                connectionRetries.incrementAndGet();
                continue;
            }
            if (answer.statusCode() != 503 || System.nanoTime() > deadline) {
                return answer.statusCode();
            }
            Thread.sleep(100);
        }
    }

    /** One shard's own statistics. */
    private JsonNode statistics(int shard) throws Exception {
        HttpResponse<String> answer = send("GET", shards.get(shard) + "/host/statistics", null, null,
                "Machvm-Direct", "1");
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
        return JSON.readTree(answer.body());
    }

    private int writeAt(String id, long offset, String value) throws Exception {
        return send("PUT", proxy + "/tasks/" + id + "/memory/0x" + Long.toHexString(BASE + offset),
                "application/octet-stream", value).statusCode();
    }

    private String read(String id, long offset, int length) throws Exception {
        HttpResponse<String> got = send("GET", proxy + "/tasks/" + id + "/memory/0x"
                + Long.toHexString(BASE + offset) + "?size=" + length, null, null);
        assertThat(got.statusCode()).as(got.body()).isEqualTo(200);
        return got.body();
    }

    private String read(String id, int length) throws Exception {
        HttpResponse<String> got = send("GET", proxy + "/tasks/" + id + "/memory/0x100000000?size=" + length, null,
                null);
        assertThat(got.statusCode()).as(got.body()).isEqualTo(200);
        return got.body();
    }

    /** The shard that answers for the id through the entry point. */
    private int ownerOf(String id) throws Exception {
        for (Map.Entry<Integer, String> shard : shards.entrySet()) {
            int status = send("GET", shard.getValue() + "/tasks/" + id, null, null, "Machvm-Direct", "1")
                    .statusCode();
            if (status != 421) {
                return shard.getKey();
            }
        }
        throw new AssertionError("no shard owns " + id);
    }

    /** A fresh id owned by the shard. */
    private String idOn(int shard, String prefix) throws Exception {
        for (int i = 0; ; i++) {
            String id = prefix + i;
            if (!expected.containsKey(id) && send("GET", shards.get(shard) + "/tasks/" + id, null, null,
                    "Machvm-Direct", "1").statusCode() == 404) {
                return id;
            }
        }
    }

    private HttpResponse<String> send(String method, String url, String type, String body, String... headers)
            throws IOException, InterruptedException {
        return cluster.send(method, url, type, body, headers);
    }

    /** Runs the script (scale, stop, start) on this cluster. */
    private void run(String... args) throws Exception {
        cluster.run(args);
        proxy = cluster.proxy();
    }
}
