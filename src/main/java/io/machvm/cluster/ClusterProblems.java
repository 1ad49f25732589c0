package io.machvm.cluster;

import io.machvm.api.ProblemTypes;
import io.machvm.vm.KernReturn;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * Problem details (RFC 9457) of the cluster layer, in the API's shape ({@code type, title, status, detail, instance,
 * kern, kernReturn}) with the cluster's own members: {@code 421 KERN_NOT_RECEIVER} not this shard's task,
 * {@code 503 MACH_SEND_TIMED_OUT} its shard is unavailable, {@code 400 KERN_INVALID_ARGUMENT} a call the cluster
 * cannot route.
 */
final class ClusterProblems {
    static final String PROBLEM_JSON = "application/problem+json";

    private ClusterProblems() {
    }

    static void write(JsonMapper mapper, HttpServletResponse response, KernReturn kern, String detail,
            String instance, Map<String, Object> extra, Map<String, String> headers) throws IOException {
        if (response.isCommitted()) {
            return;
        }
        ObjectNode body = mapper.valueToTree(ProblemTypes.members(kern, detail, instance));
        extra.forEach((k, v) -> body.set(k, mapper.valueToTree(v)));
        byte[] bytes = mapper.writeValueAsBytes(body);
        response.reset();
        response.setStatus(ProblemTypes.status(kern));
        headers.forEach(response::setHeader);
        response.setContentType(PROBLEM_JSON);
        response.setContentLength(bytes.length);
        response.getOutputStream().write(bytes);
    }
}
