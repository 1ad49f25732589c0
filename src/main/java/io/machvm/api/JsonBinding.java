package io.machvm.api;

import io.machvm.vm.VmInherit;
import io.machvm.vm.VmProt;
import java.io.IOException;
import java.util.Locale;
import org.springframework.boot.jackson.autoconfigure.JsonFactoryBuilderCustomizer;
import org.springframework.boot.jackson.autoconfigure.JsonMapperBuilderCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import tools.jackson.core.Base64Variants;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonGenerator;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.core.StreamReadConstraints;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.core.TokenStreamLocation;
import tools.jackson.core.exc.JacksonIOException;
import tools.jackson.databind.DatabindException;
import tools.jackson.databind.DeserializationContext;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JacksonModule;
import tools.jackson.databind.SerializationContext;
import tools.jackson.databind.ValueDeserializer;
import tools.jackson.databind.ValueSerializer;
import tools.jackson.databind.exc.MismatchedInputException;
import tools.jackson.databind.module.SimpleModule;

/**
 * How Jackson binds the API's JSON: strictly typed, as {@code API.md} says. A known field of the wrong type is a
 * {@code 400} that names it, unknown fields are ignored, {@code null} is absent, a field given twice or content after
 * the object is malformed, and numbers never pass through {@code double}. The value types {@link U64},
 * {@link Requests.Protection} and {@link Requests.Inheritance} read every request form; strings, booleans and base64
 * data are never coerced from another JSON type.
 */
@Configuration(proxyBeanMethods = false)
public class JsonBinding {

    /** No request text in error locations (it would be echoed into problem details); a bounded nesting depth. */
    @Bean
    JsonFactoryBuilderCustomizer machvmJsonFactory() {
        return builder -> builder
                .disable(StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION)
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .streamReadConstraints(StreamReadConstraints.builder()
                        .maxStringLength(Integer.MAX_VALUE) // base64 data; bodies have their own limits (BodyLimits)
                        .maxNestingDepth(64)
                        .build());
    }

    @Bean
    JsonMapperBuilderCustomizer machvmJsonMapper() {
        return builder -> builder
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    }

    @Bean
    JacksonModule machvmTypes() {
        return new SimpleModule("machvm")
                .addDeserializer(U64.class, new U64Deserializer())
                .addSerializer(U64.class, new U64Serializer())
                .addDeserializer(Requests.Protection.class, new ProtectionDeserializer())
                .addDeserializer(Requests.Inheritance.class, new InheritanceDeserializer())
                .addDeserializer(String.class, new StrictString())
                .addDeserializer(Boolean.class, new StrictBoolean())
                .addDeserializer(byte[].class, new Base64Data());
    }

    // ---------------------------------------------------------------- value types

    private static final class U64Deserializer extends ValueDeserializer<U64> {
        @Override
        public U64 deserialize(JsonParser p, DeserializationContext ctxt) {
            String field = p.currentName();
            return switch (p.currentToken()) {
                case VALUE_NUMBER_INT -> new U64(U64.parseIntegerLiteral(field, p.getString()));
                case VALUE_STRING -> new U64(U64.parse(field, p.getString()));
                default -> throw wrongType(p, "an unsigned 64-bit integer: a JSON integer, a hex string \"0x…\" "
                        + "or a decimal string");
            };
        }
    }

    private static final class U64Serializer extends ValueSerializer<U64> {
        @Override
        public void serialize(U64 value, JsonGenerator g, SerializationContext ctxt) {
            g.writeString(U64.format(value.value()));
        }
    }

    /** An unsigned 32-bit value (flags, protection bits) in the forms of a u64. */
    static long u32(String field, long value) {
        if (Long.compareUnsigned(value, 0xFFFF_FFFFL) > 0) {
            throw ApiProblem.invalidArgument(field + " must be an unsigned 32-bit integer (at most 0xffffffff), not "
                    + U64.format(value));
        }
        return value;
    }

    /**
     * A value a request gives by name or by number: a name it knows, or an unsigned 32-bit integer as a JSON integer
     * or a hex or decimal string. Numbers are not judged here, so that the call refuses them exactly as Mach does.
     */
    private abstract static class NameOrNumber<T> extends ValueDeserializer<T> {
        /** What a string that is neither a known name nor a number must be, for the problem. */
        private final String names;
        /** What a JSON value of another type must be, for the problem. */
        private final String forms;

        NameOrNumber(String names, String forms) {
            this.names = names;
            this.forms = forms;
        }

        /** The value of a name, or null when it is no name of the type. */
        abstract T named(String name);

        abstract T number(long u32);

        @Override
        public T deserialize(JsonParser p, DeserializationContext ctxt) {
            String field = p.currentName();
            JsonToken t = p.currentToken();
            if (t == JsonToken.VALUE_STRING) {
                String s = p.getString();
                T named = named(s);
                if (named != null) {
                    return named;
                }
                if (s.isEmpty() || !Character.isDigit(s.charAt(0))) {
                    throw ApiProblem.invalidArgument(field + " must be " + names + ", not " + Texts.quote(s));
                }
                return number(u32(field, U64.parse(field, s)));
            }
            if (t != JsonToken.VALUE_NUMBER_INT) {
                throw wrongType(p, forms);
            }
            return number(u32(field, U64.parseIntegerLiteral(field, p.getString())));
        }
    }

    /**
     * Three letters {@code [r-][w-][x-]} or a {@code vm_prot_t} bit mask. Unknown bits pass through, for
     * {@code vm_protect} to refuse exactly as Mach does.
     */
    private static final class ProtectionDeserializer extends NameOrNumber<Requests.Protection> {
        ProtectionDeserializer() {
            super("three letters [r-][w-][x-] such as \"rw-\", or a bit mask (1 READ, 2 WRITE, 4 EXECUTE, 0x10 COPY)",
                    "a protection: \"rw-\" style letters or a bit mask");
        }

        @Override
        Requests.Protection named(String letters) {
            int prot = VmProt.parse(letters);
            return prot >= 0 ? new Requests.Protection(prot) : null;
        }

        @Override
        Requests.Protection number(long u32) {
            return new Requests.Protection((int) u32);
        }
    }

    /**
     * {@code "share"} 0, {@code "copy"} 1, {@code "none"} 2, or a number, which may be above
     * {@code VM_INHERIT_LAST_VALID} for vm_inherit to refuse as Mach does.
     */
    private static final class InheritanceDeserializer extends NameOrNumber<Requests.Inheritance> {
        private static final String FORMS = "\"share\", \"copy\" or \"none\" (or 0, 1, 2)";

        InheritanceDeserializer() {
            super(FORMS, FORMS);
        }

        @Override
        Requests.Inheritance named(String name) {
            VmInherit named = VmInherit.fromWireName(name);
            return named == null ? null : new Requests.Inheritance(named.value());
        }

        @Override
        Requests.Inheritance number(long u32) {
            return new Requests.Inheritance(u32);
        }
    }

    private static final class StrictString extends ValueDeserializer<String> {
        @Override
        public String deserialize(JsonParser p, DeserializationContext ctxt) {
            if (p.currentToken() != JsonToken.VALUE_STRING) {
                throw wrongType(p, "a JSON string");
            }
            return p.getString();
        }
    }

    private static final class StrictBoolean extends ValueDeserializer<Boolean> {
        @Override
        public Boolean deserialize(JsonParser p, DeserializationContext ctxt) {
            return switch (p.currentToken()) {
                case VALUE_TRUE -> Boolean.TRUE;
                case VALUE_FALSE -> Boolean.FALSE;
                default -> throw wrongType(p, "a JSON boolean (true or false)");
            };
        }
    }

    /** Base64 (RFC 4648) data in a JSON string. */
    private static final class Base64Data extends ValueDeserializer<byte[]> {
        @Override
        public byte[] deserialize(JsonParser p, DeserializationContext ctxt) {
            if (p.currentToken() != JsonToken.VALUE_STRING) {
                throw wrongType(p, "a base64 string");
            }
            try {
                return Base64Variants.getDefaultVariant().decode(p.getString());
            } catch (IllegalArgumentException e) {
                throw ApiProblem.invalidArgument(p.currentName() + " is not valid base64: " + e.getMessage());
            }
        }
    }

    private static ApiProblem wrongType(JsonParser p, String expected) {
        return ApiProblem.invalidArgument(p.currentName() + " must be " + expected + ", not "
                + describe(p.currentToken()));
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
            default -> "a " + t.name().toLowerCase(Locale.ROOT);
        };
    }

    // ---------------------------------------------------------------- failures

    /**
     * What a failure to bind a JSON body is for the client: the {@link ApiProblem} a value type raised, a broken
     * connection ({@link BodyStreamException}), or a {@code 400} that says what is malformed and where.
     */
    static RuntimeException problem(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ApiProblem p) {
                return p;
            }
            if (t instanceof BodyStreamException b) {
                return b;
            }
            if (t instanceof JacksonIOException && t.getCause() instanceof IOException io) {
                return new BodyStreamException(io);
            }
        }
        Throwable cause = e;
        while (cause != null && !(cause instanceof JacksonException) && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof MismatchedInputException m) {
            String message = String.valueOf(m.getOriginalMessage());
            if (message.startsWith("Trailing token")) {
                return ApiProblem.invalidArgument("unexpected content after the JSON object of the request body");
            }
            String path = path(m);
            if (path.isEmpty()) {
                return ApiProblem.invalidArgument("request body must be a JSON object");
            }
            Class<?> target = m.getTargetType();
            String expected = target != null && java.util.Collection.class.isAssignableFrom(target) ? "a JSON array"
                    : "a JSON object";
            return ApiProblem.invalidArgument(path + " must be " + expected);
        }
        if (cause instanceof JacksonException j) {
            StringBuilder detail = new StringBuilder("request body is not valid JSON");
            String path = j instanceof DatabindException d ? path(d) : "";
            if (!path.isEmpty()) {
                detail.append(" (at field ").append(Texts.quote(path)).append(')');
            }
            TokenStreamLocation at = j.getLocation();
            if (at != null && at.getLineNr() > 0) {
                detail.append(" at line ").append(at.getLineNr()).append(", column ").append(at.getColumnNr());
            }
            if (j.getOriginalMessage() != null) {
                detail.append(": ").append(withoutInternals(firstLine(j.getOriginalMessage())));
            }
            return ApiProblem.invalidArgument(detail.toString());
        }
        if (String.valueOf(e.getMessage()).startsWith("Required request body is missing")) {
            // JSON null where an object is required (an empty body is refused by BodyLimits)
            return ApiProblem.invalidArgument("request body must be a JSON object");
        }
        return ApiProblem.invalidArgument("the request body could not be read as the call's arguments");
    }

    /** The JSON path of a binding failure: {@code calls[2].size}. */
    private static String path(DatabindException e) {
        StringBuilder out = new StringBuilder();
        for (DatabindException.Reference r : e.getPath()) {
            if (r.getPropertyName() != null) {
                if (!out.isEmpty()) {
                    out.append('.');
                }
                out.append(r.getPropertyName());
            } else if (r.getIndex() >= 0) {
                out.append('[').append(r.getIndex()).append(']');
            }
        }
        return out.toString();
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "";
        }
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
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
}
