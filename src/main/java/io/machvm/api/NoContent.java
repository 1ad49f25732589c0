package io.machvm.api;

import io.swagger.v3.oas.annotations.responses.ApiResponse;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.springframework.core.annotation.AliasFor;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.ResponseStatus;

/**
 * A handler that answers {@code 204 No Content} when the call succeeds: the status Spring MVC sets
 * ({@link ResponseStatus}) and the response OpenAPI documents ({@link ApiResponse}) come from this one annotation, so
 * they cannot disagree. Both read it as a meta-annotation.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.ANNOTATION_TYPE})
@ResponseStatus(HttpStatus.NO_CONTENT)
@ApiResponse(responseCode = "204")
public @interface NoContent {
    /** What the empty answer means for this call ("Unmapped."). */
    @AliasFor(annotation = ApiResponse.class, attribute = "description")
    String value();
}
