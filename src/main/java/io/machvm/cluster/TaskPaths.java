package io.machvm.cluster;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;

/**
 * What a request addresses, by its method and the shape of its path, as the API will resolve it; the cluster routes by
 * this before the API sees the request.
 * <ul>
 * <li><b>a task</b>: {@code /tasks/{task}} and every path below it, routed to {@code {task}}'s owner; also
 * {@code /cluster/tasks/{task}/…}, a peer's call on a task of this shard;</li>
 * <li><b>the collection</b>: {@code /tasks}, and an operation on the collection, {@code POST /tasks/{operation}} with
 * {@code operation} one of {@link #COLLECTION_OPERATIONS} ({@code restore}, {@code restore/form}): served where the task will be, the
 * receiving shard for a minted id, the parent's shard for a fork;</li>
 * <li><b>the node</b>: everything else ({@code /host/…}, {@code /problems/…}, {@code /actuator/…}, {@code /cluster}).
 * </li>
 * </ul>
 * A task id may be {@code restore}: as in the API, where a literal path wins only for the methods mapped to it,
 * {@code POST /tasks/restore} restores an image under a minted id while {@code GET} or {@code PUT /tasks/restore}, and
 * {@code POST /tasks/restore/allocate}, address the task {@code restore}.
 */
final class TaskPaths {
    /**
     * The operations on the collection under {@code /tasks/}, each path after it with the methods mapped to it: the
     * restore of an image under a minted id, raw and as a form.
     */
    static final Map<String, Set<String>> COLLECTION_OPERATIONS = Map.of("restore", Set.of("POST"),
            "restore/form", Set.of("POST"));
    private static final String TASKS = "/tasks/";
    private static final String PEER_TASKS = "/cluster/tasks/";

    enum Kind {
        TASK, COLLECTION, NODE
    }

    /**
     * What a request addresses: for a task, the path's segment that names it (as sent) and the rest of the path after
     * it; {@code peer} for {@code /cluster/tasks/…}.
     */
    record Target(Kind kind, String segment, String sub, boolean peer) {
        static final Target COLLECTION = new Target(Kind.COLLECTION, null, null, false);
        static final Target NODE = new Target(Kind.NODE, null, null, false);
    }

    private TaskPaths() {
    }

    static Target of(String method, String path) {
        if (path.equals("/tasks")) {
            return Target.COLLECTION;
        }
        boolean peer = path.startsWith(PEER_TASKS);
        if (!peer && !path.startsWith(TASKS)) {
            return Target.NODE;
        }
        int from = peer ? PEER_TASKS.length() : TASKS.length();
        int slash = path.indexOf('/', from);
        String segment = slash < 0 ? path.substring(from) : path.substring(from, slash);
        String sub = slash < 0 ? "" : path.substring(slash);
        String name = peer ? null : decoded(segment);
        if (name != null) {
            Set<String> methods = COLLECTION_OPERATIONS.get(name + sub);
            if (methods != null && methods.contains(method)) {
                return Target.COLLECTION;
            }
        }
        return new Target(Kind.TASK, segment, sub, peer);
    }

    /**
     * A path segment as the API reads a path variable: without path parameters, percent-decoded; null when it is
     * malformed.
     */
    static String decoded(String segment) {
        int parameters = segment.indexOf(';');
        String value = parameters < 0 ? segment : segment.substring(0, parameters);
        if (value.indexOf('%') < 0) {
            return value;
        }
        try {
            return URLDecoder.decode(value.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException malformed) {
            return null;
        }
    }
}
