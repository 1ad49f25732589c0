package io.machvm.reliability;

import io.machvm.vm.KernReturn;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * What every answer of the service must look like, whatever was sent: a 2xx, or a 4xx {@code application/problem+json}
 * with a {@code kern} field (5xx only where a test allows {@code 507 KERN_RESOURCE_SHORTAGE}), never an HTML page, a
 * stack trace or a Java class name.
 */
final class Answers {
    /** GET / and GET /ui (path parameters and a query string aside) redirect to the inspector page, /ui/. */
    private static final Pattern INSPECTOR_REDIRECT =
            Pattern.compile("(GET|HEAD) /(ui)?(;[^/?]*)?(\\?.*)?");
    static final JsonMapper JSON = JsonMapper.builder().build();

    /**
     * Text that gives away the implementation: HTML, stack frames, qualified Java names, exception types, and
     * {@code Type.member} references such as Jackson's {@code StreamReadConstraints.getMaxNestingDepth()}.
     */
    static final Pattern LEAK = Pattern.compile(
            "(?i:<html|<!doctype|<body|<head|<title)"
                    + "|\\bat [a-z][\\w$]*(?:\\.[\\w$]+)+\\("
                    + "|\\b(?:java|javax|jakarta|sun|jdk|org|com|io|tools|net)\\.[a-z_$][\\w$]*\\.[\\w$]"
                    + "|[A-Za-z](?:Exception|Error)\\b"
                    + "|\\b[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*\\.[A-Za-z_$]"
                    + "|\\bCaused by\\b");

    private static final Pattern BASE64_DATA = Pattern.compile("\"data\":\"[A-Za-z0-9+/=]*\"");

    private Answers() {
    }

    /** The leak found in {@code text}, or null. */
    static String leak(String text) {
        Matcher m = LEAK.matcher(text);
        return m.find() ? m.group() : null;
    }

    /**
     * Asserts that one answer is acceptable.
     *
     * @param what          the request, for the failure message
     * @param headOnly      the request was HEAD (no body comes back)
     * @param allowShortage whether {@code 507 KERN_RESOURCE_SHORTAGE} is an acceptable answer
     * @return the problem's {@code kern}, or null for a 2xx
     */
    static String check(String what, int status, String contentType, byte[] body, boolean headOnly,
            boolean allowShortage) {
        String type = contentType == null ? "" : contentType.toLowerCase(Locale.ROOT);
        String text = new String(body, StandardCharsets.ISO_8859_1);
        if (type.contains("html")) {
            throw fail(what, status, contentType, body, "an HTML answer");
        }
        if (status >= 200 && status < 300) {
            if (type.contains("json") || type.startsWith("text/")) { // not raw bytes nor a snapshot image
                // vm_read as JSON: its base64 data is the task's bytes, not the service talking
                String leak = leak(BASE64_DATA.matcher(new String(body, StandardCharsets.UTF_8)).replaceAll(""));
                if (leak != null) {
                    throw fail(what, status, contentType, body, "implementation details (" + leak + ")");
                }
            }
            return null;
        }
        if (status == 302 && INSPECTOR_REDIRECT.matcher(what).matches()) {
            return null; // the root redirects to the inspector page, /ui/
        }
        boolean acceptable = (status >= 400 && status < 500) || (allowShortage && status == 507);
        if (!acceptable) {
            throw fail(what, status, contentType, body, "status " + status);
        }
        if (!type.startsWith("application/problem+json")) {
            throw fail(what, status, contentType, body, "a failure that is not application/problem+json");
        }
        if (headOnly) {
            return "";
        }
        JsonNode problem;
        try {
            problem = JSON.readTree(body);
        } catch (RuntimeException e) {
            throw fail(what, status, contentType, body, "a problem body that is not JSON");
        }
        if (problem == null || !problem.isObject()) {
            throw fail(what, status, contentType, body, "a problem body that is not a JSON object");
        }
        String kern = problem.path("kern").asString("");
        KernReturn known = null;
        for (KernReturn k : KernReturn.values()) {
            if (k.name().equals(kern)) {
                known = k;
            }
        }
        if (known == null || problem.path("kernReturn").asInt(-1) != known.value()
                || problem.path("status").asInt(-1) != status) {
            throw fail(what, status, contentType, body, "a problem without a consistent kern, kernReturn and status");
        }
        if (status == 507 && known != KernReturn.KERN_RESOURCE_SHORTAGE) {
            throw fail(what, status, contentType, body, "a 507 that is not KERN_RESOURCE_SHORTAGE");
        }
        String leak = leak(new String(body, StandardCharsets.UTF_8));
        if (leak != null) {
            throw fail(what, status, contentType, body, "implementation details (" + leak + ")");
        }
        return kern;
    }

    private static AssertionError fail(String what, int status, String contentType, byte[] body, String problem) {
        String shown = new String(body, 0, Math.min(body.length, 400), StandardCharsets.UTF_8);
        return new AssertionError("bad answer (" + problem + ") to " + what + ": " + status + " [" + contentType
                + "] " + shown);
    }

    /** A request shown in a failure message: printable, bounded. */
    static String show(String text) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < text.length() && out.length() < 240; i++) {
            char c = text.charAt(i);
            if (c == '\r') {
                out.append("\\r");
            } else if (c == '\n') {
                out.append("\\n");
            } else if (c < 0x20 || c == 0x7f) {
                out.append(String.format("\\x%02x", (int) c));
            } else {
                out.append(c);
            }
        }
        if (text.length() > 240) {
            out.append("…(").append(text.length()).append(" chars)");
        }
        return out.toString();
    }
}
