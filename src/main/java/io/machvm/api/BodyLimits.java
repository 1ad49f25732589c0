package io.machvm.api;

import io.machvm.service.VmService;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Type;
import org.springframework.core.MethodParameter;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpInputMessage;
import org.springframework.http.converter.HttpMessageConverter;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.springframework.web.bind.annotation.ControllerAdvice;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.method.HandlerMethod;
import org.springframework.web.servlet.HandlerInterceptor;
import org.springframework.web.servlet.config.annotation.InterceptorRegistry;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;
import org.springframework.web.servlet.mvc.method.annotation.RequestBodyAdviceAdapter;

/**
 * Bounds every JSON request body before Jackson reads it: a {@code Content-Length} over the limit is a {@code 413}
 * before a byte is read, and a body without one is cut off at the limit. The limits: {@value #CONTROL_LIMIT} bytes for
 * the arguments of a call, {@value #BATCH_LIMIT} for a batch, and for vm_write's JSON form the base64 of
 * {@link #JSON_DATA_LIMIT} bytes (or of machvm.api.max-transfer, if smaller): larger data goes as
 * application/octet-stream, which is streamed and never held whole. An empty body where one is required is a
 * {@code 400}.
 *
 * <p>It installs itself in both places: as body advice ({@link ControllerAdvice}) and as the interceptor that checks a
 * declared length before the handler runs ({@link #addInterceptors}).
 */
@ControllerAdvice
public class BodyLimits extends RequestBodyAdviceAdapter implements HandlerInterceptor, WebMvcConfigurer {
    /** The largest JSON body of a control call (everything but vm_write data and batches). */
    public static final long CONTROL_LIMIT = 64 * 1024;
    /** The largest batch body, base64 data included. */
    public static final long BATCH_LIMIT = 16L << 20;
    /** The most bytes vm_write's JSON form carries (before base64). */
    public static final long JSON_DATA_LIMIT = 16L << 20;

    private final VmService service;

    public BodyLimits(VmService service) {
        this.service = service;
    }

    @Override
    public void addInterceptors(InterceptorRegistry registry) {
        registry.addInterceptor(this);
    }

    @Override
    public boolean supports(MethodParameter parameter, Type targetType,
            Class<? extends HttpMessageConverter<?>> converterType) {
        return true;
    }

    /** The most bytes of data vm_write's JSON form takes. */
    long jsonDataLimit() {
        return Math.min(JSON_DATA_LIMIT, service.maxTransfer());
    }

    /** The limit of a JSON body bound to {@code type}, and what to say when it is exceeded. */
    private record Limit(long bytes, String limitFor) {
    }

    private Limit limit(Class<?> type) {
        if (type == Requests.WriteData.class || type == Requests.WriteRequest.class) {
            long data = jsonDataLimit();
            return new Limit(base64Length(data) + CONTROL_LIMIT, "for base64 data of at most " + data + " bytes; send "
                    + "larger data as application/octet-stream (the raw bytes, streamed, up to "
                    + "machvm.api.max-transfer)");
        }
        if (type == Requests.BatchRequest.class) {
            return new Limit(BATCH_LIMIT, "for a batch");
        }
        return new Limit(CONTROL_LIMIT, "for this call");
    }

    /**
     * Refuses a {@code Content-Length} over the limit before anything reads the body (Spring's message reading peeks
     * at the first byte, which would wait for a body the client may never send).
     */
    @Override
    public boolean preHandle(HttpServletRequest request, HttpServletResponse response, Object handler) {
        long length = request.getContentLengthLong();
        if (length <= CONTROL_LIMIT || !(handler instanceof HandlerMethod method)) {
            return true;
        }
        for (MethodParameter parameter : method.getMethodParameters()) {
            if (parameter.hasParameterAnnotation(RequestBody.class)) {
                Limit limit = limit(parameter.getParameterType());
                if (length > limit.bytes()) {
                    throw ApiProblem.tooLarge("request body of " + length + " bytes exceeds the limit of "
                            + limit.bytes() + " bytes " + limit.limitFor());
                }
            }
        }
        return true;
    }

    /** Refuses base64 data over {@link #jsonDataLimit()} (the body limit leaves room for the rest of the JSON). */
    byte[] checkJsonData(byte[] data) {
        long limit = jsonDataLimit();
        if (data.length > limit) {
            throw ApiProblem.tooLarge("base64 data of " + data.length + " bytes exceeds the limit of " + limit
                    + " bytes of the JSON form; send larger data as application/octet-stream (the raw bytes, "
                    + "streamed, up to machvm.api.max-transfer)");
        }
        return data;
    }

    @Override
    public HttpInputMessage beforeBodyRead(HttpInputMessage message, MethodParameter parameter, Type targetType,
            Class<? extends HttpMessageConverter<?>> converterType) throws IOException {
        if (message.getHeaders().getContentLength() >= 0) {
            return message; // checked by preHandle
        }
        Limit limit = limit(parameter.getParameterType());
        InputStream limited = new LimitedInputStream(message.getBody(), limit.bytes(), limit.limitFor());
        HttpHeaders headers = message.getHeaders();
        return new HttpInputMessage() {
            @Override
            public InputStream getBody() {
                return limited;
            }

            @Override
            public HttpHeaders getHeaders() {
                return headers;
            }
        };
    }

    @Override
    public Object handleEmptyBody(Object body, HttpInputMessage message, MethodParameter parameter, Type targetType,
            Class<? extends HttpMessageConverter<?>> converterType) {
        RequestBody annotation = parameter.getParameterAnnotation(RequestBody.class);
        if (body == null && annotation != null && annotation.required()) {
            throw ApiProblem.invalidArgument("a JSON object request body is required");
        }
        return body;
    }

    /** Characters of the padded base64 of {@code bytes} bytes (saturating). */
    static long base64Length(long bytes) {
        long groups = bytes / 3 + (bytes % 3 == 0 ? 0 : 1);
        return groups > Long.MAX_VALUE / 4 ? Long.MAX_VALUE / 2 : groups * 4;
    }

    /** Counts the bytes of a body without Content-Length and refuses more than the limit with {@code 413}. */
    static final class LimitedInputStream extends InputStream {
        private final InputStream in;
        private final long limit;
        private final String limitFor;
        private long count;

        LimitedInputStream(InputStream in, long limit, String limitFor) {
            this.in = in;
            this.limit = limit;
            this.limitFor = limitFor;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) {
                count(1);
            }
            return b;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            int n = in.read(buffer, offset, length);
            if (n > 0) {
                count(n);
            }
            return n;
        }

        private void count(int n) {
            count += n;
            if (count > limit) {
                throw ApiProblem.tooLarge("request body exceeds the limit of " + limit + " bytes " + limitFor);
            }
        }
    }
}
