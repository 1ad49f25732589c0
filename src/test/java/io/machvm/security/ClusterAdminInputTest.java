package io.machvm.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The steps of a scale refuse what is not a shard list or a table with a 400 {@code KERN_INVALID_ARGUMENT} that says
 * why, and a step that does not fit the scale under way with a 409 in the same shape; neither changes the table.
 */
@ShardZeroOfTwo
class ClusterAdminInputTest {
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final String SECRET = "Machvm-Cluster-Secret: " + ClusterApiKeyModeTest.SECRET + "\r\n";
    private static final int PORT = ClusterApiKeyModeTest.freePort();
    private static final int DOWN = ClusterApiKeyModeTest.freePort();
    private static final String SELF = "\"http://127.0.0.1:" + PORT + "\"";

    @DynamicPropertySource
    static void shards(DynamicPropertyRegistry registry) {
        ClusterApiKeyModeTest.twoShards(registry, PORT, DOWN);
    }

    private static Wire.Answer post(String path, String json) throws IOException {
        return Wire.send(LOOPBACK, PORT, "POST", path, SECRET + "Content-Type: application/json\r\n",
                json.getBytes(StandardCharsets.UTF_8));
    }

    private static String table() throws IOException {
        Wire.Answer state = Wire.send(LOOPBACK, PORT, "GET", "/cluster", SECRET, new byte[0]);
        assertThat(state.status()).isEqualTo(200);
        return state.body();
    }

    private static void assertInvalid(Wire.Answer answer, String... detail) {
        assertThat(answer.status()).as(answer.body()).isEqualTo(400);
        assertThat(answer.header("Content-Type")).startsWith("application/problem+json");
        assertThat(answer.body()).contains("\"kern\":\"KERN_INVALID_ARGUMENT\"")
                .doesNotContain("Exception", "at io.machvm");
        for (String words : detail) {
            assertThat(answer.body()).contains(words);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"{\"shards\":[]}", "{\"shards\":\"http://a:1\"}", "{\"shards\":[1,2]}",
            "{\"shards\":[null]}", "{\"shards\":[\"not a url\"]}", "{\"shards\":[\"ftp://a:1\"]}",
            "{\"shards\":[\"http://a:1/path\"]}", "{\"shards\":[\"http://a:1?q\"]}", "{\"shards\":[\"http://u@a:1\"]}",
            "{\"shards\":[\"http://a:1\",\"http://a:1\"]}", "{}", "[]"})
    void aPlanForWhatIsNotAListOfShardURLsIsRefused(String body) throws IOException {
        String before = table();
        assertInvalid(post("/cluster/plan", body), "shard");
        assertThat(table()).isEqualTo(before);
    }

    @Test
    void aPlanForMoreShardsThanATableHoldsIsRefused() throws IOException {
        String many = IntStream.range(0, 1025).mapToObj(i -> "\"http://h" + i + ":1\"")
                .collect(Collectors.joining(",", "{\"shards\":[", "]}"));
        assertInvalid(post("/cluster/plan", many), "1 to 1024 shards, not 1025");
    }

    @ParameterizedTest
    @ValueSource(strings = {"{}", "{\"epoch\":2}", "{\"epoch\":\"x\",\"shards\":[],\"slots\":[]}",
            "{\"epoch\":2,\"shards\":[\"http://a:1\"],\"slots\":[[0,5,0]]}",
            "{\"epoch\":2,\"shards\":[\"http://a:1\"],\"slots\":[[0,16383,7]]}",
            "{\"epoch\":2,\"shards\":[\"http://a:1\"],\"slots\":[[0,99999,0]]}",
            "{\"epoch\":2,\"shards\":[\"http://a:1\"],\"slots\":[[16383,0,0]]}",
            "{\"epoch\":2,\"shards\":[\"http://a:1\"],\"slots\":[[0,16383]]}",
            "{\"epoch\":2,\"shards\":[\"http://a:1\"],\"slots\":\"all\"}",
            "{\"epoch\":0,\"shards\":[\"http://a:1\"],\"slots\":[[0,16383,0]]}",
            "{\"epoch\":2,\"shards\":[\"a\"],\"slots\":[[0,16383,0]]}"})
    void aBeginWithWhatIsNotATableIsRefused(String body) throws IOException {
        String before = table();
        Wire.Answer answer = post("/cluster/begin", body);
        assertInvalid(answer);
        assertThat(table()).isEqualTo(before);
    }

    @Test
    void aSecondScaleWhileOneIsUnderWayIsAConflictInTheProblemShape() throws IOException {
        Wire.Answer plan = post("/cluster/plan", "{\"shards\":[" + SELF + "]}");
        assertThat(plan.status()).as(plan.body()).isEqualTo(200);
        assertThat(post("/cluster/begin", plan.body()).status()).isEqualTo(200);
        try {
            String other = plan.body().replace(SELF, SELF + ",\"http://127.0.0.1:" + DOWN + "\"");
            Wire.Answer second = post("/cluster/begin", other);
            assertThat(second.status()).as(second.body()).isEqualTo(409);
            assertThat(second.header("Content-Type")).startsWith("application/problem+json");
            assertThat(second.body()).contains("is under way", "\"kern\":\"KERN_INVALID_ARGUMENT\"",
                    "\"status\":409");
            Wire.Answer commit = post("/cluster/commit?epoch=99", "");
            assertThat(commit.status()).as(commit.body()).isEqualTo(409);
        } finally {
            String epoch = plan.body().replaceAll("^\\{\"epoch\":(\\d+).*", "$1");
            assertThat(post("/cluster/commit?epoch=" + epoch, "").status()).isEqualTo(200);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "-1", "65", "100000", "x"})
    void aMigrateWithParallelismOutsideOneTo64IsRefused(String parallelism) throws IOException {
        assertInvalid(post("/cluster/migrate?parallelism=" + parallelism, ""), "parallelism");
    }
}
