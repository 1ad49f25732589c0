package io.machvm.service;

import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;

/** A task as the API lists it. */
public record TaskInfo(String id, String name, Flavor flavor, ErrorModel errors, int pageSize, long minAddress,
        long maxAddress, int regionCount, long virtualBytes, long residentBytes) {
}
