package io.machvm.api;

import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.enums.ParameterIn;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.springframework.core.annotation.AliasFor;

/**
 * Documents an operation's {@code {task}} path parameter, a task id, for OpenAPI: springdoc finds the
 * {@link Parameter} through this annotation as if it stood on the method.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.ANNOTATION_TYPE})
@Parameter(name = "task", in = ParameterIn.PATH, description = TaskPath.DOC)
public @interface TaskPath {
    String DOC = "The task id (1 to 64 of [A-Za-z0-9._-], not . or ..).";

    /** The document's example id: a minted one, or a chosen one where the call creates the task under it. */
    @AliasFor(annotation = Parameter.class, attribute = "example")
    String example() default "t-3f9c2a7d1e0b";
}
