package io.machvm.api;

import io.machvm.vm.VmInherit;
import io.machvm.vm.VmProt;
import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;
import java.io.InputStream;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.core.TokenStreamLocation;
import tools.jackson.core.exc.JacksonIOException;

/**
 * A JSON object request body read field by field with Jackson's streaming parser, with strict typed getters: a known
 * field of the wrong type is a {@code 400} naming it, unknown fields are skipped, {@code null} counts as absent, and
 * numbers never pass through {@code double}.
 *
 * <pre>{@code
 * try (JsonRequest json = JsonRequest.open(request, true)) {
 *     for (String field; (field = json.nextField()) != null; ) {
 *         switch (field) {
 *             case "size" -> size = json.u64(field);
 *             default -> json.skip();
 *         }
 *     }
 * }
 * }</pre>
 */
public final class JsonRequest implements AutoCloseable {
    /** The largest JSON body of a control call (everything but vm_write data). */
    public static final long CONTROL_LIMIT = 64 * 1024;

    private final JsonParser parser;
    private final String[] seen = new String[8];
    private int seenCount;
    private boolean ended;

    private JsonRequest(JsonParser parser) {
        this.parser = parser;
    }

    /**
     * Opens the body of a control call: checks its media type (JSON, or none) and size, and reads up to the first
     * field.
     *
     * @param required whether an empty body is a {@code 400}
     */
    public static JsonRequest open(HttpServletRequest request, boolean required) {
        long length = request.getContentLengthLong();
        if (length == 0) {
            // No body: whatever Content-Type a client library sent with nothing is irrelevant.
            return start(Json.FACTORY.createParser(new byte[0]), required);
        }
        checkJsonMediaType(request.getContentType());
        return start(Json.FACTORY.createParser(body(request, CONTROL_LIMIT, "for this call")), required);
    }

    /**
     * The request body, at most {@code limit} bytes: a Content-Length above it is a {@code 413} ("request body of N
     * bytes exceeds the limit of L bytes " + {@code limitFor}) before a byte is read, and a body without one is cut
     * off at the limit by {@link LimitedInputStream}.
     */
    static InputStream body(HttpServletRequest request, long limit, String limitFor) {
        long length = request.getContentLengthLong();
        if (length > limit) {
            throw ApiProblem.tooLarge("request body of " + length + " bytes exceeds the limit of " + limit + " bytes "
                    + limitFor);
        }
        InputStream in;
        try {
            in = request.getInputStream();
        } catch (IOException e) {
            throw brokenBody(e);
        }
        return length < 0 ? new LimitedInputStream(in, limit) : in;
    }

    static JsonRequest start(JsonParser parser, boolean required) {
        JsonRequest json = new JsonRequest(parser);
        JsonToken first = json.next();
        if (first == JsonToken.VALUE_NULL && !required) {
            // an optional body sent as JSON null (as generated clients do): no settings
            if (json.next() != null) {
                json.close();
                throw ApiProblem.invalidArgument("unexpected content after the JSON null of the request body");
            }
            first = null;
        }
        if (first == null) {
            if (required) {
                json.close();
                throw ApiProblem.invalidArgument("a JSON object request body is required");
            }
            json.ended = true;
        } else if (first != JsonToken.START_OBJECT) {
            json.close();
            throw ApiProblem.invalidArgument("request body must be a JSON object");
        }
        return json;
    }

    /** Accepts a missing Content-Type, {@code application/json} and {@code application/*+json}; else {@code 415}. */
    static void checkJsonMediaType(String contentType) {
        if (contentType != null && !isJson(contentType)) {
            throw ApiProblem.unsupportedMediaType("Content-Type " + Texts.quote(contentType)
                    + " is not supported: send application/json");
        }
    }

    static boolean isJson(String contentType) {
        String type = baseType(contentType);
        return type.equals("application/json") || (type.startsWith("application/") && type.endsWith("+json"));
    }

    /** The media type without parameters, lower case. */
    static String baseType(String contentType) {
        int semicolon = contentType.indexOf(';');
        String type = semicolon < 0 ? contentType : contentType.substring(0, semicolon);
        return type.strip().toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * The next field's name with the parser on its value, or null after the closing brace (then nothing may follow
     * it). A field that appears twice is a {@code 400}.
     */
    public String nextField() {
        if (ended) {
            return null;
        }
        JsonToken token = next();
        if (token == JsonToken.END_OBJECT) {
            ended = true;
            if (next() != null) {
                throw ApiProblem.invalidArgument("unexpected content after the JSON object of the request body");
            }
            return null;
        }
        // Only FIELD_NAME can follow inside an object; the parser rejects anything else.
        String name = parser.currentName();
        for (int i = 0; i < seenCount; i++) {
            if (seen[i].equals(name)) {
                throw ApiProblem.invalidArgument("field " + Texts.quote(name) + " appears more than once");
            }
        }
        if (seenCount < seen.length) {
            seen[seenCount++] = name;
        }
        next();
        return name;
    }

    /** The current value token. */
    public JsonToken token() {
        return parser.currentToken();
    }

    /** Skips the current value (objects and arrays whole). */
    public void skip() {
        try {
            parser.skipChildren();
        } catch (JacksonException e) {
            throw translate(e);
        }
    }

    /** An unsigned 64-bit value: JSON integer, hex string or decimal string; null when the field is null. */
    public Long u64(String field) {
        JsonToken t = parser.currentToken();
        if (t == JsonToken.VALUE_NULL) {
            return null;
        }
        if (t == JsonToken.VALUE_NUMBER_INT) {
            return U64.parseIntegerLiteral(field, text());
        }
        if (t == JsonToken.VALUE_STRING) {
            return U64.parse(field, text());
        }
        throw wrongType(field, "an unsigned 64-bit integer: a JSON integer, a hex string \"0x…\" or a decimal string");
    }

    /** An unsigned 32-bit value (flags, protection bits), in the forms of {@link #u64}. */
    public Long u32(String field) {
        Long value = u64(field);
        if (value != null && Long.compareUnsigned(value, 0xFFFF_FFFFL) > 0) {
            throw ApiProblem.invalidArgument(field + " must be an unsigned 32-bit integer (at most 0xffffffff), not "
                    + U64.format(value));
        }
        return value;
    }

    /** A JSON boolean; null when the field is null. */
    public Boolean bool(String field) {
        JsonToken t = parser.currentToken();
        if (t == JsonToken.VALUE_NULL) {
            return null;
        }
        if (t == JsonToken.VALUE_TRUE || t == JsonToken.VALUE_FALSE) {
            return t == JsonToken.VALUE_TRUE;
        }
        throw wrongType(field, "a JSON boolean (true or false)");
    }

    /** A JSON string; null when the field is null. */
    public String string(String field) {
        JsonToken t = parser.currentToken();
        if (t == JsonToken.VALUE_NULL) {
            return null;
        }
        if (t == JsonToken.VALUE_STRING) {
            return text();
        }
        throw wrongType(field, "a JSON string");
    }

    /**
     * A protection: three letters {@code [r-][w-][x-]} or a {@code vm_prot_t} bit mask as integer or hex/decimal
     * string. Unknown bits pass through, for {@code vm_protect} to refuse exactly as Mach does.
     */
    public Integer protection(String field) {
        JsonToken t = parser.currentToken();
        if (t == JsonToken.VALUE_NULL) {
            return null;
        }
        if (t == JsonToken.VALUE_STRING) {
            String s = text();
            int prot = VmProt.parse(s);
            if (prot >= 0) {
                return prot;
            }
            if (s.isEmpty() || !Character.isDigit(s.charAt(0))) {
                throw ApiProblem.invalidArgument(field + " must be three letters [r-][w-][x-] such as \"rw-\", or a "
                        + "bit mask (1 READ, 2 WRITE, 4 EXECUTE, 0x10 COPY), not " + Texts.quote(s));
            }
        } else if (t != JsonToken.VALUE_NUMBER_INT) {
            throw wrongType(field, "a protection: \"rw-\" style letters or a bit mask");
        }
        return (int) (long) u32(field);
    }

    /**
     * An inheritance as its Mach value: {@code "share"} 0, {@code "copy"} 1, {@code "none"} 2, or a number, which may
     * be above {@code VM_INHERIT_LAST_VALID} for vm_inherit to refuse as Mach does; null when the field is null.
     */
    public Long inheritance(String field) {
        JsonToken t = parser.currentToken();
        if (t == JsonToken.VALUE_NULL) {
            return null;
        }
        if (t == JsonToken.VALUE_STRING) {
            String s = text();
            VmInherit named = VmInherit.fromWireName(s);
            if (named != null) {
                return (long) named.value();
            }
            if (s.isEmpty() || !Character.isDigit(s.charAt(0))) {
                throw ApiProblem.invalidArgument(field + " must be \"share\", \"copy\" or \"none\" (or 0, 1, 2), not "
                        + Texts.quote(s));
            }
        } else if (t != JsonToken.VALUE_NUMBER_INT) {
            throw wrongType(field, "\"share\", \"copy\" or \"none\" (or 0, 1, 2)");
        }
        return u32(field);
    }

    /** Base64 data of the current string value, decoded into memory. */
    public byte[] binary(String field) {
        if (parser.currentToken() != JsonToken.VALUE_STRING) {
            throw wrongType(field, "a base64 string");
        }
        try {
            return parser.getBinaryValue();
        } catch (JacksonException e) {
            throw translateBinary(field, e);
        }
    }

    /** Decodes the base64 data of the current string value into {@code out} as it is read. */
    public long binaryTo(String field, java.io.OutputStream out) {
        if (parser.currentToken() != JsonToken.VALUE_STRING) {
            throw wrongType(field, "a base64 string");
        }
        try {
            return parser.readBinaryValue(out);
        } catch (JacksonException e) {
            throw translateBinary(field, e);
        }
    }

    private RuntimeException translateBinary(String field, JacksonException e) {
        if (e instanceof JacksonIOException io && io.getCause() instanceof IOException cause) {
            return new BodyStreamException(cause);
        }
        if (e instanceof tools.jackson.core.exc.StreamReadException && !(e.getCause() instanceof IOException)
                && e.getOriginalMessage() != null && e.getOriginalMessage().contains("ase64")) {
            return ApiProblem.invalidArgument(field + " is not valid base64: " + e.getOriginalMessage());
        }
        return translate(e);
    }

    private String text() {
        try {
            return parser.getString();
        } catch (JacksonException e) {
            throw translate(e);
        }
    }

    private JsonToken next() {
        try {
            return parser.nextToken();
        } catch (JacksonException e) {
            throw translate(e);
        }
    }

    private ApiProblem wrongType(String field, String expected) {
        return ApiProblem.invalidArgument(field + " must be " + expected + ", not " + describe(parser.currentToken()));
    }

    private static String describe(JsonToken t) {
        if (t == null) {
            return "nothing";
        }
        return switch (t) {
            case START_OBJECT -> "an object";
            case START_ARRAY -> "an array";
            case VALUE_STRING -> "a string";
            case VALUE_NUMBER_INT -> "an integer";
            case VALUE_NUMBER_FLOAT -> "a number with a fraction or exponent";
            case VALUE_TRUE, VALUE_FALSE -> "a boolean";
            case VALUE_NULL -> "null";
            default -> "a " + t.name().toLowerCase(java.util.Locale.ROOT);
        };
    }

    /** A parser failure as a problem: malformed JSON is a {@code 400}, a broken connection is a body failure. */
    RuntimeException translate(JacksonException e) {
        return translate(e, parser.currentName());
    }

    /**
     * A parser failure as a problem, {@code field} (or null) being the field the parser was in: malformed JSON is a
     * {@code 400}, a broken connection is a body failure.
     */
    static RuntimeException translate(JacksonException e, String field) {
        if (e instanceof JacksonIOException && e.getCause() instanceof IOException cause) {
            return new BodyStreamException(cause);
        }
        if (e.getCause() instanceof ApiProblem problem) {
            return problem;
        }
        StringBuilder detail = new StringBuilder("request body is not valid JSON");
        if (field != null) {
            detail.append(" (at field ").append(Texts.quote(field)).append(')');
        }
        TokenStreamLocation at = e.getLocation();
        if (at != null && at.getLineNr() > 0) {
            detail.append(" at line ").append(at.getLineNr()).append(", column ").append(at.getColumnNr());
        }
        String message = e.getOriginalMessage();
        if (message != null) {
            int newline = message.indexOf('\n');
            detail.append(": ").append(withoutInternals(newline < 0 ? message : message.substring(0, newline)));
        }
        return ApiProblem.invalidArgument(detail.toString());
    }

    /**
     * Jackson's message without what names its internals: source locations ({@code [Source: …]}), the settings and
     * types it quotes ({@code , from `StreamReadConstraints.getMaxNestingDepth()`}, {@code (bound as `…`)}) and the
     * features it suggests; a quoted constant keeps only its simple name.
     */
    static String withoutInternals(String message) {
        return message.replaceAll("\\s*\\(start marker at \\[Source:[^\\]]*\\]\\)", "")
                .replaceAll("\\[Source:[^\\]]*\\]", "")
                .replaceAll(", from `[^`]*`", "")
                .replaceAll("\\s*\\(bound as `[^`]*`\\)", "")
                .replaceAll(":?\\s*not allowed as per `[^`]*`", "")
                .replaceAll("\\s*\\(consider enabling `[^`]*`.*$", "")
                .replaceAll(":?\\s*(enable|disable) `[^`]*`[^;:]*", "")
                .replaceAll("`(?:[\\w$]+\\.)*([\\w$]+)(?:\\(\\))?`", "$1")
                .strip();
    }

    static BodyStreamException brokenBody(IOException e) {
        return new BodyStreamException(e);
    }

    @Override
    public void close() {
        try {
            parser.close();
        } catch (JacksonException ignored) {
            // nothing to release but buffers
        }
    }

    /** Counts the bytes of a body without Content-Length and refuses more than the limit with {@code 413}. */
    static final class LimitedInputStream extends InputStream {
        private final InputStream in;
        private final long limit;
        private long count;

        LimitedInputStream(InputStream in, long limit) {
            this.in = in;
            this.limit = limit;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) {
                count(1);
            }
            return b;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            int n = in.read(buffer, offset, length);
            if (n > 0) {
                count(n);
            }
            return n;
        }

        private void count(int n) {
            count += n;
            if (count > limit) {
                throw ApiProblem.tooLarge("request body exceeds the limit of " + limit + " bytes for this call");
            }
        }
    }
}
