package io.machvm.api;

import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.enums.ParameterIn;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Documents an operation's {@code {task}} path parameter, a task id, for OpenAPI: springdoc finds the
 * {@link Parameter} through this annotation as if it stood on the method.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
@Parameter(name = "task", in = ParameterIn.PATH, description = TaskController.TASK_ID_DOC, example = "t-3f9c2a7d1e0b")
public @interface TaskPath {
}
