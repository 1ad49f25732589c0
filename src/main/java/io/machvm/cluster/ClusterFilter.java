package io.machvm.cluster;

import io.machvm.api.U64;
import io.machvm.service.TaskRegistry;
import io.machvm.service.Tenant;
import io.machvm.service.TenantResolver;
import io.machvm.vm.KernReturn;
import io.machvm.vm.TaskImage;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.web.filter.OncePerRequestFilter;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Sends each request to the shard that owns its task, whichever shard it reached: served here when this shard owns
 * it, else forwarded to the owner (streaming both bodies), or answered {@code 421 Misdirected Request} naming the
 * owner when the request asks for this shard only ({@code Machvm-Direct: 1}) or forwarding is off. An owner that
 * cannot be reached is a {@code 503} with {@code Retry-After}, never a 404 from another shard. {@code GET /tasks}
 * and {@code GET /host/statistics} answer for the whole cluster ({@code Machvm-Shard: all}) unless asked directly.
 * Every answer names the shard that gave it in {@code Machvm-Shard}. A task's owner is the owner of its slot, from the
 * tenant the id means for the caller and the id's placement key: an admin's {@code tenant~id} goes to that tenant's
 * shard.
 */
public final class ClusterFilter extends OncePerRequestFilter {
    private static final Logger log = LoggerFactory.getLogger(ClusterFilter.class);
    static final String SHARD = "Machvm-Shard";
    static final String DIRECT = "Machvm-Direct";
    static final String HOP = "Machvm-Hop";
    /** Names the owner on a 421: {@code <shard> <url>}. */
    static final String OWNER = "Machvm-Owner";
    /**
     * The request headers shards send each other, which steer routing past the table or say who a call is for: they
     * count only on a call with the cluster secret, and from anyone else are refused ({@link #refuseInternal}).
     */
    static final List<String> INTERNAL_HEADERS = List.of(ClusterService.ASKING, HOP,
            ClusterProperties.CALLER_HEADER);
    /** Forwarded requests may be forwarded once more (a table changing under a request); then 421. */
    private static final int MAX_HOPS = 2;

    private final ClusterService cluster;
    private final TenantResolver tenants;
    private final JsonMapper mapper;
    private final boolean forward;
    private final String secret;

    /** Routes for {@code cluster}, reading callers with {@code tenants}, as {@code properties} say. */
    public ClusterFilter(ClusterService cluster, TenantResolver tenants, JsonMapper mapper,
            ClusterProperties properties) {
        this.cluster = cluster;
        this.tenants = tenants;
        this.mapper = mapper;
        this.forward = properties.forward();
        this.secret = properties.secret();
    }

    /**
     * What one request is: its headers that steer routing, and its caller, whom the task ids of the request are
     * resolved for ({@code tenant~id} from an admin), and whether it brought credentials of its own.
     */
    private record Ask(boolean direct, int hop, boolean asking, Tenant caller, boolean credentials) {
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        response.setHeader(SHARD, Integer.toString(cluster.self()));
        if (refuseInternal(request, response)) {
            return;
        }
        String path = request.getRequestURI();
        Ask ask = new Ask(!forward || truthy(request.getHeader(DIRECT)), hops(request.getHeader(HOP)),
                request.getHeader(ClusterService.ASKING) != null, tenants.current(),
                request.getHeader("Authorization") != null);
        String method = request.getMethod();
        TaskPaths.Target target = TaskPaths.of(method, path);
        switch (target.kind()) {
            case COLLECTION -> {
                if (method.equals("GET") && path.equals("/tasks") && !ask.direct && ask.hop == 0) {
                    fanOut(request, response, ask, "/tasks");
                } else if (method.equals("POST")) {
                    createMinted(request, response, chain, ask); // POST /tasks, POST /tasks/restore
                } else {
                    chain.doFilter(request, response);
                }
            }
            case NODE -> {
                if (path.equals("/host/statistics") && method.equals("GET") && !ask.direct && ask.hop == 0) {
                    fanOut(request, response, ask, "/host/statistics");
                } else {
                    chain.doFilter(request, response);
                }
            }
            case TASK -> {
                TaskRegistry.Address task = pathTask(ask.caller, target.segment());
                if (task == null) {
                    // a malformed id (400), or another tenant's qualified id from a caller that may not use it:
                    // answered here by the API, exactly as an unknown task
                    chain.doFilter(request, response);
                } else if (target.peer()) {
                    // a peer's call on a task here (the image of a fork): fenced like any call on it
                    serveFenced(request, response, chain, List.of(task.key()));
                } else {
                    onTask(request, response, chain, ask, task, target.segment(), target.sub());
                }
            }
        }
    }

    /**
     * Refuses a request that carries one of the {@link #INTERNAL_HEADERS} without the cluster secret: a client that
     * sent {@code Machvm-Asking} itself could make a shard serve, or create, a task that another shard still owns.
     * Answers whether it did (a 400 problem naming the header; nothing is done).
     */
    private boolean refuseInternal(HttpServletRequest request, HttpServletResponse response) throws IOException {
        for (String header : INTERNAL_HEADERS) {
            if (request.getHeader(header) == null) {
                continue;
            }
            if (ClusterProperties.isSecret(secret, request.getHeader(ClusterProperties.SECRET_HEADER))) {
                return false; // a shard's call
            }
            ClusterProblems.write(mapper, response, KernReturn.KERN_INVALID_ARGUMENT, "the header " + header
                    + " is internal to the cluster: only a shard sends it, with the cluster secret ("
                    + ClusterProperties.SECRET_HEADER + "); send the request without it", request.getRequestURI(),
                    Map.of("header", header), Map.of(SHARD, Integer.toString(cluster.self())));
            return true;
        }
        return false;
    }

    /**
     * Where a task id of a path points for the caller: the segment without path parameters, percent-decoded as the
     * API decodes it, then a plain id in the caller's tenant or, from an admin, {@code tenant~id}; null when the
     * API would not find it (malformed, or a qualifier the caller may not use).
     */
    static TaskRegistry.Address pathTask(Tenant caller, String segment) {
        return task(caller, TaskPaths.decoded(segment));
    }

    /** Where a task id (of a path, or a body's {@code parent} or {@code destTask}) points for the caller, or null. */
    static TaskRegistry.Address task(Tenant caller, String id) {
        TaskRegistry.Address address = id == null ? null : TaskRegistry.address(caller, id);
        return address != null && TaskRegistry.ID_PATTERN.matcher(address.id()).matches() ? address : null;
    }

    private void onTask(HttpServletRequest request, HttpServletResponse response, FilterChain chain, Ask ask,
            TaskRegistry.Address task, String segment, String sub) throws ServletException, IOException {
        int owner = cluster.route(task.tenant(), task.id(), ask.asking);
        if (owner != cluster.self()) {
            forwardOrRefuse(request, response, ask, task, owner);
            return;
        }
        String method = request.getMethod();
        boolean create = method.equals("PUT") && sub.isEmpty();
        boolean readOverwrite = method.equals("POST") && sub.equals("/read-overwrite");
        HttpServletRequest req = request;
        JsonNode body = null;
        if (create || readOverwrite) {
            BufferedRequest buffered = BufferedRequest.of(request);
            if (buffered != null) {
                req = buffered;
                body = parse(buffered.bytes());
            }
        }
        Set<String> keys = new LinkedHashSet<>();
        keys.add(task.key());
        String otherName = body == null ? null : text(body, create ? "parent" : "destTask");
        TaskRegistry.Address other = task(ask.caller, otherName);
        if (other != null) {
            int otherOwner = cluster.route(other.tenant(), other.id(), false);
            if (otherOwner == cluster.self()) {
                keys.add(other.key());
            } else if (create) {
                forkAcross(req, response, chain, ask, task, otherName, otherOwner, body);
                return;
            } else if (readOverwrite) {
                readOverwriteAcross(req, response, ask, segment, otherName, other, otherOwner, body);
                return;
            }
        }
        try (AutoCloseable fence = cluster.fences().hold(keys, false, cluster.moveWait())) {
            int now = cluster.route(task.tenant(), task.id(), ask.asking);
            if (now != cluster.self()) {
                // handed off while this call waited at the fence
                forwardOrRefuse(req, response, ask, task, now);
                return;
            }
            chain.doFilter(req, response);
        } catch (Fences.Busy busy) {
            unavailable(request, response, "task " + named(ask, task) + " is being handed off to another shard",
                    cluster.self());
        } catch (IOException | ServletException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new ServletException(e);
        }
    }

    private void serveFenced(HttpServletRequest request, HttpServletResponse response, FilterChain chain,
            List<String> keys) throws ServletException, IOException {
        serveFenced(request, response, chain, keys, keys.getFirst());
    }

    /** Serves the call here while no handoff holds the tasks of {@code keys}; {@code name} names the first. */
    private void serveFenced(HttpServletRequest request, HttpServletResponse response, FilterChain chain,
            List<String> keys, String name) throws ServletException, IOException {
        try (AutoCloseable fence = cluster.fences().hold(keys, false, cluster.moveWait())) {
            chain.doFilter(request, response);
        } catch (Fences.Busy busy) {
            unavailable(request, response, "task " + name + " is being handed off to another shard",
                    cluster.self());
        } catch (IOException | ServletException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new ServletException(e);
        }
    }

    /** {@code POST /tasks}: a fork goes to its parent's shard; a new task is minted here when this shard mints. */
    private void createMinted(HttpServletRequest request, HttpServletResponse response, FilterChain chain, Ask ask)
            throws ServletException, IOException {
        HttpServletRequest req = request;
        BufferedRequest buffered = BufferedRequest.of(request);
        TaskRegistry.Address parent = null;
        if (buffered != null) {
            req = buffered;
            JsonNode body = parse(buffered.bytes());
            parent = body == null ? null : task(ask.caller, text(body, "parent"));
        }
        if (parent != null) {
            int owner = cluster.route(parent.tenant(), parent.id(), false);
            if (owner != cluster.self()) {
                forwardOrRefuse(req, response, ask, parent, owner);
            } else {
                serveFenced(req, response, chain, List.of(parent.key()));
            }
            return;
        }
        int minter = cluster.minter();
        if (minter != cluster.self()) {
            forwardOrRefuse(req, response, ask, null, minter);
            return;
        }
        chain.doFilter(req, response);
    }

    /** Forwards the request to the task's owner, or answers 421 naming it; {@code task} null for a minted id. */
    private void forwardOrRefuse(HttpServletRequest request, HttpServletResponse response, Ask ask,
            TaskRegistry.Address task, int owner) throws IOException {
        String url = cluster.url(owner);
        if (ask.direct || ask.hop >= MAX_HOPS) {
            Map<String, Object> extra = new LinkedHashMap<>();
            extra.put("shard", cluster.self());
            extra.put("owner", owner);
            extra.put("ownerUrl", url);
            if (task != null) {
                extra.put("slot", Placement.slot(task.tenant(), task.id()));
            }
            extra.put("epoch", cluster.state().current().epoch());
            ClusterProblems.write(mapper, response, KernReturn.KERN_NOT_RECEIVER, (task == null
                    ? "this shard mints no ids now" : "task " + named(ask, task) + " is owned by shard " + owner)
                    + ": send the request to " + url + " (or through the cluster's entry point)",
                    request.getRequestURI(), extra, Map.of(SHARD, Integer.toString(cluster.self()),
                            OWNER, owner + " " + url));
            return;
        }
        Map<String, String> headers = onBehalf(ask);
        headers.put(HOP, Integer.toString(ask.hop + 1));
        if (task != null && cluster.isImport(task.tenant(), task.id(), owner)) {
            headers.put(ClusterService.ASKING, "1");
        }
        try {
            Forwarder.forward(request, response, url, headers);
        } catch (Forwarder.Unreachable e) {
            unavailable(request, response, "shard " + owner + " (" + url + "), which owns "
                    + (task == null ? "this request" : "task " + named(ask, task)) + ", is not reachable", owner);
        } catch (Forwarder.Broken e) {
            unavailable(request, response, "shard " + owner + " (" + url + "), which owns "
                    + (task == null ? "this request" : "task " + named(ask, task)) + ", stopped during the call, "
                    + "which may or may not have taken effect there", owner);
        }
    }

    /**
     * The headers that carry the caller to another shard, with the cluster secret that marks the call as a shard's
     * (so that its {@link #INTERNAL_HEADERS} count). Credentials of its own go with the request, as
     * {@value ClusterProperties#FORWARDED_CALLER}, and the other shard authenticates them and acts for their tenant,
     * as this one did. A caller without credentials (modes protected and none) is vouched for with the secret, as the
     * operator or as an anonymous client: what this shard made of it, never more.
     */
    private Map<String, String> onBehalf(Ask ask) {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put(ClusterProperties.SECRET_HEADER, secret);
        if (ask.credentials) {
            headers.put(ClusterProperties.CALLER_HEADER, ClusterProperties.FORWARDED_CALLER);
        } else if (!ask.caller.admin()) {
            headers.put(ClusterProperties.CALLER_HEADER, ClusterProperties.ANONYMOUS_CALLER);
        }
        return headers;
    }

    /** The id as the caller knows the task: plain in its own tenant, {@code tenant~id} in another. */
    private static String named(Ask ask, TaskRegistry.Address task) {
        return task.tenant().equals(ask.caller.name()) ? task.id() : task.key();
    }

    /**
     * {@code PUT /tasks/{child}} with a parent on another shard: that shard forks the parent and streams the child's
     * image, which becomes the child here (a full copy: sharing cannot span shards).
     */
    private void forkAcross(HttpServletRequest request, HttpServletResponse response, FilterChain chain, Ask ask,
            TaskRegistry.Address child, String parent, int parentOwner, JsonNode body)
            throws ServletException, IOException {
        if (cluster.has(child.tenant(), child.id())) {
            chain.doFilter(request, response); // the API answers 409 before any fork
            return;
        }
        String name = text(body, "name");
        String url = cluster.url(parentOwner);
        String query = name == null ? "" : "?name=" + URLEncoder.encode(name, StandardCharsets.UTF_8);
        // the parent's shard resolves the parent's id for the same caller: a tenant forks only its own tasks
        HttpRequest.Builder out = Forwarder.copy(request, url, "/cluster/tasks/" + parent + "/fork-image" + query)
                .header("Accept", TaskImage.MEDIA_TYPE).GET();
        onBehalf(ask).forEach(out::setHeader);
        HttpResponse<InputStream> image;
        try {
            image = cluster.forwarder().send(out.build());
        } catch (Forwarder.Unreachable | Forwarder.Broken e) {
            unavailable(request, response, "shard " + parentOwner + " (" + url + "), which owns the parent task "
                    + parent + (e instanceof Forwarder.Broken ? ", stopped while it sent the parent (no child was "
                    + "made)" : ", is not reachable"), parentOwner);
            return;
        }
        if (image.statusCode() != 200) {
            Forwarder.relay(image, response);
            return;
        }
        long length = image.headers().firstValueAsLong("content-length").orElse(-1);
        try (InputStream in = image.body()) {
            serveFenced(BufferedRequest.replaced(request, "PUT", TaskImage.MEDIA_TYPE, in, length), response, chain,
                    List.of(child.key()), named(ask, child));
        }
    }

    /**
     * {@code vm_read_overwrite} into a task on another shard: {@code vm_read} here, streamed into {@code vm_write}
     * there. Either side's refusal is answered as that side gave it.
     */
    private void readOverwriteAcross(HttpServletRequest request, HttpServletResponse response, Ask ask, String source,
            String destName, TaskRegistry.Address dest, int destOwner, JsonNode body) throws IOException {
        String address = number(body, "address");
        String size = number(body, "size");
        String destAddress = number(body, "destAddress");
        if (address == null || size == null || destAddress == null) {
            ClusterProblems.write(mapper, response, KernReturn.KERN_INVALID_ARGUMENT,
                    "address, size and destAddress are required", request.getRequestURI(), Map.of(), Map.of());
            return;
        }
        long length;
        try {
            length = U64.parse("size", size);
        } catch (RuntimeException e) {
            ClusterProblems.write(mapper, response, KernReturn.KERN_INVALID_ARGUMENT, e.getMessage(),
                    request.getRequestURI(), Map.of(), Map.of());
            return;
        }
        String self = "http://127.0.0.1:" + request.getLocalPort();
        HttpRequest.Builder read = Forwarder.copy(request, self, "/tasks/" + source + "/memory/" + address
                + "?size=" + size).header(DIRECT, "1").header("Accept", "application/octet-stream").GET();
        onBehalf(ask).forEach(read::setHeader);
        HttpResponse<InputStream> bytes = cluster.forwarder().send(read.build());
        if (bytes.statusCode() != 200) {
            Forwarder.relay(bytes, response);
            return;
        }
        String url = cluster.url(destOwner);
        HttpRequest.Builder write = Forwarder.copy(request, url, "/tasks/" + destName + "/memory/" + destAddress)
                .header(HOP, Integer.toString(ask.hop + 1));
        write.setHeader("Content-Type", "application/octet-stream");
        onBehalf(ask).forEach(write::setHeader);
        if (cluster.isImport(dest.tenant(), dest.id(), destOwner)) {
            write.header(ClusterService.ASKING, "1");
        }
        write.PUT(HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofInputStream(bytes::body),
                length));
        HttpResponse<InputStream> written;
        try {
            written = cluster.forwarder().send(write.build());
        } catch (Forwarder.Unreachable | Forwarder.Broken e) {
            bytes.body().close();
            unavailable(request, response, "shard " + destOwner + " (" + url + "), which owns task " + destName
                    + (e instanceof Forwarder.Broken ? ", stopped during the write, which may or may not have "
                    + "taken effect there" : ", is not reachable"), destOwner);
            return;
        }
        if (written.statusCode() != 204) {
            Forwarder.relay(written, response);
            return;
        }
        written.body().close();
        byte[] result = mapper.writeValueAsBytes(Map.of("outsize", U64.format(length)));
        response.setStatus(200);
        response.setContentType("application/json");
        response.setContentLength(result.length);
        response.getOutputStream().write(result);
    }

    /** {@code GET /tasks} or {@code /host/statistics} of every shard, merged. */
    private void fanOut(HttpServletRequest request, HttpServletResponse response, Ask ask, String path)
            throws IOException {
        List<Integer> shards = cluster.allShards();
        Map<Integer, JsonNode> answers = new TreeMap<>();
        List<String> missing = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            Map<Integer, Future<JsonNode>> pending = new LinkedHashMap<>();
            for (int shard : shards) {
                String url = cluster.url(shard);
                HttpRequest.Builder builder = Forwarder.copy(request, url, Forwarder.pathAndQuery(request))
                        .header(DIRECT, "1").GET();
                onBehalf(ask).forEach(builder::setHeader);
                HttpRequest call = builder.build();
                pending.put(shard, pool.submit(() -> {
                    HttpResponse<InputStream> answer = cluster.forwarder().send(call);
                    try (InputStream in = answer.body()) {
                        if (answer.statusCode() != 200) {
                            throw new IOException("status " + answer.statusCode());
                        }
                        return mapper.readTree(in);
                    }
                }));
            }
            for (Map.Entry<Integer, Future<JsonNode>> entry : pending.entrySet()) {
                try {
                    answers.put(entry.getKey(), entry.getValue().get());
                } catch (Exception e) {
                    missing.add(entry.getKey() + " (" + cluster.url(entry.getKey()) + ")");
                }
            }
        }
        if (!missing.isEmpty()) {
            ClusterProblems.write(mapper, response, KernReturn.MACH_SEND_TIMED_OUT, "shard(s) " + String.join(", ",
                    missing) + " did not answer: the cluster-wide " + path + " would be incomplete; each shard's "
                    + "own answer is had with the header " + DIRECT + ": 1", request.getRequestURI(),
                    Map.of("shards", missing), Map.of(SHARD, "all", "Retry-After", "1"));
            return;
        }
        JsonNode merged = path.equals("/tasks") ? mergeTasks(answers.values()) : mergeStatistics(answers.values());
        byte[] bytes = mapper.writeValueAsBytes(merged);
        response.setHeader(SHARD, "all");
        response.setStatus(200);
        response.setContentType("application/json");
        response.setContentLength(bytes.length);
        response.getOutputStream().write(bytes);
    }

    private ArrayNode mergeTasks(Iterable<JsonNode> lists) {
        TreeMap<String, JsonNode> byId = new TreeMap<>();
        for (JsonNode list : lists) {
            for (JsonNode task : list) {
                byId.putIfAbsent(task.path("id").asString(), task); // a task mid-handoff is listed once
            }
        }
        ArrayNode out = mapper.createArrayNode();
        byId.values().forEach(out::add);
        return out;
    }

    private ObjectNode mergeStatistics(Iterable<JsonNode> all) {
        ObjectNode out = mapper.createObjectNode();
        int shards = 0;
        for (JsonNode one : all) {
            shards++;
            for (Map.Entry<String, JsonNode> field : one.properties()) {
                String name = field.getKey();
                JsonNode value = field.getValue();
                JsonNode sum = out.get(name);
                if (name.equals("pageSize") || sum == null) {
                    out.set(name, value);
                } else if (value.isNumber()) {
                    out.put(name, sum.asLong() + value.asLong());
                } else if (value.isString() && value.asString().startsWith("0x")) {
                    out.put(name, U64.format(U64.parse(name, sum.asString()) + U64.parse(name, value.asString())));
                }
            }
        }
        out.put("shards", shards);
        return out;
    }

    private void unavailable(HttpServletRequest request, HttpServletResponse response, String detail, int shard)
            throws IOException {
        ClusterProblems.write(mapper, response, KernReturn.MACH_SEND_TIMED_OUT, detail + "; retry", request
                .getRequestURI(), Map.of("shard", shard), Map.of(SHARD, Integer.toString(cluster.self()),
                        "Retry-After", "1"));
        log.debug("503 for {}: {}", request.getRequestURI(), detail);
    }

    private JsonNode parse(byte[] body) {
        if (body == null || body.length == 0) {
            return null;
        }
        try {
            JsonNode json = mapper.readTree(body);
            return json != null && json.isObject() ? json : null;
        } catch (RuntimeException malformed) {
            return null; // answered by the API
        }
    }

    private static String text(JsonNode body, String field) {
        JsonNode value = body.get(field);
        return value != null && value.isString() ? value.asString() : null;
    }

    /** A number field as text: a JSON string as it is, a JSON number in decimal. */
    private static String number(JsonNode body, String field) {
        JsonNode value = body.get(field);
        if (value == null || value.isNull()) {
            return null;
        }
        if (value.isString()) {
            return value.asString();
        }
        return value.isIntegralNumber() ? value.bigIntegerValue().toString() : null;
    }

    private static boolean truthy(String header) {
        return header != null && (header.equals("1") || header.equalsIgnoreCase("true"));
    }

    private static int hops(String header) {
        try {
            return header == null ? 0 : Integer.parseInt(header.trim());
        } catch (NumberFormatException e) {
            return MAX_HOPS;
        }
    }
}
