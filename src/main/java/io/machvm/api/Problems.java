package io.machvm.api;

import io.machvm.vm.KernReturn;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The problems an operation can answer with, for its OpenAPI responses ({@link OpenApiConfiguration} turns them into
 * {@code application/problem+json} responses with the ProblemDetail schema; {@code 500 KERN_FAILURE} is always added).
 * It may stand on an annotation that names a set several calls share ({@link OverwriteProblems}).
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.ANNOTATION_TYPE})
public @interface Problems {
    /** The Mach codes the call answers with. */
    KernReturn[] value();

    /** HTTP-level refusals (406, 413, 415) reported with kern KERN_INVALID_ARGUMENT. */
    int[] http() default {};
}
