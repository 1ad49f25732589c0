package io.machvm.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.service.TaskRegistry;
import io.machvm.service.Tenant;
import org.junit.jupiter.api.Test;

/**
 * How a shard reads the task id of a path before it routes: as the API will (percent-decoded, without path
 * parameters), in the tenant the caller may address, so that an admin's {@code tenant~id} goes to the shard of that
 * tenant's task.
 */
class ClusterRoutingTest {

    @Test
    void aPathSegmentIsTheIdTheApiWillSee() {
        Tenant acme = new Tenant("acme", false);
        assertThat(ClusterFilter.pathTask(acme, "build-42")).isEqualTo(new TaskRegistry.Address("acme", "build-42"));
        // percent-encoded and with path parameters, as Spring MVC decodes the {task} variable
        assertThat(ClusterFilter.pathTask(acme, "build%2D42")).isEqualTo(new TaskRegistry.Address("acme", "build-42"));
        assertThat(ClusterFilter.pathTask(acme, "build-42;v=1"))
                .isEqualTo(new TaskRegistry.Address("acme", "build-42"));
        // the tenant's own qualifier is its own task; another tenant's is no task of this caller
        assertThat(ClusterFilter.pathTask(acme, "acme~build-42"))
                .isEqualTo(new TaskRegistry.Address("acme", "build-42"));
        assertThat(ClusterFilter.pathTask(acme, "beta~build-42")).isNull();
        assertThat(ClusterFilter.pathTask(acme, "beta%7Ebuild-42")).isNull();
        // malformed: left to the API (400)
        assertThat(ClusterFilter.pathTask(acme, "build%2")).isNull();
        assertThat(ClusterFilter.pathTask(acme, "a%2Fb")).isNull();
        assertThat(ClusterFilter.pathTask(acme, "a+b")).isNull();
    }

    @Test
    void anAdminsQualifiedIdIsPlacedByItsTenantAndPlacementKey() {
        Tenant ops = new Tenant("ops", true);
        TaskRegistry.Address qualified = ClusterFilter.pathTask(ops, "beta~build-42.fork1");
        assertThat(qualified).isEqualTo(new TaskRegistry.Address("beta", "build-42.fork1"));
        assertThat(Placement.slot(qualified.tenant(), qualified.id())).isEqualTo(Placement.slot("beta", "build-42"));
        assertThat(ClusterFilter.pathTask(ops, "beta%7Ebuild-42"))
                .isEqualTo(new TaskRegistry.Address("beta", "build-42"));
        assertThat(ClusterFilter.pathTask(ops, "build-42")).isEqualTo(new TaskRegistry.Address("ops", "build-42"));
        assertThat(ClusterFilter.task(ops, "no/tenant~x")).isNull();
        assertThat(ClusterFilter.task(ops, "beta~")).isNull();
        assertThat(ClusterFilter.task(ops, null)).isNull();
    }
}
