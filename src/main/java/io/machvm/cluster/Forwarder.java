package io.machvm.cluster;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.HttpURLConnection;
import java.net.Proxy;
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

    /**
     * The shard took the call but the connection ended before its answer began (the shard stopped, or was killed,
     * during the call): the call may or may not have taken effect there.
     */
    static final class Broken extends IOException {
        Broken(String message, Throwable cause) {
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
            if (forwarded(name)) {
                for (String value : Collections.list(request.getHeaders(name))) {
                    out.header(name, value);
                }
            }
        }
        return out;
    }

    /** Whether an incoming request header goes on to the shard: end to end, and not one of machvm's own. */
    private static boolean forwarded(String name) {
        String lower = name.toLowerCase(Locale.ROOT);
        return !HOP_BY_HOP.contains(lower) && !lower.startsWith("machvm-");
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
            throw new Broken(request.uri().getAuthority() + " ended the connection before answering: " + e, e);
        }
    }

    /**
     * Forwards the request to {@code base} and relays the answer, on a blocking keep-alive connection
     * ({@link HttpURLConnection}): per request it costs far less CPU than the asynchronous client, and a virtual
     * thread waits cheaply. Both bodies stream: fixed-length or chunked out, the answer copied as it arrives.
     *
     * @throws Unreachable when the shard refuses the connection or does not accept it in time (nothing was sent)
     * @throws Broken      when the connection ends before the shard's answer begins (the call may have happened)
     */
    static void forward(HttpServletRequest request, HttpServletResponse response, String base,
            Map<String, String> extraHeaders) throws IOException {
        HttpURLConnection out = (HttpURLConnection) URI.create(base + pathAndQuery(request)).toURL()
                .openConnection(Proxy.NO_PROXY);
        out.setRequestMethod(request.getMethod());
        out.setInstanceFollowRedirects(false);
        out.setUseCaches(false);
        out.setConnectTimeout(2000);
        for (String name : Collections.list(request.getHeaderNames())) {
            if (forwarded(name)) {
                for (String value : Collections.list(request.getHeaders(name))) {
                    out.addRequestProperty(name, value);
                }
            }
        }
        if (request.getHeader("Accept") == null) {
            out.setRequestProperty("Accept", "*/*"); // not HttpURLConnection's default list of image types
        }
        extraHeaders.forEach(out::setRequestProperty);
        long length = request.getContentLengthLong();
        boolean body = length > 0 || (length < 0 && request.getHeader("Transfer-Encoding") != null);
        int status;
        try {
            if (body) {
                out.setDoOutput(true);
                if (length > 0) {
                    out.setFixedLengthStreamingMode(length);
                } else {
                    out.setChunkedStreamingMode(64 * 1024);
                }
                OutputStream sent;
                try {
                    sent = out.getOutputStream();
                } catch (ConnectException | java.net.SocketTimeoutException e) {
                    throw new Unreachable(base + " is not reachable: " + e, e);
                }
                try (sent) {
                    copy(request.getInputStream(), sent, length);
                }
            } else {
                out.connect();
            }
            // a kept-alive connection that the shard closed shows here, as a refused retry
            status = out.getResponseCode();
        } catch (ConnectException | java.net.SocketTimeoutException e) {
            throw new Unreachable(base + " is not reachable: " + e, e);
        } catch (Unreachable e) {
            throw e;
        } catch (IOException e) {
            throw new Broken(base + " ended the connection before answering: " + e, e);
        }
        response.reset();
        response.setStatus(status);
        for (Map.Entry<String, List<String>> header : out.getHeaderFields().entrySet()) {
            if (header.getKey() == null) {
                continue; // the status line
            }
            String lower = header.getKey().toLowerCase(Locale.ROOT);
            if (HOP_BY_HOP.contains(lower) || lower.equals("date")) {
                continue;
            }
            for (String value : header.getValue()) {
                response.addHeader(header.getKey(), value);
            }
        }
        long answerLength = out.getContentLengthLong();
        if (answerLength >= 0) {
            response.setContentLengthLong(answerLength);
        }
        InputStream answer = status >= 400 ? out.getErrorStream() : out.getInputStream();
        if (answer == null) {
            return;
        }
        if (answerLength == 0 || status == 204 || status == 304) {
            answer.close(); // nothing to copy; the connection goes back to the keep-alive cache
            return;
        }
        try (answer) {
            OutputStream to = response.getOutputStream();
            copy(answer, to, answerLength);
            to.flush();
        }
    }

    /**
     * Copies in steps of up to 256 KiB (a 256 MiB body in transferTo's 16 KiB steps costs a system call per step),
     * with a buffer no larger than the declared length.
     */
    private static void copy(InputStream in, OutputStream out, long length) throws IOException {
        // unknown length: start small (most answers are), grow once the body proves large
        int size = length < 0 ? 16 * 1024 : (int) Math.max(8192, Math.min(length, 256 * 1024));
        byte[] buffer = new byte[size];
        long copied = 0;
        for (int n; (n = in.read(buffer)) >= 0; ) {
            out.write(buffer, 0, n);
            copied += n;
            if (buffer.length < 256 * 1024 && copied >= 1 << 20) {
                buffer = new byte[256 * 1024];
            }
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
