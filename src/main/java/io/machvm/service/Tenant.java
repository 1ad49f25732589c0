package io.machvm.service;

/**
 * Whom a call acts for: task ids are per tenant, and a tenant sees only its own tasks unless it is an admin.
 *
 * @param name  the tenant's name, part of every task's key and of what places the task on a shard
 * @param admin whether the caller may see and act on every tenant's tasks
 */
public record Tenant(String name, boolean admin) {
    /** The tenant of anonymous access (security modes {@code protected} and {@code none}). */
    public static final Tenant DEFAULT = new Tenant("default", false);
}
