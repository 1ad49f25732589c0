package io.machvm.api;

import org.springframework.context.annotation.Configuration;
import org.springframework.web.servlet.config.annotation.ViewControllerRegistry;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;

/**
 * The memory inspector, a single page in {@code static/ui/} that uses only the public HTTP API: {@code GET /ui/}
 * serves it, and {@code GET /} and {@code GET /ui} redirect there. View controllers are not request-mapped
 * controllers, so the OpenAPI document does not list these paths.
 */
@Configuration(proxyBeanMethods = false)
public class InspectorPage implements WebMvcConfigurer {

    @Override
    public void addViewControllers(ViewControllerRegistry registry) {
        registry.addRedirectViewController("/", "/ui/");
        registry.addRedirectViewController("/ui", "/ui/");
        registry.addViewController("/ui/").setViewName("forward:/ui/index.html");
    }
}
