package io.machvm.ops;

import io.machvm.config.InvalidSettingException;
import io.machvm.persistence.UnusableDirectoryException;
import java.util.Locale;
import org.springframework.boot.context.properties.bind.BindException;
import org.springframework.boot.context.properties.source.ConfigurationProperty;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.boot.diagnostics.FailureAnalyzer;
import org.springframework.core.Ordered;
import org.springframework.core.convert.ConversionFailedException;
import org.springframework.core.convert.TypeDescriptor;
import org.springframework.util.unit.DataSize;

/**
 * Turns a {@code machvm.*} setting that cannot be bound or is out of range into one line naming the setting, in
 * place of Spring's generic binding report and stack trace. Registered in {@code META-INF/spring.factories}; ordered
 * first so that it wins over Boot's own {@code BindFailureAnalyzer}. Failures of other settings are left to Boot.
 */
public final class InvalidSettingFailureAnalyzer implements FailureAnalyzer, Ordered {
    private static final String PREFIX = "machvm.";

    @Override
    public int getOrder() {
        return Ordered.HIGHEST_PRECEDENCE;
    }

    @Override
    public FailureAnalysis analyze(Throwable failure) {
        InvalidSettingException invalid = find(failure, InvalidSettingException.class);
        if (invalid != null) {
            String action = invalid.action() != null ? invalid.action() : howToSet(invalid.setting());
            return new FailureAnalysis(oneLine(invalid.getMessage()), action, failure);
        }
        UnusableDirectoryException directory = find(failure, UnusableDirectoryException.class);
        if (directory != null) {
            return new FailureAnalysis(oneLine(directory.getMessage()), directory.action(), failure);
        }
        BindException bind = find(failure, BindException.class);
        if (bind != null && bind.getName().toString().startsWith(PREFIX)) {
            return analyzeBindFailure(bind, failure);
        }
        return null;
    }

    private static FailureAnalysis analyzeBindFailure(BindException bind, Throwable failure) {
        ConfigurationProperty property = bind.getProperty();
        String setting = property != null ? property.getName().toString() : bind.getName().toString();
        StringBuilder description = new StringBuilder(setting);
        if (property != null) {
            description.append("='").append(property.getValue()).append('\'');
        }
        description.append(' ').append(reason(bind.getCause()));
        if (property != null && property.getOrigin() != null) {
            description.append(" (set by ").append(property.getOrigin()).append(')');
        }
        return new FailureAnalysis(oneLine(description.toString()), howToSet(setting), failure);
    }

    /** Why the value could not be bound, as the end of a sentence that starts with the setting and its value. */
    private static String reason(Throwable cause) {
        ConversionFailedException conversion = find(cause, ConversionFailedException.class);
        if (conversion != null) {
            return "is not " + expected(conversion.getTargetType());
        }
        Throwable root = cause;
        while (root != null && root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return "is invalid: " + (root == null ? "unknown reason" : root.getMessage());
    }

    private static String expected(TypeDescriptor target) {
        Class<?> type = target.getObjectType();
        if (type == Integer.class || type == Long.class || type == Short.class) {
            return "a whole number";
        }
        if (type == DataSize.class) {
            return "a data size such as 512MB or 1GB (units B, KB, MB, GB, TB; 1KB = 1024B)";
        }
        if (type == Boolean.class) {
            return "true or false";
        }
        return "a valid " + type.getSimpleName();
    }

    private static String howToSet(String setting) {
        String env = setting.toUpperCase(Locale.ROOT).replace("-", "").replace('.', '_');
        return "Correct " + setting + ": --" + setting + "=... on the command line, " + env
                + "=... in the environment, or " + setting + " in application.yaml. "
                + "README.md (Configuration) lists every setting with its default.";
    }

    private static <T extends Throwable> T find(Throwable failure, Class<T> type) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
        }
        return null;
    }

    /** Keeps the description on one line whatever a value or message contains. */
    private static String oneLine(String text) {
        return text == null ? "" : text.replaceAll("[\\r\\n\\t]+", " ").strip();
    }
}
