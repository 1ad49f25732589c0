package io.machvm.cluster;

import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.SequenceInputStream;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.Enumeration;
import java.util.Locale;

/**
 * A request whose body is read again from memory (a small JSON body that routing looks into), or replaced by another
 * stream with another method and type (a fork from another shard becomes a restore of the image it streams).
 */
final class BufferedRequest extends HttpServletRequestWrapper {
    /** JSON bodies up to this size are looked into; a larger one is passed on unread. */
    static final int LIMIT = 64 * 1024;

    private final InputStream body;
    private final long length;
    private final String method;
    private final String contentType;
    private final byte[] prefix;

    private BufferedRequest(HttpServletRequest request, InputStream body, long length, String method,
            String contentType, byte[] prefix) {
        super(request);
        this.body = body;
        this.length = length;
        this.method = method;
        this.contentType = contentType;
        this.prefix = prefix;
    }

    /** The request with its JSON body held in memory (a larger one unread behind what was read), or null when it has no JSON body. */
    static BufferedRequest of(HttpServletRequest request) throws IOException {
        String type = request.getContentType();
        if (type == null || !type.toLowerCase(Locale.ROOT).contains("json")) {
            return null;
        }
        long declared = request.getContentLengthLong();
        if (declared > LIMIT) {
            return null;
        }
        InputStream in = request.getInputStream();
        byte[] head = in.readNBytes(LIMIT + 1);
        if (head.length > LIMIT) {
            return new BufferedRequest(request, new SequenceInputStream(new ByteArrayInputStream(head), in),
                    declared, request.getMethod(), type, null);
        }
        return new BufferedRequest(request, new ByteArrayInputStream(head), head.length, request.getMethod(), type,
                head);
    }

    /** The request as another method and body. */
    static BufferedRequest replaced(HttpServletRequest request, String method, String contentType, InputStream body,
            long length) {
        return new BufferedRequest(request, body, length, method, contentType, null);
    }

    /** The JSON body, when it was small enough to hold. */
    byte[] bytes() {
        return prefix;
    }

    @Override
    public String getMethod() {
        return method;
    }

    @Override
    public String getContentType() {
        return contentType;
    }

    @Override
    public String getHeader(String name) {
        if (name.equalsIgnoreCase("Content-Type")) {
            return contentType;
        }
        if (name.equalsIgnoreCase("Content-Length")) {
            return length < 0 ? null : Long.toString(length);
        }
        if (name.equalsIgnoreCase("Transfer-Encoding") && length >= 0) {
            return null;
        }
        return super.getHeader(name);
    }

    @Override
    public Enumeration<String> getHeaders(String name) {
        String value = getHeader(name);
        if (name.equalsIgnoreCase("Content-Type") || name.equalsIgnoreCase("Content-Length")
                || name.equalsIgnoreCase("Transfer-Encoding")) {
            return value == null ? Collections.emptyEnumeration() : Collections.enumeration(java.util.List.of(value));
        }
        return super.getHeaders(name);
    }

    @Override
    public long getContentLengthLong() {
        return length;
    }

    @Override
    public int getContentLength() {
        return length > Integer.MAX_VALUE ? -1 : (int) length;
    }

    @Override
    public ServletInputStream getInputStream() {
        return new ServletInputStream() {
            private boolean finished;

            @Override
            public int read() throws IOException {
                int b = body.read();
                finished = b < 0;
                return b;
            }

            @Override
            public int read(byte[] buffer, int offset, int count) throws IOException {
                int n = body.read(buffer, offset, count);
                finished = n < 0;
                return n;
            }

            @Override
            public boolean isFinished() {
                return finished;
            }

            @Override
            public boolean isReady() {
                return true;
            }

            @Override
            public void setReadListener(ReadListener listener) {
                throw new UnsupportedOperationException("blocking reads only");
            }
        };
    }

    @Override
    public BufferedReader getReader() {
        return new BufferedReader(new InputStreamReader(getInputStream(), StandardCharsets.UTF_8));
    }
}
