package io.machvm.api;

import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.media.SchemaProperty;
import io.swagger.v3.oas.annotations.parameters.RequestBody;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.springframework.http.MediaType;

/**
 * Documents a restore's {@code multipart/form-data} body, the snapshot image as the one file part
 * {@value UploadFormController#IMAGE_PART}: springdoc reads the {@link RequestBody} through this annotation.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
@RequestBody(required = true, content = @Content(mediaType = MediaType.MULTIPART_FORM_DATA_VALUE,
        schema = @Schema(type = "object", requiredProperties = UploadFormController.IMAGE_PART),
        schemaProperties = @SchemaProperty(name = UploadFormController.IMAGE_PART,
                schema = @Schema(type = "string", format = "binary", description = "The image."))))
public @interface ImageForm {
}
