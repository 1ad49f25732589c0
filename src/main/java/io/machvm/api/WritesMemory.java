package io.machvm.api;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * A {@code vm_write} at {@code {task}} and {@code {address}}, in whichever form its bytes come: {@code 204} when
 * written, the {@link OverwriteProblems}, and the two path parameters documented. Spring MVC and springdoc read what
 * this annotation carries as if it stood on the handler.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
@NoContent("Written.")
@OverwriteProblems
@TaskPath
@AddressPath
public @interface WritesMemory {
}
