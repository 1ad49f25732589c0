package io.machvm.service;

import io.machvm.vm.VmMap;

/** A task: its id, optional name and its address space. */
public record Task(String id, String name, VmMap map) {
}
