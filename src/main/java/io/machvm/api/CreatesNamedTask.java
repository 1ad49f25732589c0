package io.machvm.api;

import io.swagger.v3.oas.annotations.headers.Header;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.springframework.core.annotation.AliasFor;

/**
 * A handler that answers {@code 201 Created} with a new task under the id its path names ({@code {task}}, documented
 * with a chosen id as example), and its {@code Location}: springdoc reads the {@link ApiResponse} and the
 * {@link TaskPath} through this annotation.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
@ApiResponse(responseCode = "201", headers = @Header(name = "Location", description = "/tasks/{task}",
        schema = @Schema(type = "string", example = "/tasks/build-42")))
@TaskPath(example = "build-42")
public @interface CreatesNamedTask {
    /** What the answer means for this call ("Created.", "Restored."). */
    @AliasFor(annotation = ApiResponse.class, attribute = "description")
    String value();
}
