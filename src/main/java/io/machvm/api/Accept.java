package io.machvm.api;

import java.util.List;
import org.springframework.http.InvalidMediaTypeException;
import org.springframework.http.MediaType;

/** The representation a vm_read answers with, from its {@code Accept} header. */
final class Accept {
    private Accept() {
    }

    /**
     * True for JSON, false for raw bytes (also for no Accept, for wildcards, and for {@code application/problem+json}
     * alone, which is what a generated client asks for when the success is bytes and the failure a problem).
     *
     * @throws ApiProblem {@code 406} when Accept allows neither
     */
    static boolean wantsJson(String accept) {
        if (accept == null || accept.isBlank() || accept.equals("application/octet-stream") || accept.equals("*/*")) {
            return false;
        }
        if (accept.equals("application/json")) {
            return true;
        }
        List<MediaType> types;
        try {
            types = MediaType.parseMediaTypes(accept);
        } catch (InvalidMediaTypeException e) {
            throw notAcceptable(accept);
        }
        double best = 0;
        Boolean json = null;
        for (MediaType type : types) {
            double q = type.getQualityValue();
            if (q <= best) {
                continue;
            }
            if (type.isWildcardType() || (type.getType().equals("application") && type.isWildcardSubtype())
                    || type.equalsTypeAndSubtype(MediaType.APPLICATION_OCTET_STREAM)
                    || type.equalsTypeAndSubtype(MediaType.APPLICATION_PROBLEM_JSON)) {
                best = q;
                json = false;
            } else if (type.equalsTypeAndSubtype(MediaType.APPLICATION_JSON)) {
                best = q;
                json = true;
            }
        }
        if (json == null) {
            throw notAcceptable(accept);
        }
        return json;
    }

    private static ApiProblem notAcceptable(String accept) {
        return new ApiProblem(406, io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT, "Accept " + Texts.quote(accept)
                + " is not supported: vm_read answers application/octet-stream or application/json");
    }
}
