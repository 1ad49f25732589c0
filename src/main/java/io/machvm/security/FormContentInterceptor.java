package io.machvm.security;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import org.springframework.web.method.HandlerMethod;
import org.springframework.web.servlet.HandlerInterceptor;

/**
 * Without credentials, refuses a request that changes something with a content type an HTML form can send
 * ({@code application/x-www-form-urlencoded}, {@code multipart/form-data}, {@code text/plain}) with
 * {@code 415 KERN_INVALID_ARGUMENT}: a browser too old to send {@code Origin} on a form post is stopped too. It runs
 * once a handler is found, so an unknown path is still a 404 and a wrong method a 405.
 */
final class FormContentInterceptor implements HandlerInterceptor {

    @Override
    public boolean preHandle(HttpServletRequest request, HttpServletResponse response, Object handler)
            throws IOException {
        if (handler instanceof HandlerMethod && !ClientChecks.isSafeMethod(request.getMethod())
                && ClientChecks.isFormContentType(request.getContentType())) {
            SecurityProblems.unsupportedMediaType(request, response, "Content-Type '" + request.getContentType()
                    + "' is what a cross-site HTML form sends and is refused without credentials: send "
                    + "application/json or application/octet-stream");
            return false;
        }
        return true;
    }
}
