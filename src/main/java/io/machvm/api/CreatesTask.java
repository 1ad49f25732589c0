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
 * A handler that answers {@code 201 Created} with a new task under an id the service mints, and its {@code Location}:
 * springdoc reads the {@link ApiResponse} through this annotation.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
@ApiResponse(responseCode = "201", headers = @Header(name = "Location", description = "/tasks/{task} of the new task",
        schema = @Schema(type = "string", example = "/tasks/t-3f9c2a7d1e0b")))
public @interface CreatesTask {
    /** What the answer means for this call ("Created.", "Restored."). */
    @AliasFor(annotation = ApiResponse.class, attribute = "description")
    String value();
}
