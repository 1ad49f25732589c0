package io.machvm.service;

import io.machvm.vm.VmMap;

/** A task: the tenant it belongs to, its id within the tenant, optional name and its address space. */
public record Task(String tenant, String id, String name, VmMap map) {
    /** A task of {@link Tenant#DEFAULT}. */
    public Task(String id, String name, VmMap map) {
        this(Tenant.DEFAULT.name(), id, name, map);
    }
}
