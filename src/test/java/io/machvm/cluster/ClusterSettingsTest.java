package io.machvm.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machvm.config.InvalidSettingException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The cluster secret's settings: required on a shard, long enough, and never printed. */
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

    @Test
    void theSettingsPrintWithoutTheSecret() {
        assertThat(withSecret(true, SECRET).toString()).doesNotContain(SECRET).contains("secret=(set)");
        assertThat(withSecret(false, "").toString()).contains("secret=(none)");
    }
}
