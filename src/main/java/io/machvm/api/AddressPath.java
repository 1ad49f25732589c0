package io.machvm.api;

import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.enums.ParameterIn;
import io.swagger.v3.oas.annotations.media.Schema;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Documents an operation's {@code {address}} path parameter, a u64 in the request forms, for OpenAPI: springdoc finds
 * the {@link Parameter} through this annotation as if it stood on the method.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.ANNOTATION_TYPE})
@Parameter(name = "address", in = ParameterIn.PATH, description = AddressPath.DOC, example = "0x100000000",
        schema = @Schema(type = "string", pattern = U64.REQUEST_PATTERN))
public @interface AddressPath {
    String DOC = "An address: a hex string (0x…, either case) or decimal digits, 0 to 2^64-1.";
}
