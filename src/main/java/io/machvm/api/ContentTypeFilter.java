package io.machvm.api;

import io.machvm.vm.KernReturn;
import io.machvm.vm.TaskImage;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Collections;
import java.util.Enumeration;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.InvalidMediaTypeException;
import org.springframework.http.MediaType;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Puts a request's {@code Content-Type} in the form Spring MVC selects handlers and converters by, so that what the
 * API always took is still taken:
 * <ul>
 * <li>with {@code Content-Length: 0} there is no body, so whatever type a client library sent with nothing is
 * irrelevant and is hidden (an optional body is then simply absent); an empty snapshot image stays one, to be refused
 * as truncated, and so does an empty HTML form's type, which is what a cross-site form post sends and is refused
 * (415) as such;</li>
 * <li>parameters Spring cannot parse ({@code application/vnd.machvm.snapshot; charset=binary}) are dropped: the
 * media type is what counts;</li>
 * <li>a wildcard ({@code *}{@code /*}) names no type of body: {@code 415}.</li>
 * </ul>
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 1)
public class ContentTypeFilter extends OncePerRequestFilter {

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        String contentType = request.getContentType();
        // the two common types need no parsing (but an empty body is still a body without a type)
        if (contentType != null && request.getContentLengthLong() != 0
                && (contentType.equals(MediaType.APPLICATION_OCTET_STREAM_VALUE)
                        || contentType.equals(MediaType.APPLICATION_JSON_VALUE))) {
            chain.doFilter(request, response);
            return;
        }
        if (contentType != null) {
            if (request.getContentLengthLong() == 0 && !isImage(contentType) && !isForm(contentType)) {
                request = new WithContentType(request, null);
            } else {
                MediaType type = parse(contentType);
                if (type == null) {
                    String base = contentType.substring(0, contentType.indexOf(';') < 0 ? contentType.length()
                            : contentType.indexOf(';')).strip();
                    if (parse(base) != null) {
                        request = new WithContentType(request, base);
                        type = parse(base);
                    }
                }
                if (type != null && (type.isWildcardType() || type.isWildcardSubtype())) {
                    ProblemWriter.write(response, 415, KernReturn.KERN_INVALID_ARGUMENT, "Content-Type "
                            + Texts.quote(contentType) + " names no media type: send the body's own type",
                            request.getRequestURI(), null);
                    return;
                }
            }
        }
        chain.doFilter(request, response);
    }

    private static boolean isImage(String contentType) {
        return contentType.regionMatches(true, 0, TaskImage.MEDIA_TYPE, 0, TaskImage.MEDIA_TYPE.length());
    }

    /** The types an HTML form sends without a preflight: never a client library's stray header. */
    private static boolean isForm(String contentType) {
        String base = contentType.split(";", 2)[0].strip();
        return base.equalsIgnoreCase("application/x-www-form-urlencoded") || base.equalsIgnoreCase("multipart/form-data")
                || base.equalsIgnoreCase("text/plain");
    }

    private static MediaType parse(String contentType) {
        try {
            return MediaType.parseMediaType(contentType);
        } catch (InvalidMediaTypeException e) {
            return null;
        }
    }

    /** The request with another {@code Content-Type} (null: none). */
    private static final class WithContentType extends HttpServletRequestWrapper {
        private final String contentType;

        WithContentType(HttpServletRequest request, String contentType) {
            super(request);
            this.contentType = contentType;
        }

        private static boolean isContentType(String name) {
            return "Content-Type".equalsIgnoreCase(name);
        }

        @Override
        public String getContentType() {
            return contentType;
        }

        @Override
        public String getHeader(String name) {
            return isContentType(name) ? contentType : super.getHeader(name);
        }

        @Override
        public Enumeration<String> getHeaders(String name) {
            if (!isContentType(name)) {
                return super.getHeaders(name);
            }
            return contentType == null ? Collections.emptyEnumeration()
                    : Collections.enumeration(java.util.List.of(contentType));
        }

        @Override
        public Enumeration<String> getHeaderNames() {
            java.util.List<String> names = new java.util.ArrayList<>(Collections.list(super.getHeaderNames()).stream()
                    .filter(name -> !isContentType(name)).toList());
            if (contentType != null) {
                names.add("Content-Type");
            }
            return Collections.enumeration(names);
        }
    }
}
