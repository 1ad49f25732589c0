package io.machvm.service;

import io.machvm.vm.KernException;
import io.machvm.vm.KernReturn;

/** {@code PUT /tasks/{id}} for an id that exists with other settings. */
public final class TaskConflictException extends KernException {
    public TaskConflictException(String detail) {
        super(KernReturn.KERN_NAME_EXISTS, detail);
    }
}
