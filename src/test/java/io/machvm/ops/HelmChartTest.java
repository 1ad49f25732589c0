package io.machvm.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import io.machvm.ops.EntrypointScript.Result;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.yaml.snakeyaml.Yaml;

/** The Helm chart helm/machvm: lint, then render with default and other values and check what Kubernetes gets. */
class HelmChartTest {
    private static final Path CHART = Path.of("helm", "machvm");

    @TempDir
    Path temp;

    @Test
    void chartLintsCleanly() {
        LintResult result = new Helm(CHART).lint().strict().call();
        assertThat(result.isFailed()).as(String.join("\n", result.getMessages())).isFalse();
    }

    @Test
    void defaultsRenderStatefulSetServicesDisruptionBudgetAndClusterSecretOnly() {
        Map<String, Map<String, Object>> objects = render(Map.of());
        assertThat(objects.keySet()).containsExactlyInAnyOrder("StatefulSet/ops-machvm", "Service/ops-machvm",
                "Service/ops-machvm-shards", "PodDisruptionBudget/ops-machvm", "Secret/ops-machvm-cluster");
    }

    @Test
    void probesUseTheActuatorHealthGroups() {
        Map<String, Object> container = container(render(Map.of()));
        assertThat(value(container, "startupProbe.httpGet.path")).isEqualTo("/actuator/health/liveness");
        assertThat(value(container, "livenessProbe.httpGet.path")).isEqualTo("/actuator/health/liveness");
        assertThat(value(container, "readinessProbe.httpGet.path")).isEqualTo("/actuator/health/readiness");
        assertThat(value(container, "readinessProbe.httpGet.port")).isEqualTo("http");
        assertThat(value(container, "ports.0.containerPort")).isEqualTo(8080);
        assertThat(value(container, "ports.0.name")).isEqualTo("http");
        assertThat(value(container, "lifecycle.preStop.exec.command")).isEqualTo(List.of("sleep", "5"));
    }

    @Test
    void podRunsRestricted() {
        Map<String, Map<String, Object>> objects = render(Map.of());
        Map<String, Object> pod = get(objects.get("StatefulSet/ops-machvm"), "spec.template.spec");
        assertThat(value(pod, "securityContext.runAsNonRoot")).isEqualTo(true);
        assertThat(value(pod, "securityContext.runAsUser")).isEqualTo(10001);
        assertThat(value(pod, "securityContext.seccompProfile.type")).isEqualTo("RuntimeDefault");
        assertThat(value(pod, "automountServiceAccountToken")).isEqualTo(false);
        assertThat(value(pod, "enableServiceLinks")).isEqualTo(false);
        // preStop 5 + drain 20 + 1024 MiB at 100 MiB/s (11) + 10
        assertThat(value(pod, "terminationGracePeriodSeconds")).isEqualTo(46);

        Map<String, Object> container = container(objects);
        assertThat(value(container, "securityContext.runAsNonRoot")).isEqualTo(true);
        assertThat(value(container, "securityContext.runAsUser")).isEqualTo(10001);
        assertThat(value(container, "securityContext.allowPrivilegeEscalation")).isEqualTo(false);
        assertThat(value(container, "securityContext.readOnlyRootFilesystem")).isEqualTo(true);
        assertThat(value(container, "securityContext.capabilities.drop")).isEqualTo(List.of("ALL"));
        assertThat(value(container, "securityContext.seccompProfile.type")).isEqualTo("RuntimeDefault");
        // the one writable place: /tmp (JVM perf data, Tomcat work directory)
        assertThat(value(container, "volumeMounts.0.mountPath")).isEqualTo("/tmp");
        assertThat(value(pod, "volumes.0.name")).isEqualTo(get(container, "volumeMounts.0.name"));
        assertThat(value(pod, "volumes.0.emptyDir.sizeLimit")).isEqualTo("64Mi");
    }

    /** limit = store + heap + overhead; -Xmx = heap; -XX:MaxDirectMemorySize = store + headroom. */
    @ParameterizedTest
    @CsvSource({
            // capacity, heap, overhead, headroom, limit, java options
            "1024, 512, 256, 64, 1792Mi, -Xmx512m -XX:MaxDirectMemorySize=1088m -XX:+ExitOnOutOfMemoryError",
            "4096, 1024, 384, 128, 5504Mi, -Xmx1024m -XX:MaxDirectMemorySize=4224m -XX:+ExitOnOutOfMemoryError",
            "256, 256, 256, 64, 768Mi, -Xmx256m -XX:MaxDirectMemorySize=320m -XX:+ExitOnOutOfMemoryError"})
    void memoryLimitAndJvmFlagsComeFromTheSameValues(int capacity, int heap, int overhead, int headroom,
            String limit, String javaOptions) {
        Map<String, Map<String, Object>> objects = render(Map.of("machvm.store.capacityMiB", capacity,
                "jvm.heapMiB", heap, "jvm.overheadMiB", overhead, "jvm.directHeadroomMiB", headroom));
        Map<String, Object> container = container(objects);
        assertThat(value(container, "resources.limits.memory")).isEqualTo(limit);
        assertThat(value(container, "resources.requests.memory")).isEqualTo(limit);
        Map<String, String> env = env(container);
        assertThat(env).containsEntry("JAVA_TOOL_OPTIONS", javaOptions)
                .containsEntry("MACHVM_STORE_CAPACITY", capacity + "MB");

        // The image's entrypoint, given the same limit, capacity and overheads, arrives at the same flags.
        long limitBytes = Long.parseLong(limit.replace("Mi", "")) << 20;
        Result script = EntrypointScript.run(EntrypointScript.cgroupV2(temp, String.valueOf(limitBytes)),
                Map.of("MACHVM_STORE_CAPACITY", env.get("MACHVM_STORE_CAPACITY"),
                        "MACHVM_JVM_OVERHEAD_MIB", String.valueOf(overhead),
                        "MACHVM_DIRECT_HEADROOM_MIB", String.valueOf(headroom)));
        assertThat(script.command()).contains("-Xmx" + heap + "m",
                "-XX:MaxDirectMemorySize=" + (capacity + headroom) + "m");
    }

    @Test
    void applicationSettingsBecomeEnvironmentVariables() {
        Map<String, String> env = env(container(render(Map.of("machvm.host.flavor", "x86_64",
                "machvm.vm.errors", "xnu", "machvm.store.slabSizeMiB", 16, "machvm.api.maxTransferMiB", 8,
                "machvm.tasks.max", 500))));
        assertThat(env).containsEntry("MACHVM_HOST_FLAVOR", "x86_64")
                .containsEntry("MACHVM_VM_ERRORS", "xnu")
                .containsEntry("MACHVM_STORE_CAPACITY", "1024MB")
                .containsEntry("MACHVM_STORE_SLABSIZE", "16MB")
                .containsEntry("MACHVM_API_MAXTRANSFER", "8MB")
                .containsEntry("MACHVM_TASKS_MAX", "500");
    }

    @Test
    void securityDefaultsToProtectedMode() {
        Map<String, String> env = env(container(render(Map.of())));
        assertThat(env).containsEntry("MACHVM_SECURITY_MODE", "protected")
                .containsEntry("MACHVM_CONNECTIONS_MAXPERCLIENT", "256");
        assertThat(env.keySet()).noneMatch(name -> name.startsWith("MACHVM_SECURITY_APIKEYS_"));
    }

    @Test
    void apiKeysComeFromASecretOneVariablePerTenant() {
        Map<String, Object> container = container(render(Map.of("security.mode", "api-key",
                "security.apiKeys.existingSecret", "machvm-api-keys", "security.apiKeys.tenants[0]", "acme",
                "security.apiKeys.tenants[1]", "team.b", "security.adminTenants[0]", "ops",
                "security.apiKeys.tenants[2]", "ops")));
        assertThat(env(container)).containsEntry("MACHVM_SECURITY_MODE", "api-key")
                .containsEntry("MACHVM_SECURITY_ADMINTENANTS", "ops");
        List<Map<String, Object>> variables = get(container, "env");
        Map<String, Object> byName = new LinkedHashMap<>();
        variables.forEach(v -> byName.put((String) v.get("name"), v));
        for (String[] tenant : new String[][] {{"ACME", "acme"}, {"TEAM_B", "team.b"}, {"OPS", "ops"}}) {
            Map<String, Object> variable = get(byName, "MACHVM_SECURITY_APIKEYS_" + tenant[0]);
            assertThat(variable).as(tenant[1]).isNotNull().doesNotContainKey("value");
            assertThat(value(variable, "valueFrom.secretKeyRef.name")).isEqualTo("machvm-api-keys");
            assertThat(value(variable, "valueFrom.secretKeyRef.key")).isEqualTo(tenant[1]);
        }
        assertThatThrownBy(() -> render(Map.of("security.mode", "api-key")))
                .hasMessageContaining("security.apiKeys.existingSecret");
        assertThatThrownBy(() -> render(Map.of("security.mode", "api-key", "security.apiKeys.existingSecret", "s",
                "security.apiKeys.tenants[0]", "Team_A"))).hasMessageContaining("lower-case");
        assertThatThrownBy(() -> render(Map.of("security.mode", "open"))).hasMessageContaining("security.mode");
    }

    @Test
    void jwtModeTakesTheIssuerAndTheMetricsScrapeAnAdminToken() {
        Map<String, String> env = env(container(render(Map.of("security.mode", "jwt",
                "security.jwt.issuerUri", "https://issuer.example", "security.jwt.tenantClaim", "tenant"))));
        assertThat(env).containsEntry("SPRING_SECURITY_OAUTH2_RESOURCESERVER_JWT_ISSUERURI", "https://issuer.example")
                .containsEntry("MACHVM_SECURITY_TENANTCLAIM", "tenant");
        assertThatThrownBy(() -> render(Map.of("security.mode", "jwt"))).hasMessageContaining("issuerUri");
        Map<String, Object> monitor = render(Map.of("serviceMonitor.enabled", true,
                "serviceMonitor.bearerTokenSecret.name", "machvm-api-keys", "serviceMonitor.bearerTokenSecret.key",
                "ops")).get("ServiceMonitor/ops-machvm");
        assertThat(value(monitor, "spec.endpoints.0.authorization.type")).isEqualTo("Bearer");
        assertThat(value(monitor, "spec.endpoints.0.authorization.credentials.name")).isEqualTo("machvm-api-keys");
        assertThat(value(monitor, "spec.endpoints.0.authorization.credentials.key")).isEqualTo("ops");
    }

    @Test
    void serviceMonitorOnlyWhenEnabled() {
        assertThat(render(Map.of()).keySet()).noneMatch(key -> key.startsWith("ServiceMonitor/"));
        Map<String, Map<String, Object>> objects = render(Map.of("serviceMonitor.enabled", true,
                "serviceMonitor.labels.release", "kube-prometheus-stack"));
        Map<String, Object> monitor = objects.get("ServiceMonitor/ops-machvm");
        assertThat(monitor).isNotNull();
        assertThat(value(monitor, "apiVersion")).isEqualTo("monitoring.coreos.com/v1");
        assertThat(value(monitor, "metadata.labels.release")).isEqualTo("kube-prometheus-stack");
        assertThat(value(monitor, "spec.endpoints.0.port")).isEqualTo("http");
        assertThat(value(monitor, "spec.endpoints.0.path")).isEqualTo("/actuator/prometheus");
        Map<String, Object> serviceLabels = get(objects.get("Service/ops-machvm"), "metadata.labels");
        Map<String, Object> selector = get(monitor, "spec.selector.matchLabels");
        assertThat(serviceLabels).containsAllEntriesOf(selector);
    }

    @Test
    void serviceAndDisruptionBudgetSelectThePods() {
        Map<String, Map<String, Object>> objects = render(Map.of());
        Map<String, Object> podLabels = get(objects.get("StatefulSet/ops-machvm"), "spec.template.metadata.labels");
        Map<String, Object> serviceSelector = get(objects.get("Service/ops-machvm"), "spec.selector");
        assertThat(podLabels).containsAllEntriesOf(serviceSelector);
        assertThat(value(objects.get("Service/ops-machvm"), "spec.ports.0.targetPort")).isEqualTo("http");

        Map<String, Object> budget = objects.get("PodDisruptionBudget/ops-machvm");
        assertThat(value(budget, "apiVersion")).isEqualTo("policy/v1");
        assertThat(value(budget, "spec.maxUnavailable")).isEqualTo(1);
        assertThat(podLabels).containsAllEntriesOf(get(budget, "spec.selector.matchLabels"));

        assertThat(render(Map.of("podDisruptionBudget.enabled", false)).keySet())
                .noneMatch(key -> key.startsWith("PodDisruptionBudget/"));
    }

    @Test
    void networkPolicyAdmitsTheNamespaceByDefaultOrTheGivenPeers() throws IOException {
        assertThat(render(Map.of()).keySet()).noneMatch(key -> key.startsWith("NetworkPolicy/"));

        Map<String, Map<String, Object>> objects = render(Map.of("networkPolicy.enabled", true));
        Map<String, Object> policy = objects.get("NetworkPolicy/ops-machvm");
        assertThat(value(policy, "spec.policyTypes")).isEqualTo(List.of("Ingress"));
        assertThat(value(policy, "spec.ingress.0.ports.0.port")).isEqualTo("http");
        assertThat(value(policy, "spec.ingress.0.from")).isEqualTo(List.of(Map.of("podSelector", Map.of())));
        Map<String, Object> podLabels = get(objects.get("StatefulSet/ops-machvm"), "spec.template.metadata.labels");
        assertThat(podLabels).containsAllEntriesOf(get(policy, "spec.podSelector.matchLabels"));

        Path values = Files.writeString(temp.resolve("values.yaml"), """
                replicaCount: 3
                networkPolicy:
                  enabled: true
                  from:
                    - namespaceSelector:
                        matchLabels:
                          kubernetes.io/metadata.name: ingress-nginx
                    - namespaceSelector:
                        matchLabels:
                          kubernetes.io/metadata.name: monitoring
                """);
        Map<String, Map<String, Object>> custom = render(new Helm(CHART).template().withName("ops")
                .withValuesFile(values));
        List<Map<String, Object>> from = get(custom.get("NetworkPolicy/ops-machvm"), "spec.ingress.0.from");
        assertThat(from).extracting(peer -> peer.containsKey("namespaceSelector")
                ? value(peer, "namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name") : "shards")
                .containsExactly("ingress-nginx", "monitoring", "shards");
        assertThat(podLabels).containsAllEntriesOf(get(from.get(2), "podSelector.matchLabels"));
        assertThat(value(custom.get("StatefulSet/ops-machvm"), "spec.replicas")).isEqualTo(3);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "machvm.store.capacityMiB | 0 | machvm.store.capacityMiB must be at least 1, not 0",
            "machvm.store.slabSizeMiB | 48 | machvm.store.slabSizeMiB must be a power of two from 1 to 1024, not 48",
            "jvm.heapMiB | 64 | jvm.heapMiB must be at least 128, not 64",
            "jvm.directHeadroomMiB | 256 | jvm.directHeadroomMiB must be at least 16 and below jvm.overheadMiB (256), not 256",
            "machvm.tasks.max | 0 | machvm.tasks.max must be at least 1, not 0"})
    void impossibleSizesStopRenderingWithOneLine(String key, String value, String message) {
        assertThatThrownBy(() -> render(Map.of(key, value))).hasMessageContaining(message);
    }

    @Test
    void eachShardIsAStatefulSetPodWithItsOwnVolume() {
        Map<String, Map<String, Object>> objects = render(Map.of("replicaCount", 3, "persistence.size", "5Gi"));
        Map<String, Object> set = objects.get("StatefulSet/ops-machvm");
        assertThat(value(set, "spec.replicas")).isEqualTo(3);
        assertThat(value(set, "spec.serviceName")).isEqualTo("ops-machvm-shards");
        assertThat(value(set, "spec.podManagementPolicy")).isEqualTo("Parallel");
        assertThat(value(set, "spec.updateStrategy.type")).isEqualTo("RollingUpdate");
        assertThat(value(set, "spec.volumeClaimTemplates.0.metadata.name")).isEqualTo("data");
        assertThat(value(set, "spec.volumeClaimTemplates.0.spec.accessModes")).isEqualTo(List.of("ReadWriteOncePod"));
        assertThat(value(set, "spec.volumeClaimTemplates.0.spec.resources.requests.storage")).isEqualTo("5Gi");
        assertThat(value(set, "spec.persistentVolumeClaimRetentionPolicy.whenScaled")).isEqualTo("Retain");
        assertThat(objects.keySet()).noneMatch(key -> key.startsWith("PersistentVolumeClaim/")
                || key.startsWith("Deployment/"));
        Map<String, Object> container = container(objects);
        assertThat(value(container, "volumeMounts.1.name")).isEqualTo("data");
        assertThat(value(container, "volumeMounts.1.mountPath")).isEqualTo("/var/lib/machvm");
        assertThat(env(container)).containsEntry("MACHVM_PERSISTENCE_DIRECTORY", "/var/lib/machvm");

        Map<String, Object> headless = objects.get("Service/ops-machvm-shards");
        assertThat(value(headless, "spec.clusterIP")).isEqualTo("None");
        assertThat(value(headless, "spec.publishNotReadyAddresses")).isEqualTo(true);
        Map<String, Object> podLabels = get(set, "spec.template.metadata.labels");
        assertThat(podLabels).containsAllEntriesOf(get(headless, "spec.selector"));

        Map<String, Map<String, Object>> modes = render(Map.of("persistence.accessModes[0]", "ReadWriteOnce"));
        assertThat(value(modes.get("StatefulSet/ops-machvm"), "spec.volumeClaimTemplates.0.spec.accessModes"))
                .isEqualTo(List.of("ReadWriteOnce"));
    }

    @Test
    void withoutPersistenceThereIsNoVolume() {
        Map<String, Map<String, Object>> objects = render(Map.of("persistence.enabled", false));
        assertThat((Map<String, Object>) get(objects.get("StatefulSet/ops-machvm"), "spec"))
                .doesNotContainKey("volumeClaimTemplates");
        assertThat(env(container(objects))).doesNotContainKey("MACHVM_PERSISTENCE_DIRECTORY");
        // nothing to save: preStop 5 + drain 20 + 10
        assertThat(value(objects.get("StatefulSet/ops-machvm"), "spec.template.spec.terminationGracePeriodSeconds"))
                .isEqualTo(35);
    }

    @ParameterizedTest
    @CsvSource({
            // capacity MiB, save MiB/s, preStop, grace
            "1024, 100, 5, 46", "8192, 100, 5, 117", "8192, 400, 0, 51", "64, 100, 5, 36"})
    void gracePeriodCoversSavingTheWholeStore(int capacity, int rate, int preStop, int grace) {
        Map<String, Map<String, Object>> objects = render(Map.of("machvm.store.capacityMiB", capacity,
                "persistence.saveMiBPerSecond", rate, "preStopSleepSeconds", preStop));
        assertThat(value(objects.get("StatefulSet/ops-machvm"), "spec.template.spec.terminationGracePeriodSeconds"))
                .isEqualTo(grace);
        Map<String, Map<String, Object>> fixed = render(Map.of("terminationGracePeriodSeconds", 600));
        assertThat(value(fixed.get("StatefulSet/ops-machvm"), "spec.template.spec.terminationGracePeriodSeconds"))
                .isEqualTo(600);
    }

    @Test
    void shardsKnowTheirPeersAndJoinShardZero() {
        Map<String, String> env = env(container(render(Map.of("replicaCount", 4, "cluster.initialShards", 4))));
        assertThat(env).containsEntry("MACHVM_CLUSTER_ENABLED", "true")
                .containsEntry("MACHVM_CLUSTER_SHARDS", "4")
                .containsEntry("MACHVM_CLUSTER_PEERS", "http://ops-machvm-{i}.ops-machvm-shards.default.svc.cluster.local:8080")
                .containsEntry("MACHVM_CLUSTER_JOIN", "http://ops-machvm-0.ops-machvm-shards.default.svc.cluster.local:8080")
                .containsEntry("MACHVM_CLUSTER_MOVEWAIT", "5s");
        // the shard count is not part of the pod template: scaling does not restart the shards
        assertThat(render(Map.of("replicaCount", 5)).get("StatefulSet/ops-machvm").get("spec").toString()
                .replace("replicas=5", "replicas=3"))
                .isEqualTo(render(Map.of("replicaCount", 3)).get("StatefulSet/ops-machvm").get("spec").toString());
    }

    @Test
    void theClusterSecretIsMadeByTheChartOrTakenFromTheUsersSecret() {
        Map<String, Map<String, Object>> objects = render(Map.of());
        Map<String, Object> secret = objects.get("Secret/ops-machvm-cluster");
        String value = new String(Base64.getDecoder().decode((String) value(secret, "data.secret")),
                StandardCharsets.UTF_8);
        assertThat(value).hasSizeGreaterThanOrEqualTo(32).matches("[A-Za-z0-9]+");
        // random per installation: a second render (a second release) gets another one
        assertThat(value(render(Map.of()).get("Secret/ops-machvm-cluster"), "data.secret"))
                .isNotEqualTo(value(secret, "data.secret"));
        Map<String, Object> variable = envVariable(container(objects), "MACHVM_CLUSTER_SECRET");
        assertThat(variable).doesNotContainKey("value");
        assertThat(value(variable, "valueFrom.secretKeyRef.name")).isEqualTo("ops-machvm-cluster");
        assertThat(value(variable, "valueFrom.secretKeyRef.key")).isEqualTo("secret");

        Map<String, Map<String, Object>> own = render(Map.of("cluster.secret.existingSecret", "machvm-cluster-key",
                "cluster.secret.key", "token"));
        assertThat(own.keySet()).noneMatch(key -> key.startsWith("Secret/"));
        Map<String, Object> fromOwn = envVariable(container(own), "MACHVM_CLUSTER_SECRET");
        assertThat(value(fromOwn, "valueFrom.secretKeyRef.name")).isEqualTo("machvm-cluster-key");
        assertThat(value(fromOwn, "valueFrom.secretKeyRef.key")).isEqualTo("token");
    }

    @Test
    void gatewayRouteReachesTheServiceWithoutLimits() {
        assertThat(render(Map.of()).keySet()).noneMatch(key -> key.startsWith("HTTPRoute/"));
        Map<String, Map<String, Object>> objects = render(Map.of("gateway.enabled", true,
                "gateway.parentRefs[0].name", "eg", "gateway.parentRefs[0].namespace", "envoy-gateway-system",
                "gateway.hostnames[0]", "machvm.example.com"));
        Map<String, Object> route = objects.get("HTTPRoute/ops-machvm");
        assertThat(value(route, "apiVersion")).isEqualTo("gateway.networking.k8s.io/v1");
        assertThat(value(route, "spec.parentRefs.0.name")).isEqualTo("eg");
        assertThat(value(route, "spec.hostnames")).isEqualTo(List.of("machvm.example.com"));
        assertThat(value(route, "spec.rules.0.backendRefs.0.name")).isEqualTo("ops-machvm");
        assertThat(value(route, "spec.rules.0.backendRefs.0.port")).isEqualTo(80);
        assertThat(value(route, "spec.rules.0.timeouts.request")).isEqualTo("0s");
        assertThat(value(route, "spec.rules.0.matches.0.path.value")).isEqualTo("/tasks");
        assertThat(route.toString()).doesNotContainIgnoringCase("body");
        assertThatThrownBy(() -> render(Map.of("gateway.enabled", true))).hasMessageContaining("gateway.parentRefs");
    }

    // ------------------------------------------------------------------ rendering and YAML access

    private static Map<String, Map<String, Object>> render(Map<String, Object> values) {
        TemplateCommand command = new Helm(CHART).template().withName("ops");
        values.forEach(command::set);
        return render(command);
    }

    /** Rendered objects by "Kind/name". */
    @SuppressWarnings("unchecked")
    private static Map<String, Map<String, Object>> render(TemplateCommand command) {
        String manifests = command.call();
        Map<String, Map<String, Object>> objects = new LinkedHashMap<>();
        for (Object document : new Yaml().loadAll(manifests)) {
            if (document instanceof Map<?, ?> map) {
                Map<String, Object> object = (Map<String, Object>) map;
                String key = object.get("kind") + "/" + get(object, "metadata.name");
                assertThat(objects.put(key, object)).as("duplicate " + key).isNull();
            }
        }
        return objects;
    }

    private static Map<String, Object> container(Map<String, Map<String, Object>> objects) {
        return get(objects.get("StatefulSet/ops-machvm"), "spec.template.spec.containers.0");
    }

    private static Map<String, String> env(Map<String, Object> container) {
        List<Map<String, Object>> env = get(container, "env");
        Map<String, String> byName = new LinkedHashMap<>();
        env.forEach(variable -> byName.put((String) variable.get("name"), (String) variable.get("value")));
        return byName;
    }

    private static Map<String, Object> envVariable(Map<String, Object> container, String name) {
        List<Map<String, Object>> env = get(container, "env");
        return env.stream().filter(variable -> name.equals(variable.get("name"))).findFirst()
                .orElseThrow(() -> new AssertionError("no variable " + name));
    }

    private static Object value(Object root, String path) {
        return get(root, path);
    }

    /** A value by dotted path; a number indexes a list; {@code \.} is a literal dot in a key. */
    @SuppressWarnings("unchecked")
    private static <T> T get(Object root, String path) {
        Object current = root;
        List<String> keys = new ArrayList<>();
        for (String part : path.split("(?<!\\\\)\\.")) {
            keys.add(part.replace("\\.", "."));
        }
        for (String key : keys) {
            Objects.requireNonNull(current, () -> "no value at " + path);
            current = current instanceof List<?> list ? list.get(Integer.parseInt(key)) : ((Map<String, Object>) current).get(key);
        }
        return (T) current;
    }
}
