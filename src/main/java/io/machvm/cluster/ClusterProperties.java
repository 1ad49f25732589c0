package io.machvm.cluster;

import io.machvm.config.InvalidSettingException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code machvm.cluster.*}: running as one shard of several.
 *
 * @param enabled   run as a shard (off: a single node, as before)
 * @param shard     this shard's index; -1 takes the number after the last {@code -} of {@code HOSTNAME} (StatefulSet
 *                  pod {@code machvm-2} is shard 2)
 * @param shards    the shard count of a new cluster (used only when there is no table file yet)
 * @param peers     the shards' base URLs, comma-separated, or one URL with {@code {i}} for the index (e.g.
 *                  {@code http://machvm-{i}.machvm-shards:8080}); used with {@code shards} for a new cluster
 * @param join      a peer's base URL to copy the table from when there is no table file (a shard added by a scale)
 * @param tableFile where the ownership table is kept; empty: {@code cluster.json} in
 *                  {@code machvm.persistence.directory}, else only in memory
 * @param moveWait  how long a call on a task that is being handed off waits before it answers 503
 * @param forward   whether a shard forwards a request for another shard's task (off: it answers 421)
 * @param secret    shared by every shard of the cluster, at least {@value #MIN_SECRET_LENGTH} characters: the shards'
 *                  own calls to each other (handoff, table copies) and the operator's {@code /cluster} steps send it
 *                  in {@value #SECRET_HEADER}; required with {@code enabled}
 */
@ConfigurationProperties("machvm.cluster")
public record ClusterProperties(@DefaultValue("false") boolean enabled, @DefaultValue("-1") int shard,
        @DefaultValue("0") int shards, @DefaultValue("") String peers, @DefaultValue("") String join,
        @DefaultValue("") String tableFile, @DefaultValue("5s") Duration moveWait,
        @DefaultValue("true") boolean forward, @DefaultValue("") String secret) {
    /** The request header that carries the cluster secret. */
    public static final String SECRET_HEADER = "Machvm-Cluster-Secret";
    /**
     * Sent with the secret by a shard that forwards the request of a client without credentials: absent when that
     * client was the node's operator (protected mode), {@value #ANONYMOUS_CALLER} otherwise (mode {@code none}).
     */
    public static final String CALLER_HEADER = "Machvm-Cluster-Caller";
    public static final String ANONYMOUS_CALLER = "anonymous";
    /**
     * Sent with the secret by a shard that forwards the request of a client with credentials of its own: the secret
     * marks the call as a shard's, and the client's credentials say who it acts for.
     */
    public static final String FORWARDED_CALLER = "credentials";
    public static final int MIN_SECRET_LENGTH = 32;

    public ClusterProperties {
        secret = secret == null ? "" : secret;
        if (!secret.isEmpty() && secret.length() < MIN_SECRET_LENGTH) {
            throw new InvalidSettingException("machvm.cluster.secret", "machvm.cluster.secret must be at least "
                    + MIN_SECRET_LENGTH + " characters long", "Use a random secret, e.g. openssl rand -hex 32, the "
                    + "same on every shard.");
        }
        if (enabled && secret.isEmpty()) {
            throw new InvalidSettingException("machvm.cluster.secret", "machvm.cluster.enabled=true needs "
                    + "machvm.cluster.secret: the shards authenticate their calls to each other with it",
                    "Set machvm.cluster.secret (environment MACHVM_CLUSTER_SECRET) to the same random value of at "
                            + "least " + MIN_SECRET_LENGTH + " characters on every shard, e.g. openssl rand -hex 32 "
                            + "(the Helm chart and scripts/local-cluster.sh make one).");
        }
    }

    /**
     * Whether {@code presented} is {@code secret}, compared by their SHA-256 digests in constant time (whatever the
     * lengths); false for a missing or empty one.
     */
    public static boolean isSecret(String secret, String presented) {
        if (secret == null || secret.isEmpty() || presented == null) {
            return false;
        }
        try {
            MessageDigest sha256 = MessageDigest.getInstance("SHA-256");
            byte[] expected = sha256.digest(secret.getBytes(StandardCharsets.UTF_8));
            return MessageDigest.isEqual(expected, sha256.digest(presented.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /** Without the secret: the settings may be logged, the secret never. */
    @Override
    public String toString() {
        return "ClusterProperties[enabled=" + enabled + ", shard=" + shard + ", shards=" + shards + ", peers="
                + peers + ", join=" + join + ", tableFile=" + tableFile + ", moveWait=" + moveWait + ", forward="
                + forward + ", secret=" + (secret.isEmpty() ? "(none)" : "(set)") + "]";
    }
}
