package io.machvm.api;

import io.swagger.v3.oas.annotations.Hidden;
import jakarta.servlet.RequestDispatcher;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import org.springframework.boot.webmvc.error.ErrorController;
import org.springframework.http.server.RequestPath;
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
            ProblemHandler.write(clientFault(unwrap(exception), status, instance), instance, verb, response);
        } else if (status instanceof Integer code) {
            ProblemHandler.writeStatus(code, instance, verb, response);
        } else {
            ProblemHandler.writeStatus(404, instance, verb, response);
        }
    }

    /**
     * The container's own failures that the client caused: a body it could not read (Tomcat has answered 4xx and the
     * client may still listen) and a path Spring MVC cannot decode (a bad escape in a {@code ;} path parameter).
     */
    private static Throwable clientFault(Throwable e, Object status, String instance) {
        if (e instanceof IOException io && status instanceof Integer code && code >= 400 && code < 500) {
            return new BodyStreamException(io);
        }
        if (e instanceof IllegalArgumentException && !decodablePath(instance)) {
            return ApiProblem.invalidArgument("the request path is not validly percent-encoded");
        }
        return e;
    }

    private static boolean decodablePath(String uri) {
        try {
            RequestPath.parse(uri, null);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
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
