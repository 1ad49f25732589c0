package io.machvm.api;

import io.machvm.vm.KernException;
import io.machvm.vm.KernReturn;
import io.machvm.vm.TransferLimitException;
import io.swagger.v3.oas.annotations.Hidden;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.RequestDispatcher;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.apache.tomcat.util.http.InvalidParameterException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.web.ErrorResponse;
import org.springframework.web.HttpMediaTypeNotAcceptableException;
import org.springframework.web.HttpMediaTypeNotSupportedException;
import org.springframework.web.HttpRequestMethodNotSupportedException;
import org.springframework.web.bind.MissingServletRequestParameterException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.context.request.async.AsyncRequestNotUsableException;
import org.springframework.web.method.annotation.MethodArgumentTypeMismatchException;
import org.springframework.web.multipart.MaxUploadSizeExceededException;
import org.springframework.web.servlet.NoHandlerFoundException;
import org.springframework.web.servlet.resource.NoResourceFoundException;
import org.springframework.http.converter.HttpMessageNotReadableException;

/**
 * Turns every exception a request can end with into an RFC 9457 problem ({@link ProblemDetail} with {@code kern} and
 * {@code kernReturn}): Mach failures by their {@code kern} (SEMANTICS.md's table), the API's own refusals, binding
 * failures (naming the field), Spring MVC's (unknown path, wrong method, media types) and anything unexpected, which
 * is a generic {@code 500 KERN_FAILURE} whose incident id is logged with the stack trace. The same translation
 * ({@link #answer}) serves a batch's calls and the container's error page ({@link ApiErrorController}), which is
 * outside MVC and writes with {@link ProblemWriter}. Ordered first, so that no other advice answers in another format.
 */
@Hidden
@RestControllerAdvice
@Order(Ordered.HIGHEST_PRECEDENCE)
public class ProblemHandler {
    private static final Logger log = LoggerFactory.getLogger(ProblemHandler.class);
    private static final MediaType PROBLEM_JSON = MediaType.APPLICATION_PROBLEM_JSON;

    @ExceptionHandler(Exception.class)
    public ResponseEntity<ProblemDetail> handle(Exception e, HttpServletRequest request,
            HttpServletResponse response) {
        if (request.getDispatcherType() == DispatcherType.REQUEST
                && request.getAttribute(RequestDispatcher.ERROR_EXCEPTION) != null) {
            // The container failed to read the body (cut short, broken chunking, reset) and has already called
            // sendError: what is written now would be discarded, and committing it would prevent the error dispatch
            // that answers with the problem (ApiErrorController).
            return null;
        }
        String instance = request.getRequestURI();
        Answer a = answer(e, instance, request.getMethod());
        if (a == null || response.isCommitted()) {
            return null; // the client is gone, or part of a body went out: nothing more can be said
        }
        if (a.status() == 413) {
            // The body is left unread: the answer must go out now, before the container drains or drops the
            // connection, so it is written and flushed here rather than by the message converters.
            ProblemWriter.write(response, a.status, a.kern, a.detail, instance, a.allow);
            return null;
        }
        ResponseEntity.BodyBuilder answer = ResponseEntity.status(a.status()).contentType(PROBLEM_JSON);
        if (a.allow() != null) {
            answer.header(HttpHeaders.ALLOW, a.allow());
        }
        return answer.body(a.toProblemDetail(instance));
    }

    /** Writes the problem for {@code e} outside MVC (the container's error page). */
    static void write(Throwable e, String instance, String method, HttpServletResponse response) {
        Answer a = answer(e, instance, method);
        if (a == null) {
            return; // the client is gone
        }
        ProblemWriter.write(response, a.status, a.kern, a.detail, instance, a.allow);
    }

    /** A failure as the client sees it: status, Mach code, detail, and the {@code Allow} header of a 405. */
    record Answer(int status, KernReturn kern, String detail, String allow) {
        Answer(int status, KernReturn kern, String detail) {
            this(status, kern, detail, null);
        }

        ProblemDetail toProblemDetail(String instance) {
            ProblemTypes.ProblemType type = ProblemTypes.of(kern);
            ProblemDetail problem = ProblemDetail.forStatus(status);
            problem.setType(URI.create(type.type()));
            problem.setTitle(type.title());
            problem.setDetail(detail);
            problem.setInstance(uri(instance));
            problem.setProperty("kern", kern.name());
            problem.setProperty("kernReturn", kern.value());
            return problem;
        }

        private static URI uri(String path) {
            try {
                return new URI(path);
            } catch (URISyntaxException e) {
                try {
                    return new URI(null, null, path, null);
                } catch (URISyntaxException again) {
                    return null;
                }
            }
        }
    }

    /** The answer for {@code e}, or null when the client is gone. */
    static Answer answer(Throwable e, String instance, String method) {
        KernReturn invalid = KernReturn.KERN_INVALID_ARGUMENT;
        return switch (e) {
            case ApiProblem p -> new Answer(p.status(), p.kern(), p.detail());
            case TransferLimitException t -> new Answer(413, t.kern(), t.detail());
            case KernException k -> new Answer(ProblemTypes.status(k.kern()), k.kern(), k.detail());
            case BodyStreamException b when b.reason() instanceof FormPart.Refused r -> answer(r.problem(), instance,
                    method);
            case BodyStreamException b -> {
                log.debug("request body of {} {} broke off: {}", method, instance, String.valueOf(b.reason()));
                yield new Answer(400, invalid, "the request body ended before its announced length or could not "
                        + "be read; nothing was changed");
            }
            case InvalidParameterException p -> new Answer(400, invalid, "the query string could not be decoded "
                    + "(malformed percent-encoding or too many parameters)");
            case NoResourceFoundException n -> notFound(method, instance);
            case NoHandlerFoundException n -> notFound(method, instance);
            case HttpRequestMethodNotSupportedException m -> methodNotAllowed(m, instance);
            case HttpMediaTypeNotSupportedException m -> new Answer(415, invalid, "Content-Type "
                    + Texts.quote(String.valueOf(m.getContentType())) + " is not supported by " + method + " "
                    + instance);
            case HttpMediaTypeNotAcceptableException m -> new Answer(406, invalid, "no representation of " + instance
                    + " matches the Accept header; supported: " + m.getSupportedMediaTypes());
            case MissingServletRequestParameterException m -> new Answer(400, invalid, m.getParameterName()
                    + " is required (query parameter)");
            case MethodArgumentTypeMismatchException m -> mismatch(m);
            case HttpMessageNotReadableException m -> answer(JsonBinding.problem(m), instance, method);
            case tools.jackson.core.JacksonException j -> answer(JsonBinding.problem(j), instance, method);
            case MaxUploadSizeExceededException m -> new Answer(413, invalid, "the request body exceeds the upload "
                    + "limit");
            case AsyncRequestNotUsableException a -> null;
            case IOException io -> {
                // Only the connection does I/O here: the client went away (reset, closed, timed out).
                log.debug("connection of {} {} failed: {}", method, instance, io.toString());
                yield null;
            }
            case ErrorResponse r when r.getStatusCode().is4xxClientError() -> new Answer(r.getStatusCode().value(),
                    invalid, "the request was refused (" + r.getStatusCode().value() + ")");
            default -> unexpected(e, method, instance);
        };
    }

    /** A path or query parameter that does not convert: parsed again to say why under its own name. */
    private static Answer mismatch(MethodArgumentTypeMismatchException m) {
        if (m.getRequiredType() == U64.class && m.getValue() instanceof String text) {
            try {
                U64.parse(m.getName(), text);
            } catch (ApiProblem p) {
                return new Answer(p.status(), p.kern(), p.detail());
            }
        }
        return new Answer(400, KernReturn.KERN_INVALID_ARGUMENT, m.getName() + " is not valid: "
                + Texts.quote(String.valueOf(m.getValue())));
    }

    static Answer notFound(String method, String instance) {
        return new Answer(404, KernReturn.KERN_INVALID_ARGUMENT, "no such path: " + method + " "
                + Texts.quote(instance) + " (see /v3/api-docs for the API)");
    }

    private static Answer methodNotAllowed(HttpRequestMethodNotSupportedException m, String instance) {
        Set<HttpMethod> supported = m.getSupportedHttpMethods();
        String allow = supported == null || supported.isEmpty() ? null
                : supported.stream().map(HttpMethod::name).sorted().collect(Collectors.joining(", "));
        return new Answer(405, KernReturn.KERN_INVALID_ARGUMENT, "method " + m.getMethod() + " is not supported by "
                + instance + (allow == null ? "" : "; allowed: " + allow), allow);
    }

    private static Answer unexpected(Throwable e, String method, String instance) {
        String incident = UUID.randomUUID().toString();
        log.error("unexpected failure of {} {} (incident {})", method, instance, incident, e);
        return new Answer(500, KernReturn.KERN_FAILURE, "the service failed unexpectedly (incident " + incident
                + "); the call may not have happened");
    }

    /** The answer for a container error dispatch without an exception: by status only. */
    static void writeStatus(int status, String instance, String method, HttpServletResponse response) {
        Answer a;
        if (status == 404) {
            a = notFound(method, instance);
        } else if (status >= 500) {
            a = new Answer(500, KernReturn.KERN_FAILURE, "the service failed unexpectedly");
        } else if (status == 413) {
            a = new Answer(413, KernReturn.KERN_INVALID_ARGUMENT, "the request is too large");
        } else if (status >= 400) {
            a = new Answer(status, KernReturn.KERN_INVALID_ARGUMENT, "the request was refused (" + status + ")");
        } else {
            a = new Answer(500, KernReturn.KERN_FAILURE, "the service failed unexpectedly (status " + status + ")");
        }
        ProblemWriter.write(response, a.status, a.kern, a.detail, instance, a.allow);
    }
}
