package io.machvm.cluster;

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
 */
@ConfigurationProperties("machvm.cluster")
public record ClusterProperties(@DefaultValue("false") boolean enabled, @DefaultValue("-1") int shard,
        @DefaultValue("0") int shards, @DefaultValue("") String peers, @DefaultValue("") String join,
        @DefaultValue("") String tableFile, @DefaultValue("5s") Duration moveWait,
        @DefaultValue("true") boolean forward) {
}
