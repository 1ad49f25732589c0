package io.machvm.cluster;

import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/** Problem details (RFC 9457) of the cluster layer: 421 not this shard's task, 503 its shard is unavailable. */
final class ClusterProblems {
    static final String PROBLEM_JSON = "application/problem+json";

    private ClusterProblems() {
    }

    static void write(JsonMapper mapper, HttpServletResponse response, int status, String title, String detail,
            String instance, Map<String, Object> extra, Map<String, String> headers) throws IOException {
        if (response.isCommitted()) {
            return;
        }
        ObjectNode body = mapper.createObjectNode();
        body.put("type", "about:blank");
        body.put("title", title);
        body.put("status", status);
        body.put("detail", detail);
        body.put("instance", instance);
        extra.forEach((k, v) -> body.set(k, mapper.valueToTree(v)));
        byte[] bytes = mapper.writeValueAsBytes(body);
        response.reset();
        response.setStatus(status);
        headers.forEach(response::setHeader);
        response.setContentType(PROBLEM_JSON);
        response.setContentLength(bytes.length);
        response.getOutputStream().write(bytes);
    }
}
