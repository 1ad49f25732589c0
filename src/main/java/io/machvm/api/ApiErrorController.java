package io.machvm.api;

import io.swagger.v3.oas.annotations.Hidden;
import jakarta.servlet.RequestDispatcher;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.springframework.boot.webmvc.error.ErrorController;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * The servlet container's error page ({@code /error}), replacing Boot's whitelabel/JSON error controller: failures
 * that happen outside Spring MVC's exception handling (in filters, in the container) are answered as problems too.
 * Requested directly, {@code /error} is an unknown path.
 */
@Hidden
@RestController
public class ApiErrorController implements ErrorController {

    @RequestMapping("${server.error.path:/error}")
    public void error(HttpServletRequest request, HttpServletResponse response) {
        Object status = request.getAttribute(RequestDispatcher.ERROR_STATUS_CODE);
        Object uri = request.getAttribute(RequestDispatcher.ERROR_REQUEST_URI);
        String instance = uri instanceof String s ? s : request.getRequestURI();
        Object method = request.getAttribute("jakarta.servlet.error.method");
        String verb = method instanceof String m ? m : request.getMethod();
        Throwable exception = (Throwable) request.getAttribute(RequestDispatcher.ERROR_EXCEPTION);
        if (exception != null) {
            ProblemHandler.write(unwrap(exception), instance, verb, response);
        } else if (status instanceof Integer code) {
            ProblemHandler.writeStatus(code, instance, verb, response);
        } else {
            ProblemHandler.writeStatus(404, instance, verb, response);
        }
    }

    private static Throwable unwrap(Throwable e) {
        Throwable t = e;
        while (t instanceof jakarta.servlet.ServletException && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
