package io.machvm.security;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Arrays;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.method.HandlerMethod;
import org.springframework.web.servlet.HandlerInterceptor;

/**
 * Without credentials, refuses a request that changes something with a content type an HTML form can send
 * ({@code application/x-www-form-urlencoded}, {@code multipart/form-data}, {@code text/plain}) with
 * {@code 415 KERN_INVALID_ARGUMENT}: a browser too old to send {@code Origin} on a form post is stopped too. It runs
 * once a handler is found, so an unknown path is still a 404 and a wrong method a 405.
 *
 * <p>A handler that declares it consumes {@code multipart/form-data} (the {@code _form} uploads) takes it: a file part
 * is what it reads. Those uploads stay out of reach of a cross-site form all the same: two are {@code PUT}, which no
 * HTML form sends and a script may send across sites only after a CORS preflight that is never granted; and the
 * {@code POST} one (task_restore_form) takes only a file part holding a valid snapshot image, and makes a new task of
 * it: a browser old enough to send no {@code Origin} fills a file part only with a file its user picked. The
 * {@code Origin} and {@code Sec-Fetch-Site} checks of {@link AnonymousAccessFilter} apply to them as to every call.
 */
final class FormContentInterceptor implements HandlerInterceptor {

    @Override
    public boolean preHandle(HttpServletRequest request, HttpServletResponse response, Object handler)
            throws IOException {
        if (handler instanceof HandlerMethod method && !ClientChecks.isSafeMethod(request.getMethod())
                && ClientChecks.isFormContentType(request.getContentType()) && !consumesMultipart(method)) {
            SecurityProblems.unsupportedMediaType(request, response, "Content-Type '" + request.getContentType()
                    + "' is what a cross-site HTML form sends and is refused without credentials: send "
                    + "application/json or application/octet-stream");
            return false;
        }
        return true;
    }

    /**
     * Whether the handler's mapping names {@code multipart/form-data} among what it consumes (then the request's type
     * is that one: Spring MVC chose the handler by it).
     */
    private static boolean consumesMultipart(HandlerMethod handler) {
        RequestMapping mapping = handler.getMethodAnnotation(RequestMapping.class);
        return mapping != null && Arrays.asList(mapping.consumes()).contains(MediaType.MULTIPART_FORM_DATA_VALUE);
    }
}
