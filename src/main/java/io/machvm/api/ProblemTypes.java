package io.machvm.api;

import io.machvm.vm.KernReturn;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * The problem types: one per failing Mach code, with its HTTP status, title and documentation, from
 * {@code problem-types.properties} beside this class.
 */
public final class ProblemTypes {
    /** The prefix of every problem {@code type}; {@code GET /problems/{kern}} documents each. */
    public static final String TYPE_PREFIX = "/problems/";

    private static final Map<KernReturn, ProblemType> TYPES = new EnumMap<>(KernReturn.class);

    static {
        Properties texts = new Properties();
        try (InputStream in = ProblemTypes.class.getResourceAsStream("problem-types.properties")) {
            if (in == null) {
                throw new IOException("not on the class path");
            }
            texts.load(new InputStreamReader(in, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new ExceptionInInitializerError("problem-types.properties cannot be read: " + e.getMessage());
        }
        for (KernReturn kern : KernReturn.values()) {
            String status = texts.getProperty(kern.name() + ".status");
            if (status != null) {
                TYPES.put(kern, new ProblemType(TYPE_PREFIX + kern.name(), kern, Integer.parseInt(status),
                        texts.getProperty(kern.name() + ".title"), texts.getProperty(kern.name() + ".description")));
            }
        }
    }

    private ProblemTypes() {
    }

    /** The problem type of a failing code. */
    public static ProblemType of(KernReturn kern) {
        ProblemType type = TYPES.get(kern);
        if (type == null) {
            throw new IllegalArgumentException(kern + " is not a failure");
        }
        return type;
    }

    /** The problem type of a code name, or null when the name is no failing code. */
    public static ProblemType byName(String name) {
        KernReturn kern = KernReturn.byName(name);
        return kern == null ? null : TYPES.get(kern);
    }

    /**
     * The members every problem of a {@code kern} has, in the order the API writes them: {@code type, title, status,
     * detail, instance, kern, kernReturn}.
     */
    public static Map<String, Object> members(KernReturn kern, String detail, String instance) {
        ProblemType type = of(kern);
        Map<String, Object> members = new LinkedHashMap<>();
        members.put("type", type.type());
        members.put("title", type.title());
        members.put("status", type.status());
        members.put("detail", detail);
        members.put("instance", instance);
        members.put("kern", kern.name());
        members.put("kernReturn", kern.value());
        return members;
    }

    /** The HTTP status of a failure with this code. */
    public static int status(KernReturn kern) {
        return of(kern).status();
    }

    /** One problem type: the {@code type} URI, its Mach code, its usual HTTP status, title and description. */
    public record ProblemType(String type, KernReturn kern, int status, String title, String description) {
    }
}
