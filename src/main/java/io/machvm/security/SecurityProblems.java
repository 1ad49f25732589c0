package io.machvm.security;

import io.machvm.vm.KernReturn;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Writes the RFC 9457 problems of requests refused before they reach the API (no credentials, a foreign client, host
 * or origin), in the API's shape: {@code type, title, status, detail, instance, kern, kernReturn}.
 */
final class SecurityProblems {
    static final String PROBLEM_JSON = "application/problem+json";

    private SecurityProblems() {
    }

    /** {@code 401}: no or wrong credentials; {@code WWW-Authenticate} says how to send them. */
    static void unauthorized(HttpServletRequest request, HttpServletResponse response, String wwwAuthenticate,
            String detail) throws IOException {
        write(request, response, 401, KernReturn.KERN_PROTECTION_FAILURE, "Protection failure", detail,
                wwwAuthenticate);
    }

    /** {@code 403}: the caller may not make this request. */
    static void forbidden(HttpServletRequest request, HttpServletResponse response, String detail) throws IOException {
        write(request, response, 403, KernReturn.KERN_PROTECTION_FAILURE, "Protection failure", detail, null);
    }

    /** {@code 415}: a content type only a cross-site HTML form would send. */
    static void unsupportedMediaType(HttpServletRequest request, HttpServletResponse response, String detail)
            throws IOException {
        write(request, response, 415, KernReturn.KERN_INVALID_ARGUMENT, "Invalid argument", detail, null);
    }

    static void write(HttpServletRequest request, HttpServletResponse response, int status, KernReturn kern,
            String title, String detail, String wwwAuthenticate) throws IOException {
        if (response.isCommitted()) {
            return;
        }
        byte[] body = body(status, kern, title, detail, request.getRequestURI()).getBytes(StandardCharsets.UTF_8);
        response.reset();
        response.setStatus(status);
        response.setContentType(PROBLEM_JSON);
        response.setContentLength(body.length);
        if (wwwAuthenticate != null) {
            response.setHeader("WWW-Authenticate", wwwAuthenticate);
        }
        response.getOutputStream().write(body);
        response.flushBuffer();
    }

    static String body(int status, KernReturn kern, String title, String detail, String instance) {
        return "{\"type\":\"/problems/" + kern.name() + "\",\"title\":" + quote(title) + ",\"status\":" + status
                + ",\"detail\":" + quote(detail) + ",\"instance\":" + quote(instance) + ",\"kern\":\"" + kern.name()
                + "\",\"kernReturn\":" + kern.value() + "}";
    }

    /** A JSON string; everything outside printable ASCII is escaped. */
    static String quote(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder out = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20 || c > 0x7e) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.append('"').toString();
    }
}
