package io.machvm.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machvm.config.InvalidSettingException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The cluster's settings: the secret required on a shard, long enough, never printed; the peers base URLs. */
class ClusterSettingsTest {
    static final String SECRET = "0123456789abcdef0123456789abcdef";

    private static ClusterProperties withSecret(boolean enabled, String secret) {
        return new ClusterProperties(enabled, 0, 1, "http://a:1", "", "", Duration.ofSeconds(5), true, secret);
    }

    @Test
    void aShardNeedsASecretOfAtLeast32Characters() {
        assertThatThrownBy(() -> withSecret(true, ""))
                .isInstanceOfSatisfying(InvalidSettingException.class,
                        e -> assertThat(e.setting()).isEqualTo("machvm.cluster.secret"))
                .hasMessageContaining("machvm.cluster.enabled=true needs machvm.cluster.secret");
        String short31 = SECRET.substring(1);
        assertThatThrownBy(() -> withSecret(true, short31)).isInstanceOf(InvalidSettingException.class)
                .hasMessage("machvm.cluster.secret must be at least 32 characters long")
                .satisfies(e -> assertThat(e.getMessage() + ((InvalidSettingException) e).action())
                        .doesNotContain(short31));
        assertThat(withSecret(true, SECRET).secret()).isEqualTo(SECRET);
        // a single node needs none
        assertThat(withSecret(false, "").secret()).isEmpty();
    }

    private static ClusterProperties withPeers(int shards, String peers) {
        return new ClusterProperties(true, 0, shards, peers, "", "", Duration.ofSeconds(5), true, SECRET);
    }

    @Test
    void peersAreDistinctBaseUrls() {
        assertThat(ClusterConfiguration.peers(withPeers(2, "http://a:1, https://b:2")))
                .containsExactly("http://a:1", "https://b:2");
        assertThat(ClusterConfiguration.peers(withPeers(3, "http://machvm-{i}.machvm-shards:8080")))
                .containsExactly("http://machvm-0.machvm-shards:8080", "http://machvm-1.machvm-shards:8080",
                        "http://machvm-2.machvm-shards:8080");
        for (String bad : new String[] {"a:1", "http://a:1,http://a:1", "http://a:1/api", "ftp://a:1"}) {
            assertThatThrownBy(() -> ClusterConfiguration.peers(withPeers(2, bad))).as(bad)
                    .isInstanceOfSatisfying(InvalidSettingException.class,
                            e -> assertThat(e.setting()).isEqualTo("machvm.cluster.peers"))
                    .hasMessageStartingWith("machvm.cluster.peers: shard");
        }
    }

    @Test
    void theSettingsPrintWithoutTheSecret() {
        assertThat(withSecret(true, SECRET).toString()).doesNotContain(SECRET).contains("secret=(set)");
        assertThat(withSecret(false, "").toString()).contains("secret=(none)");
    }
}
