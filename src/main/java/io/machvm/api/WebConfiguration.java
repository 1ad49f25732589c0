package io.machvm.api;

import org.springframework.context.annotation.Configuration;
import org.springframework.core.convert.converter.Converter;
import org.springframework.format.FormatterRegistry;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;

/**
 * Path and query parameters of type {@link U64} ({@code {address}}, {@code size}) take the same hex or decimal forms
 * as request bodies; a malformed one is a {@code 400} naming the parameter ({@link ProblemHandler}). (JSON bodies are
 * bounded by {@link BodyLimits}, which installs itself.)
 */
@Configuration(proxyBeanMethods = false)
public class WebConfiguration implements WebMvcConfigurer {
    @Override
    public void addFormatters(FormatterRegistry registry) {
        registry.addConverter(new U64Converter());
    }

    /** A string parameter as a {@link U64}; the failure is reported under the parameter's name by the handler. */
    static final class U64Converter implements Converter<String, U64> {
        @Override
        public U64 convert(String source) {
            return U64.of("value", source);
        }
    }
}
