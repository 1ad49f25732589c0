package io.machvm.security;

import io.machvm.api.ProblemWriter;
import io.machvm.vm.KernReturn;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

/**
 * The RFC 9457 problems of requests refused before they reach the API (no credentials, a foreign client, host or
 * origin), written by the API's own {@link ProblemWriter}, so that they have its shape.
 */
final class SecurityProblems {
    private SecurityProblems() {
    }

    /** {@code 401}: no or wrong credentials; {@code WWW-Authenticate} says how to send them. */
    static void unauthorized(HttpServletRequest request, HttpServletResponse response, String wwwAuthenticate,
            String detail) {
        ProblemWriter.write(response, 401, KernReturn.KERN_PROTECTION_FAILURE, detail, request.getRequestURI(),
                "WWW-Authenticate", wwwAuthenticate);
    }

    /** {@code 403}: the caller may not make this request. */
    static void forbidden(HttpServletRequest request, HttpServletResponse response, String detail) {
        ProblemWriter.write(response, 403, KernReturn.KERN_PROTECTION_FAILURE, detail, request.getRequestURI(), null);
    }

    /** {@code 415}: a content type only a cross-site HTML form would send. */
    static void unsupportedMediaType(HttpServletRequest request, HttpServletResponse response, String detail) {
        ProblemWriter.write(response, 415, KernReturn.KERN_INVALID_ARGUMENT, detail, request.getRequestURI(), null);
    }
}
