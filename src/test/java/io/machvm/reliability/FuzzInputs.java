package io.machvm.reliability;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;

/**
 * Random requests for the fuzzer, from one seeded {@link Random}: paths and ids (percent-encoding, dots, very long
 * segments, unicode), numbers in and out of range and malformed, JSON with wrong types, missing, extra and duplicate
 * fields, deep nesting, huge strings and truncation, random bytes under wrong media types, odd methods and headers.
 */
final class FuzzInputs {
    static final long MIN = 0x1_0000_0000L;
    static final String[] OPS = {"allocate", "deallocate", "protect", "inherit", "copy", "read-overwrite", "batch"};

    /** One generated request; {@code raw} when the JDK client cannot express it (bad escapes, raw bytes). */
    record Request(String method, String path, List<String> headers, byte[] body, boolean raw) {
        String describe() {
            StringBuilder s = new StringBuilder(method).append(' ').append(Answers.show(path));
            for (int i = 0; i + 1 < headers.size(); i += 2) {
                s.append(" | ").append(headers.get(i)).append(": ").append(Answers.show(headers.get(i + 1)));
            }
            if (body != null) {
                s.append(" | body[").append(body.length).append("] ")
                        .append(Answers.show(new String(body, 0, Math.min(body.length, 200),
                                StandardCharsets.ISO_8859_1)));
            }
            return s.toString();
        }
    }

    private final Random r;
    private final List<String> pool;

    FuzzInputs(Random random, List<String> pool) {
        this.r = random;
        this.pool = pool;
    }

    <T> T pick(List<T> items) {
        return items.get(r.nextInt(items.size()));
    }

    @SafeVarargs
    final <T> T pick(T... items) {
        return items[r.nextInt(items.length)];
    }

    boolean chance(double p) {
        return r.nextDouble() < p;
    }

    // ---------------------------------------------------------------- requests

    Request next() {
        while (true) {
            Request req = candidate();
            StringBuilder all = new StringBuilder(req.path);
            req.headers.forEach(all::append);
            if (req.body != null && req.body.length <= 8192) {
                all.append(new String(req.body, StandardCharsets.UTF_8)); // what a problem detail may quote
            }
            // Inputs are echoed (bounded) in problem details and task names: never send what the leak check looks for.
            if (Answers.leak(all.toString()) == null) {
                return req;
            }
        }
    }

    private Request candidate() {
        int kind = r.nextInt(100);
        String task = taskId();
        List<String> headers = new ArrayList<>();
        String method;
        String path;
        byte[] body = null;
        if (kind < 35) { // a control call with a random JSON body
            method = chance(0.9) ? "POST" : method();
            String op = chance(0.95) ? pick(OPS) : segment();
            path = "/tasks/" + task + "/" + op;
            body = jsonBody(op);
            contentType(headers, 0.8, "application/json");
        } else if (kind < 55) { // vm_write
            method = chance(0.9) ? "PUT" : method();
            path = "/tasks/" + task + "/memory/" + number(true);
            if (chance(0.25)) {
                body = writeJson();
                contentType(headers, 0.8, "application/json");
            } else {
                body = bytes();
                contentType(headers, 0.7, "application/octet-stream");
            }
        } else if (kind < 70) { // vm_read
            method = chance(0.9) ? "GET" : method();
            path = "/tasks/" + task + "/memory/" + number(true) + query();
            if (chance(0.7)) {
                headers.add("Accept");
                headers.add(accept());
            }
            if (chance(0.1)) {
                body = bytes();
                contentType(headers, 0.5, "application/octet-stream");
            }
        } else if (kind < 80) { // tasks
            method = pick("GET", "PUT", "POST", "DELETE", "PUT", method());
            path = method.equals("POST") && chance(0.7) ? "/tasks" : "/tasks/" + task;
            if (chance(0.05)) {
                body = bytes(); // a snapshot image that is not one
                contentType(headers, 0.9, "application/vnd.machvm.snapshot");
            } else if (chance(0.6)) {
                body = taskBody();
                contentType(headers, 0.8, "application/json");
            }
        } else if (kind < 88) { // regions, host, problems
            method = chance(0.85) ? "GET" : method();
            path = pick("/tasks/" + task + "/regions", "/tasks/" + task + "/regions/" + number(true),
                    "/host/page-size", "/host/statistics", "/problems/" + pick("KERN_INVALID_ADDRESS", segment()),
                    "/tasks", "/actuator/health", "/actuator/health/" + segment(), "/actuator/" + segment(),
                    "/tasks/" + task + "/snapshot", "/tasks/" + task + "/pages" + query(),
                    "/tasks/" + task + "/pages/dirty");
        } else { // anything
            method = method();
            path = randomPath(task);
            if (chance(0.5)) {
                body = chance(0.5) ? bytes() : jsonBody(pick(OPS));
                contentType(headers, 0.6, "application/json");
            }
        }
        if (chance(0.15)) {
            headers.add("Accept");
            headers.add(accept());
        }
        if (chance(0.1)) {
            oddHeader(headers);
        }
        boolean raw = !encodable(path);
        return new Request(method, path, headers, body, raw);
    }

    private static boolean encodable(String path) {
        try {
            java.net.URI.create("http://localhost" + path);
            for (int i = 0; i < path.length(); i++) {
                if (path.charAt(i) > 0x7e || path.charAt(i) < 0x21) {
                    return false;
                }
            }
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    String method() {
        return pick("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "PROPFIND", "FOO",
                "get", "M-SEARCH");
    }

    private void contentType(List<String> headers, double pRight, String right) {
        if (chance(0.08)) {
            return; // none
        }
        headers.add("Content-Type");
        headers.add(chance(pRight) ? right : pick("application/json", "application/json; charset=utf-8",
                "application/octet-stream", "text/plain", "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=xyz", "application/problem+json", "application/merge-patch+json",
                "application/xml", "*/*", "application/json;;;", "garbage", "application/json; charset=utf-16",
                "application/json; charset=nope", "application/", "/json", "text/html",
                "application/" + "x".repeat(r.nextInt(3000))));
    }

    String accept() {
        return pick("*/*", "application/json", "application/octet-stream", "text/html", "application/xml",
                "application/problem+json", "text/*", "image/png", "application/json;q=0", "application/json;q=abc",
                "application/*", ";;;", "*/*;q=0.5, text/html;q=1", "application/json, application/octet-stream;q=0.1",
                "", "x".repeat(r.nextInt(5000)), "application/octet-stream;q=0, */*;q=0");
    }

    private void oddHeader(List<String> headers) {
        String[] h = pick(
                new String[] {"X-Forwarded-Host", "evil.example"},
                new String[] {"X-Forwarded-Proto", "gopher"},
                new String[] {"X-Forwarded-For", "1.2.3.4, ::1, nonsense"},
                new String[] {"Forwarded", "for=\"[::1]\";proto=https;host=evil"},
                new String[] {"Origin", "http://evil.example"},
                new String[] {"Access-Control-Request-Method", "DELETE"},
                new String[] {"Accept-Encoding", "gzip, deflate, br"},
                new String[] {"Content-Encoding", "gzip"},
                new String[] {"Range", "bytes=0-10,20-"},
                new String[] {"If-None-Match", "*"},
                new String[] {"Cookie", "JSESSIONID=" + segment()},
                new String[] {"Authorization", "Basic " + Base64.getEncoder().encodeToString(bytes(20))},
                new String[] {"X-Http-Method-Override", "DELETE"},
                new String[] {"Accept-Charset", "utf-16"},
                new String[] {"X-" + "a".repeat(r.nextInt(200) + 1), "v".repeat(r.nextInt(2000))});
        headers.add(h[0]);
        headers.add(h[1]);
    }

    // ---------------------------------------------------------------- paths and ids

    String taskId() {
        if (chance(0.55)) {
            return pick(pool);
        }
        return pick(
                segment(),
                ".", "..", "...", "%2e", "%2E%2E", "..%2F" + pick(pool), pick(pool) + "%2F..%2F" + pick(pool),
                pick(pool) + "/../" + pick(pool), "%2F", "%5C", "%00", "%ZZ", "%", "%u0041", "%C0%AE%C0%AE",
                "%E2%80%AE" + pick(pool), "%F0%9F%98%80", "%FF", "a%20b", "a+b", pick(pool) + ";x=1", "a:b", "@",
                "~", "!$&'()*,=", "x".repeat(64), "y".repeat(65), "z".repeat(r.nextInt(10_000)),
                unicode(), pick(pool).toUpperCase(), " " + pick(pool), pick(pool) + ".", "-", "_", "0");
    }

    String segment() {
        int n = chance(0.8) ? r.nextInt(12) + 1 : r.nextInt(400);
        String alphabet = "abcXYZ019._-~%!$&'()*+,;=:@";
        StringBuilder s = new StringBuilder(n);
        for (int i = 0; i < n; i++) {
            s.append(alphabet.charAt(r.nextInt(alphabet.length())));
        }
        return s.toString();
    }

    String unicode() {
        int n = r.nextInt(8) + 1;
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < n; i++) {
            s.appendCodePoint(pick(0xe9, 0x3b1, 0x4e2d, 0x1f600, 0x202e, 0x200b, 0xfeff, 0x661, 0xff10, 0x130));
        }
        String text = s.toString();
        return chance(0.5) ? java.net.URLEncoder.encode(text, StandardCharsets.UTF_8) : text;
    }

    private String randomPath(String task) {
        return pick("/", "//tasks", "/tasks/", "/tasks//" + task, "/TASKS", "/tasks;jsessionid=1",
                "/tasks/" + task + ";a=b/regions", "/./tasks", "/tasks/./" + task, "/tasks/%2e%2e/host/statistics",
                "/tasks/" + task + "/../" + pick(pool) + "/regions", "/tasks/" + task + "/memory",
                "/tasks/" + task + "/memory/", "/tasks/" + task + "/regions/", "/tasks/" + task + "/" + segment(),
                "/" + segment(), "/" + segment() + "/" + segment(), "/error", "/error/" + segment(),
                "/host", "/host/" + segment(), "/problems", "/problems/", "/actuator/env", "/actuator/heapdump",
                "/actuator/beans", "/actuator/shutdown", "/WEB-INF/web.xml", "/META-INF/MANIFEST.MF",
                "/tasks/" + task + "?" + segment() + "=" + segment(), "/%2e%2e/%2e%2e/etc/passwd",
                "/tasks/" + task + "/memory/" + number(true) + "/" + segment(), "/" + "a/".repeat(r.nextInt(500)));
    }

    /** A u64 in one of its wire forms, or something that is not one. */
    String number(boolean inPath) {
        int k = r.nextInt(100);
        if (k < 40) {
            long v = MIN + (chance(0.5) ? r.nextInt(3 << 20) : (long) r.nextInt(1 << 16) << 14);
            return chance(0.7) ? "0x" + Long.toHexString(v) : Long.toString(v);
        }
        if (k < 55) {
            return pick("0", "0x0", "0xffffffffffffffff", "18446744073709551615", "0x7ffffe000000", "0x100000000",
                    "4294967296", "0xFFFFFFFFFFFFC000", "0X100000000", "0x00000000000000000000100000000");
        }
        String bad = pick("18446744073709551616", "0x10000000000000000", "-1", "0x", "0X", "1e3", "0x1g", "+5",
                " 5", "5 ", "0b101", "0o7", "1".repeat(r.nextInt(600) + 1), "0x" + "f".repeat(r.nextInt(100) + 17),
                "NaN", "Infinity", "null", "", "1.5", "-0", "0x-1", "٣", "１", "0x１", "9223372036854775808",
                "-9223372036854775809", "0xffffffffffffffff0", "true", "[]", "{}");
        if (inPath) {
            return java.net.URLEncoder.encode(bad, StandardCharsets.UTF_8);
        }
        return bad;
    }

    private String query() {
        int k = r.nextInt(10);
        String enc = java.net.URLEncoder.encode(number(false), StandardCharsets.UTF_8);
        return switch (k) {
            case 0 -> "";
            case 1 -> "?size";
            case 2 -> "?size=";
            case 3 -> "?size=" + enc + "&size=" + enc;
            case 4 -> "?SIZE=16";
            case 5 -> "?size=" + enc + "&" + segment() + "=" + segment();
            default -> "?size=" + (chance(0.6) ? pick("16", "0x4000", "1", "0x10001", "65536", "65537", "0x100000",
                    "0x100001", "0") : enc);
        };
    }

    // ---------------------------------------------------------------- bodies

    /** Random bytes, mostly small: large bodies are few, so that a run of 10,000 requests stays fast. */
    byte[] bytes() {
        int k = r.nextInt(200);
        int n;
        if (k < 120) {
            n = pick(0, 1, 7, 100, r.nextInt(300));
        } else if (k < 170) {
            n = pick(4096, 16383, 16384, 16385, r.nextInt(16384));
        } else if (k < 192) {
            n = pick(65535, 65536, 65537, 16384 + r.nextInt(60_000));
        } else if (k < 199) {
            n = 100_000 + r.nextInt(200_000); // streamed writes
        } else {
            n = 1_100_000; // over machvm.api.max-transfer
        }
        return bytes(n);
    }

    byte[] bytes(int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    private byte[] writeJson() {
        int k = r.nextInt(10);
        String json = switch (k) {
            case 0, 1, 2 -> "{\"data\":\"" + Base64.getEncoder().encodeToString(bytes(r.nextInt(5000))) + "\"}";
            case 3 -> "{\"data\":\"" + Base64.getUrlEncoder().encodeToString(bytes(r.nextInt(100) + 3)) + "\"}";
            case 4 -> "{\"data\":\"not base64!!\"}";
            case 5 -> "{\"data\":" + jsonValue("data", 0) + "}";
            case 6 -> "{\"data\":\"AAAA\",\"data\":\"BBBB\"}";
            case 7 -> "{\"other\":1}";
            case 8 -> "{\"data\":\"" + "A".repeat(r.nextInt(chance(0.2) ? 200_000 : 2000)) + "\"}";
            default -> new String(jsonBody("write"), StandardCharsets.UTF_8);
        };
        return mangle(json);
    }

    private byte[] taskBody() {
        if (chance(0.5)) {
            StringBuilder s = new StringBuilder("{");
            List<String> fields = new ArrayList<>(List.of("flavor", "errors", "name", "parent"));
            if (chance(0.3)) {
                fields.add(segment());
            }
            boolean first = true;
            for (String f : fields) {
                if (chance(0.6)) {
                    s.append(first ? "" : ",").append('"').append(f).append("\":").append(jsonValue(f, 0));
                    first = false;
                }
            }
            return mangle(s.append('}').toString());
        }
        return jsonBody("task");
    }

    /** A JSON body for {@code op}: mostly objects with its fields (right and wrong), sometimes anything at all. */
    byte[] jsonBody(String op) {
        int k = r.nextInt(100);
        if (k < 70) {
            List<String> fields = new ArrayList<>(switch (op) {
                case "allocate" -> List.of("address", "size", "anywhere", "flags");
                case "deallocate" -> List.of("address", "size");
                case "protect" -> List.of("address", "size", "setMaximum", "protection");
                case "inherit" -> List.of("address", "size", "inheritance");
                case "copy" -> List.of("sourceAddress", "size", "destAddress");
                case "read-overwrite" -> List.of("address", "size", "destTask", "destAddress");
                default -> List.of("address", "size", "data", "flavor");
            });
            if (chance(0.2)) {
                fields.add(pick(segment(), "__proto__", "constructor", "@type", "$ref", "class"));
            }
            if (chance(0.1)) {
                fields.add(pick(fields)); // a duplicate key
            }
            java.util.Collections.shuffle(fields, r);
            StringBuilder s = new StringBuilder("{");
            boolean first = true;
            for (String f : fields) {
                if (chance(0.85)) {
                    s.append(first ? "" : ",").append(chance(0.03) ? "\n" : "").append('"').append(f).append("\":")
                            .append(jsonValue(f, 0));
                    first = false;
                }
            }
            return mangle(s.append('}').toString());
        }
        if (k < 80) {
            return mangle(jsonValue("top", 0));
        }
        if (k < 85) {
            return bytes();
        }
        if (k < 90) {
            int depth = pick(10, 63, 64, 65, 200, 1001, 5000);
            return ("{\"size\":" + "[".repeat(depth) + "]".repeat(depth) + "}").getBytes(StandardCharsets.UTF_8);
        }
        if (k < 95) {
            String digits = "9".repeat(chance(0.3) ? 70_000 : pick(1000, 20_000));
            return ("{\"size\":\"0x4000\",\"address\":\"" + digits + "\"}").getBytes(StandardCharsets.UTF_8);
        }
        return pick("", " ", "null", "true", "[]", "{}", "{} {}", "{}x", "{\"a\":1,}", "{'size':1}", "{size:1}",
                "{\"size\":0x10}", "{\"size\":007}", "{\"size\":+1}", "{\"size\":NaN}", "/* c */{}", "{\"size\":1}//",
                "\uFEFF{\"size\":1}", "{\"size\":\"\\u0000\"}", "{\"\\ud800\":1}").getBytes(StandardCharsets.UTF_8);
    }

    /** A JSON value for {@code field}: usually of a plausible kind, often not. */
    String jsonValue(String field, int depth) {
        int k = r.nextInt(100);
        if (k < 45 && depth == 0) {
            switch (field) {
                case "address", "sourceAddress", "destAddress", "size", "flags" -> {
                    String n = number(false);
                    return chance(0.5) && n.chars().allMatch(Character::isDigit) && !n.isEmpty() ? n
                            : "\"" + escape(n) + "\"";
                }
                case "protection" -> {
                    return pick("\"rw-\"", "\"r--\"", "\"---\"", "\"rwx\"", "\"xyz\"", "\"rw\"", "\"RW-\"",
                            String.valueOf(r.nextInt(0x20)), "4294967295", "\"0x17\"", "-1", "1.0", "\"-w-\"");
                }
                case "inheritance" -> {
                    return pick("\"share\"", "\"copy\"", "\"none\"", "\"SHARE\"", String.valueOf(r.nextInt(6)),
                            "\"3\"", "-1", "\"\"");
                }
                case "destTask", "parent" -> {
                    return "\"" + escape(pick(pick(pool), taskId(), "../" + pick(pool),
                            pick(pool) + "/../" + pick(pool), "", "*", pick(pool) + "\u0000")) + "\"";
                }
                case "anywhere", "setMaximum" -> {
                    return pick("true", "false", "\"true\"", "1", "0", "null");
                }
                case "flavor" -> {
                    return pick("\"arm64\"", "\"x86_64\"", "\"ARM64\"", "\"ppc\"", "\"\"");
                }
                case "errors" -> {
                    return pick("\"documented\"", "\"xnu\"", "\"XNU\"", "\"other\"");
                }
                case "name" -> {
                    return "\"" + escape(pick(segment(), unicode(), "n".repeat(pick(256, 257, 5000)))) + "\"";
                }
                default -> {
                    // fall through to a random value
                }
            }
        }
        if (depth > 3) {
            return "1";
        }
        return switch (r.nextInt(14)) {
            case 0 -> String.valueOf(r.nextLong());
            case 1 -> pick("18446744073709551615", "18446744073709551616", "1e400", "-0", "0.0", "1E2", "-1",
                    "123456789012345678901234567890");
            case 2 -> "\"" + escape(segment()) + "\"";
            case 3 -> pick("true", "false", "null");
            case 4 -> "[" + jsonValue(field, depth + 1) + "," + jsonValue(field, depth + 1) + "]";
            case 5 -> "{\"" + escape(segment()) + "\":" + jsonValue(field, depth + 1) + "}";
            case 6 -> "\"" + "s".repeat(chance(0.2) ? 70_000 : pick(100, 1000, 10_000)) + "\"";
            case 7 -> "\"" + escape(unicode()) + "\"";
            case 8 -> "\"\\ud83d\"";
            case 9 -> "\"\\u00zz\"";
            case 10 -> "\"0x" + Long.toHexString(r.nextLong()) + "\"";
            case 11 -> "[]";
            case 12 -> "{}";
            default -> String.valueOf(r.nextInt(100_000));
        };
    }

    private static String escape(String s) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    /** Sometimes truncates the JSON, appends garbage, or re-encodes it. */
    private byte[] mangle(String json) {
        byte[] utf8 = json.getBytes(StandardCharsets.UTF_8);
        int k = r.nextInt(100);
        if (k < 8 && utf8.length > 1) {
            return java.util.Arrays.copyOf(utf8, r.nextInt(utf8.length));
        }
        if (k < 10) {
            return (json + pick("x", "}", "]", ",", "\u0000", " {}")).getBytes(StandardCharsets.UTF_8);
        }
        if (k < 12) {
            return json.getBytes(StandardCharsets.UTF_16);
        }
        if (k < 13 && utf8.length > 2) {
            utf8[r.nextInt(utf8.length)] = (byte) (int) pick(0xff, 0xc0, 0x80, 0x00, 0xed);
        }
        return utf8;
    }
}
