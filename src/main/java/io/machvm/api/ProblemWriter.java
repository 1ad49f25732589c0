package io.machvm.api;

import io.machvm.vm.KernReturn;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.core.JsonGenerator;

/**
 * Writes RFC 9457 problem details straight to the servlet response, whatever the request's {@code Accept}: every
 * failure, from a Mach call, from Spring MVC, from the security filters or from the servlet container's error
 * dispatch, leaves through here.
 */
public final class ProblemWriter {
    public static final String PROBLEM_JSON = "application/problem+json";

    private static final Logger log = LoggerFactory.getLogger(ProblemWriter.class);

    private ProblemWriter() {
    }

    /** The problem body as bytes: {@code type, title, status, detail, instance, kern, kernReturn}. */
    static byte[] body(int status, KernReturn kern, String detail, String instance) {
        ProblemTypes.ProblemType type = ProblemTypes.of(kern);
        ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        try (JsonGenerator g = Json.FACTORY.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringProperty("type", type.type());
            g.writeStringProperty("title", type.title());
            g.writeNumberProperty("status", status);
            g.writeStringProperty("detail", detail);
            g.writeStringProperty("instance", instance);
            g.writeStringProperty("kern", kern.name());
            g.writeNumberProperty("kernReturn", kern.value());
            g.writeEndObject();
        }
        return out.toByteArray();
    }

    /**
     * Replaces whatever the response holds with the problem, with an {@code Allow} header unless {@code allow} is
     * null; returns false when the response is already committed (part of a body went out), in which case nothing can
     * be said to the client any more.
     */
    public static boolean write(HttpServletResponse response, int status, KernReturn kern, String detail,
            String instance, String allow) {
        return write(response, status, kern, detail, instance, "Allow", allow);
    }

    /**
     * Replaces whatever the response holds with the problem, with the header {@code name} unless {@code value} is
     * null (a {@code 401}'s {@code WWW-Authenticate}); false when the response is already committed.
     */
    public static boolean write(HttpServletResponse response, int status, KernReturn kern, String detail,
            String instance, String name, String value) {
        if (response.isCommitted()) {
            log.debug("response for {} already committed; cannot report {} {}", instance, status, detail);
            return false;
        }
        byte[] body = body(status, kern, detail, instance);
        response.reset();
        response.setStatus(status);
        response.setContentType(PROBLEM_JSON);
        response.setContentLength(body.length);
        if (value != null) {
            response.setHeader(name, value);
        }
        try {
            response.getOutputStream().write(body);
            response.flushBuffer();
        } catch (IOException | IllegalStateException e) {
            log.debug("could not send the problem for {}: {}", instance, e.toString());
        }
        return true;
    }
}
