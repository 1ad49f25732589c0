package io.machvm.cluster;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * Sends a request to another shard and its answer back, streaming both bodies (nothing is buffered: a 256 MiB write
 * passes through in the client's chunks).
 */
final class Forwarder {
    /** Headers that belong to one connection, or that the HTTP client sets itself. */
    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "proxy-connection",
            "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length", "expect", "http2-settings");

    /** Thrown when the shard cannot be reached (connection refused or timed out): the call did not happen there. */
    static final class Unreachable extends IOException {
        Unreachable(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private final HttpClient client = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(2))
            .followRedirects(HttpClient.Redirect.NEVER)
            .executor(Executors.newVirtualThreadPerTaskExecutor())
            .build();

    HttpClient client() {
        return client;
    }

    /** A request to {@code base + pathAndQuery} with the incoming request's end-to-end headers. */
    static HttpRequest.Builder copy(HttpServletRequest request, String base, String pathAndQuery) {
        HttpRequest.Builder out = HttpRequest.newBuilder(URI.create(base + pathAndQuery));
        for (String name : Collections.list(request.getHeaderNames())) {
            String lower = name.toLowerCase(Locale.ROOT);
            if (HOP_BY_HOP.contains(lower) || lower.startsWith("machvm-")) {
                continue;
            }
            for (String value : Collections.list(request.getHeaders(name))) {
                out.header(name, value);
            }
        }
        return out;
    }

    static String pathAndQuery(HttpServletRequest request) {
        String query = request.getQueryString();
        return request.getRequestURI() + (query == null ? "" : "?" + query);
    }

    /** Bodies up to this size are read before they are sent on (cheaper for the client than a stream); larger ones stream. */
    static final int SMALL_BODY = 64 * 1024;

    /** The incoming body as a publisher of its declared length (or chunked), or none. */
    static HttpRequest.BodyPublisher body(HttpServletRequest request, Supplier<InputStream> in) throws IOException {
        long length = request.getContentLengthLong();
        boolean chunked = request.getHeader("Transfer-Encoding") != null;
        if (length == 0 || (length < 0 && !chunked)) {
            return HttpRequest.BodyPublishers.noBody();
        }
        if (length > 0 && length <= SMALL_BODY) {
            byte[] bytes = in.get().readNBytes((int) length);
            if (bytes.length == length) {
                return HttpRequest.BodyPublishers.ofByteArray(bytes);
            }
            // the body broke off: send what came, so that the owner sees a short body and refuses it
            return HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofByteArray(bytes), length);
        }
        HttpRequest.BodyPublisher stream = HttpRequest.BodyPublishers.ofInputStream(in);
        return length > 0 ? HttpRequest.BodyPublishers.fromPublisher(stream, length) : stream;
    }

    /** Sends and returns the answer with its body still to read. */
    HttpResponse<InputStream> send(HttpRequest request) throws IOException {
        try {
            return client.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (ConnectException | HttpConnectTimeoutException e) {
            throw new Unreachable(request.uri().getAuthority() + " is not reachable: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (IOException e) {
            if (e.getCause() instanceof ConnectException) {
                throw new Unreachable(request.uri().getAuthority() + " is not reachable: " + e, e);
            }
            throw e;
        }
    }

    /** Copies the answer's status, end-to-end headers and body to the servlet response. */
    static void relay(HttpResponse<InputStream> answer, HttpServletResponse response) throws IOException {
        response.setStatus(answer.statusCode());
        for (Map.Entry<String, List<String>> header : answer.headers().map().entrySet()) {
            String lower = header.getKey().toLowerCase(Locale.ROOT);
            if (HOP_BY_HOP.contains(lower) || lower.startsWith(":") || lower.equals("date")) {
                continue;
            }
            for (String value : header.getValue()) {
                response.addHeader(header.getKey(), value);
            }
        }
        answer.headers().firstValueAsLong("content-length").ifPresent(response::setContentLengthLong);
        try (InputStream in = answer.body()) {
            OutputStream out = response.getOutputStream();
            in.transferTo(out);
            out.flush();
        }
    }
}
