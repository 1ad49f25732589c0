package io.machvm.api;

import static io.machvm.vm.KernReturn.KERN_INVALID_ADDRESS;
import static io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT;
import static io.machvm.vm.KernReturn.KERN_PROTECTION_FAILURE;
import static io.machvm.vm.KernReturn.KERN_RESOURCE_SHORTAGE;
import static io.machvm.vm.KernReturn.MACH_SEND_INVALID_DEST;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The {@link Problems} of the calls that overwrite a task's memory (vm_write in both forms, vm_copy,
 * vm_read_overwrite): each ends in the same copy-on-write overwrite of the destination, so each can meet an unmapped
 * or unwritable page, an argument Mach refuses, a full page store or an unknown task, and a body over the limit or of
 * the wrong type.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.ANNOTATION_TYPE})
@Problems(value = {KERN_INVALID_ADDRESS, KERN_PROTECTION_FAILURE, KERN_INVALID_ARGUMENT, KERN_RESOURCE_SHORTAGE,
    MACH_SEND_INVALID_DEST}, http = {413, 415})
public @interface OverwriteProblems {
}
