package io.machvm.cluster;

import io.machvm.config.InvalidSettingException;
import io.machvm.config.MachvmProperties;
import io.machvm.service.TaskPersistence;
import io.machvm.service.TaskRegistry;
import io.machvm.service.TaskTransfers;
import io.machvm.service.TenantResolver;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.ApplicationRunner;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** Wires the cluster layer when {@code machvm.cluster.enabled} is true. */
@Configuration(proxyBeanMethods = false)
@ConditionalOnProperty(name = "machvm.cluster.enabled", havingValue = "true")
public class ClusterConfiguration {
    private static final Logger log = LoggerFactory.getLogger(ClusterConfiguration.class);
    /** After the API's own filters (dot segments) and security (-100), before the controllers. */
    static final int FILTER_ORDER = 0;

    private final JsonMapper mapper = JsonMapper.builder().build();

    static {
        // keep-alive connections kept per shard by the forwarder (HttpURLConnection's default is 5)
        if (System.getProperty("http.maxConnections") == null) {
            System.setProperty("http.maxConnections", "256");
        }
    }

    @Bean
    ClusterState clusterState(ClusterProperties properties, MachvmProperties machvm) throws Exception {
        int self = properties.shard() >= 0 ? properties.shard() : indexFromHostname(System.getenv("HOSTNAME"));
        Path file = !properties.tableFile().isBlank() ? Path.of(properties.tableFile())
                : !machvm.persistence().directory().isBlank() ? Path.of(machvm.persistence().directory(), "cluster.json") : null;
        ClusterState state = ClusterState.load(self, file);
        if (state != null) {
            log.info("shard {}: table epoch {} from {}", self, state.current().epoch(), file);
            adoptNewest(state, properties);
            return state;
        }
        if (!properties.join().isBlank() && self >= properties.shards()) {
            JsonNode json = fetch(properties.join() + "/cluster", properties.secret(), Duration.ofSeconds(60));
            state = ClusterState.fromJson(self, json, file);
            state.save();
            log.info("shard {}: joined with table epoch {} from {}", self, state.current().epoch(), properties.join());
            return state;
        }
        List<String> peers = peers(properties);
        if (self >= peers.size()) {
            throw new IllegalStateException("machvm.cluster.shard " + self + " is not one of the " + peers.size()
                    + " shards of machvm.cluster.peers");
        }
        state = new ClusterState(self, SlotTable.even(peers), null, file);
        state.save();
        log.info("shard {}: new table of {} shards", self, peers.size());
        adoptNewest(state, properties); // a shard that lost its volume: the cluster's table, if it has moved on
        return state;
    }

    @Bean
    ClusterService clusterService(ClusterState state, TaskRegistry registry,
            ObjectProvider<TaskPersistence> persistence, ClusterProperties properties) {
        TaskTransfers transfers = new TaskTransfers(registry, persistence.getIfAvailable());
        ClusterService service = new ClusterService(state, transfers, properties);
        registry.placeMintedIds(service::mintable);
        return service;
    }

    /**
     * Settles the copies of tasks that this shard holds for another ({@link StrayTasks}) once the web server runs
     * (the owners ask nothing of it) and before the shard reports ready.
     */
    @Bean
    ApplicationRunner strayTasks(ClusterService service, TaskRegistry registry, ClusterProperties properties) {
        StrayTasks strays = new StrayTasks(service, registry, properties.secret());
        return arguments -> strays.settleAtStart();
    }

    @Bean
    FilterRegistrationBean<ClusterFilter> clusterFilter(ClusterService service, ClusterProperties properties,
            ObjectProvider<TenantResolver> tenants) {
        ClusterFilter filter = new ClusterFilter(service, tenants.getIfAvailable(() -> TenantResolver.ANONYMOUS),
                mapper, properties);
        FilterRegistrationBean<ClusterFilter> registration = new FilterRegistrationBean<>(filter);
        registration.setOrder(FILTER_ORDER);
        return registration;
    }

    /**
     * A restarted shard routes by the cluster's table, not by the one on its own volume: that one is older when the
     * shard missed a scale (it was down, or its volume was restored from a copy taken before). It asks every shard it
     * knows of (its table's, a scale's under way, {@code peers} and {@code join}) and takes the newest table any of them
     * has; a scale is the only thing that changes it, and numbers it. When none answers (the whole cluster starting),
     * it keeps its own.
     */
    private void adoptNewest(ClusterState state, ClusterProperties properties) {
        Set<String> urls = new LinkedHashSet<>();
        for (SlotTable table : Arrays.asList(state.current(), state.pending())) {
            if (table != null) {
                for (int i = 0; i < table.shards().size(); i++) {
                    if (i != state.self()) {
                        urls.add(table.url(i));
                    }
                }
            }
        }
        if (!properties.peers().isBlank()) {
            List<String> configured = peers(properties);
            for (int i = 0; i < configured.size(); i++) {
                if (i != state.self()) {
                    urls.add(configured.get(i));
                }
            }
        }
        if (!properties.join().isBlank()) {
            urls.add(properties.join());
        }
        ClusterState newest = null;
        String from = null;
        for (String url : urls) {
            try {
                ClusterState peer = ClusterState.fromJson(state.self(), fetch(url + "/cluster", properties.secret(),
                        Duration.ZERO), null);
                if ((newest == null ? state : newest).olderThan(peer)) {
                    newest = peer;
                    from = url;
                }
            } catch (Exception e) {
                log.info("shard {}: {} did not give its table: {}", state.self(), url, e.toString());
            }
        }
        if (newest != null) {
            log.info("shard {}: table epoch {}{} from {} replaces epoch {}{}", state.self(), newest.current().epoch(),
                    newest.pending() == null ? "" : " (scale to " + newest.pending().epoch() + " under way)", from,
                    state.current().epoch(), state.pending() == null ? "" : " (scale to "
                            + state.pending().epoch() + " under way)");
            state.adopt(newest);
        }
    }

    static List<String> peers(ClusterProperties properties) {
        List<String> peers = new ArrayList<>();
        String spec = properties.peers().trim();
        if (spec.contains("{i}")) {
            if (properties.shards() < 1) {
                throw new IllegalStateException("machvm.cluster.shards must be at least 1 with a peers template");
            }
            for (int i = 0; i < properties.shards(); i++) {
                peers.add(spec.replace("{i}", Integer.toString(i)));
            }
        } else {
            for (String url : spec.split(",")) {
                if (!url.isBlank()) {
                    peers.add(url.trim());
                }
            }
        }
        if (peers.isEmpty()) {
            throw new IllegalStateException("machvm.cluster.peers is empty: list the shards' URLs");
        }
        try {
            SlotTable.checkShards(peers);
        } catch (IllegalArgumentException e) {
            throw new InvalidSettingException("machvm.cluster.peers", "machvm.cluster.peers: " + e.getMessage());
        }
        return peers;
    }

    /** {@code machvm-2} → 2: a StatefulSet pod's ordinal. */
    static int indexFromHostname(String hostname) {
        if (hostname != null) {
            int dash = hostname.lastIndexOf('-');
            try {
                return Integer.parseInt(hostname.substring(dash + 1));
            } catch (NumberFormatException ignored) {
                // fall through
            }
        }
        throw new IllegalStateException("set machvm.cluster.shard: HOSTNAME " + hostname
                + " does not end in -<index>");
    }

    /** The peer's {@code GET /cluster}, asked with the cluster secret; retried while the peer starts. */
    private JsonNode fetch(String url, String secret, Duration patience) throws Exception {
        long deadline = System.nanoTime() + patience.toNanos();
        try (HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()) {
            while (true) {
                try {
                    HttpResponse<InputStream> answer = client.send(HttpRequest.newBuilder(URI.create(url))
                            .header(ClusterProperties.SECRET_HEADER, secret).build(),
                            HttpResponse.BodyHandlers.ofInputStream());
                    try (InputStream in = answer.body()) {
                        if (answer.statusCode() == 200) {
                            return mapper.readTree(in);
                        }
                        if (answer.statusCode() == 401 || answer.statusCode() == 403) {
                            throw new IllegalStateException(url + " refused the cluster secret (status "
                                    + answer.statusCode() + "): machvm.cluster.secret must be the same on every "
                                    + "shard");
                        }
                    }
                } catch (java.io.IOException e) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("cannot read the table from " + url + ": " + e, e);
                    }
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("cannot read the table from " + url);
                }
                Thread.sleep(500);
            }
        }
    }
}
