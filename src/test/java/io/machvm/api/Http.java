package io.machvm.api;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** A lean HTTP/1.1 client for tests that make many requests (REST Assured costs more per request). */
final class Http {
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final String base;

    Http(int port) {
        this.base = "http://localhost:" + port;
    }

    Result send(String method, String path, String contentType, byte[] body) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofByteArray(body));
        if (contentType != null) {
            request.header("Content-Type", contentType);
        }
        try {
            HttpResponse<byte[]> response = CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
            return new Result(response.statusCode(), response.headers().firstValue("Content-Type").orElse(""),
                    response.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    Result json(String method, String path, String json) {
        return send(method, path, "application/json", json.getBytes(StandardCharsets.UTF_8));
    }

    /** A response: status, Content-Type and body. */
    record Result(int status, String contentType, byte[] body) {
        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }

        JsonNode json() {
            return JSON.readTree(body);
        }

        /** Asserts a complete problem of this status and kern; returns its detail. */
        String problem(int expectedStatus, io.machvm.vm.KernReturn kern) {
            expect(expectedStatus);
            if (!contentType.startsWith("application/problem+json")) {
                throw new AssertionError("not a problem (" + contentType + "): " + text());
            }
            JsonNode p = json();
            String type = p.path("type").asString();
            if (!type.equals("/problems/" + kern.name()) || !p.path("kern").asString().equals(kern.name())
                    || p.path("kernReturn").asInt() != kern.value() || p.path("status").asInt() != expectedStatus
                    || p.path("title").asString().isEmpty() || !p.path("instance").asString().startsWith("/")) {
                throw new AssertionError("expected a " + expectedStatus + " " + kern + " problem: " + text());
            }
            return p.path("detail").asString();
        }

        Result expect(int expected) {
            if (status != expected) {
                throw new AssertionError("expected " + expected + " but was " + status + ": " + text());
            }
            return this;
        }
    }
}
