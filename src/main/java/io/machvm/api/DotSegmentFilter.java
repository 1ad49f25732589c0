package io.machvm.api;

import io.machvm.vm.KernReturn;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Refuses a request path with a dot segment ({@code /./} or {@code /../}, also percent-encoded or with path
 * parameters) with {@code 400 KERN_INVALID_ARGUMENT}. Spring MVC matches handlers on the raw path while Tomcat and the
 * proxies in front normalize it, so such a path could name one resource to them and another here: a task called
 * {@code ..}, or an actuator path that leaves its endpoint.
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE)
public class DotSegmentFilter extends OncePerRequestFilter {

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        String uri = request.getRequestURI();
        if (hasDotSegment(uri)) {
            ProblemWriter.write(response, 400, KernReturn.KERN_INVALID_ARGUMENT,
                    "the request path must not contain dot segments (/./ or /../)", uri, null);
            return;
        }
        chain.doFilter(request, response);
    }

    /** Whether a segment of the raw path is {@code .} or {@code ..}, in any spelling. */
    static boolean hasDotSegment(String path) {
        if (path.indexOf('.') < 0 && path.indexOf('%') < 0) {
            return false; // the common case, decided without looking at segments
        }
        int start = 0;
        while (start <= path.length()) {
            int end = path.indexOf('/', start);
            if (end < 0) {
                end = path.length();
            }
            int parameters = path.indexOf(';', start);
            if (isDots(path, start, parameters >= 0 && parameters < end ? parameters : end)) {
                return true;
            }
            start = end + 1;
        }
        return false;
    }

    private static boolean isDots(String path, int from, int to) {
        int dots = 0;
        for (int i = from; i < to; ) {
            if (path.charAt(i) == '.') {
                i++;
            } else if (path.regionMatches(true, i, "%2e", 0, 3)) {
                i += 3;
            } else {
                return false;
            }
            dots++;
        }
        return dots == 1 || dots == 2;
    }
}
