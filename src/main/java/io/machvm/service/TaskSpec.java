package io.machvm.service;

import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;

/** What a new task is created with; null fields take the configured defaults. */
public record TaskSpec(Flavor flavor, ErrorModel errors, String name) {
    public static final TaskSpec DEFAULTS = new TaskSpec(null, null, null);

    /** This spec with its absent flavor and error model taken from {@code defaults}. */
    TaskSpec withDefaults(TaskSpec defaults) {
        return new TaskSpec(flavor == null ? defaults.flavor : flavor, errors == null ? defaults.errors : errors, name);
    }
}
