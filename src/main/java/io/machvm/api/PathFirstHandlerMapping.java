package io.machvm.api;

import jakarta.servlet.http.HttpServletRequest;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.webmvc.autoconfigure.WebMvcRegistrations;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.servlet.mvc.condition.PathPatternsRequestCondition;
import org.springframework.web.servlet.mvc.method.RequestMappingInfo;
import org.springframework.web.servlet.mvc.method.annotation.RequestMappingHandlerMapping;

/**
 * Spring MVC's request mapping, matching the path before the other conditions. A request whose path has variables
 * ({@code /tasks/{task}/memory/{address}}) is tried against every mapping, and Spring checks method, parameters,
 * headers, consumes and produces before the path: for a {@code GET}, every {@code GET} mapping that produces JSON
 * compares the {@code Accept} header though its path cannot match (about a tenth of a 4 KiB {@code vm_read}'s CPU).
 * A mapping matches only when all its conditions do, so checking the path first changes which mappings match in no
 * case, only how soon a mismatch is seen.
 */
@Configuration(proxyBeanMethods = false)
public class PathFirstHandlerMapping {

    @Bean
    WebMvcRegistrations pathFirstRequestMappings() {
        return new WebMvcRegistrations() {
            @Override
            public RequestMappingHandlerMapping getRequestMappingHandlerMapping() {
                return new Mapping();
            }
        };
    }

    static final class Mapping extends RequestMappingHandlerMapping {
        @Override
        protected @Nullable RequestMappingInfo getMatchingMapping(RequestMappingInfo info,
                HttpServletRequest request) {
            PathPatternsRequestCondition paths = info.getPathPatternsCondition();
            if (paths != null && paths.getMatchingCondition(request) == null) {
                return null;
            }
            return super.getMatchingMapping(info, request);
        }
    }
}
