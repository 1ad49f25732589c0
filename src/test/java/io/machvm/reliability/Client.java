package io.machvm.reliability;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import tools.jackson.databind.JsonNode;

/** A lean JDK HttpClient (HTTP/1.1, pooled keep-alive connections) for tests that make many requests. */
final class Client {
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10)).build();

    private final String base;

    Client(int port) {
        this.base = "http://localhost:" + port;
    }

    /**
     * Sends one request.
     *
     * @param headers name, value, name, value… (the JDK refuses to send Content-Length, Host, Connection and a few
     *                others: those go through {@link RawHttp})
     */
    Result send(String method, String path, byte[] body, String... headers) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path))
                .timeout(Duration.ofSeconds(30))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofByteArray(body));
        for (int i = 0; i + 1 < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        try {
            HttpResponse<byte[]> response = CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
            return new Result(method + " " + path, response.statusCode(),
                    response.headers().firstValue("Content-Type").orElse(""),
                    response.headers().firstValue("Location").orElse(null), response.body());
        } catch (IOException e) {
            throw new UncheckedIOException(method + " " + path + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    Result get(String path, String... headers) {
        return send("GET", path, null, headers);
    }

    Result json(String method, String path, String json) {
        return send(method, path, json.getBytes(StandardCharsets.UTF_8), "Content-Type", "application/json");
    }

    Result octets(String method, String path, byte[] body) {
        return send(method, path, body, "Content-Type", "application/octet-stream");
    }

    /** A response: status, Content-Type, Location and body. */
    record Result(String request, int status, String contentType, String location, byte[] body) {
        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }

        JsonNode json() {
            return Answers.JSON.readTree(body);
        }

        /** The problem's kern, asserting the answer is acceptable. */
        String kern(boolean allowShortage) {
            return Answers.check(request, status, contentType, body, request.startsWith("HEAD "), allowShortage);
        }

        Result expect(int expected) {
            if (status != expected) {
                throw new AssertionError(request + ": expected " + expected + " but was " + status + ": " + text());
            }
            return this;
        }

        /** Asserts a problem of this status and kern. */
        Result expectProblem(int expectedStatus, String kern) {
            expect(expectedStatus);
            String actual = Answers.check(request, status, contentType, body, false, true);
            if (!kern.equals(actual)) {
                throw new AssertionError(request + ": expected " + kern + " but was " + actual + ": " + text());
            }
            return this;
        }
    }
}
