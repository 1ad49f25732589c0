package io.machvm.persistence;

import io.machvm.vm.VmMap;

/**
 * A task as the checkpoint log keeps it: its tenant, id, optional name and map.
 *
 * @param tenant the tenant's name ({@code default} for anonymous access)
 */
public record DurableTask(String tenant, String id, String name, VmMap map) {
}
