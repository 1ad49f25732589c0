package io.machvm.service;

/** Page-store figures for the host, in host-flavor pages. */
public record HostStatistics(int pageSize, long capacityBytes, long residentPages, long sharedPages, long freePages,
        int tasks) {
}
