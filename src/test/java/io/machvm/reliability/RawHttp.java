package io.machvm.reliability;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * One raw HTTP/1.1 connection to the server, for what a well-behaved client cannot send: Content-Length that lies,
 * broken chunking, odd request lines and headers, bodies cut short by a half-close or a reset.
 */
final class RawHttp implements Closeable {
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    /** The status of an answer without a status line (HTTP/0.9 style). */
    static final int NO_STATUS_LINE = 0;

    RawHttp(int port) throws IOException {
        socket = new Socket("localhost", port);
        socket.setSoTimeout(15_000);
        socket.setTcpNoDelay(true);
        in = new BufferedInputStream(socket.getInputStream());
        out = socket.getOutputStream();
    }

    /** A request head: request line, {@code Host}, the given header lines (each ending in CRLF), then CRLF. */
    static byte[] head(String method, String target, String headerLines) {
        return (method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n" + headerLines + "\r\n")
                .getBytes(StandardCharsets.ISO_8859_1);
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            all.writeBytes(p);
        }
        return all.toByteArray();
    }

    /** {@code body} in chunks of {@code chunkSize}. */
    static byte[] chunked(byte[] body, int chunkSize) {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (int i = 0; i < body.length; i += chunkSize) {
            int n = Math.min(chunkSize, body.length - i);
            all.writeBytes((Integer.toHexString(n) + "\r\n").getBytes(StandardCharsets.US_ASCII));
            all.write(body, i, n);
            all.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        all.writeBytes("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        return all.toByteArray();
    }

    RawHttp send(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
        return this;
    }

    /** Half-closes: the server sees the end of the stream but can still answer. */
    RawHttp shutdownOutput() throws IOException {
        socket.shutdownOutput();
        return this;
    }

    /** Aborts the connection with a TCP reset (SO_LINGER 0). */
    void reset() throws IOException {
        socket.setSoLinger(true, 0);
        socket.close();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }

    /** One response. */
    record Response(int status, Map<String, String> headers, byte[] body) {
        String contentType() {
            return headers.getOrDefault("content-type", "");
        }

        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    /**
     * Reads the next response; null when the server closed (or reset) the connection before a status line.
     *
     * @param headRequest whether the request was HEAD (no body follows)
     */
    Response read(boolean headRequest) throws IOException {
        String statusLine;
        try {
            statusLine = line();
        } catch (SocketException | EOFException e) {
            return null;
        }
        if (statusLine == null) {
            return null;
        }
        if (!statusLine.startsWith("HTTP/1.")) {
            // An answer in the HTTP/0.9 way (to a request line that is not HTTP/1.x): the bare body.
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            all.writeBytes((statusLine + "\n").getBytes(StandardCharsets.ISO_8859_1));
            in.transferTo(all);
            return new Response(NO_STATUS_LINE, Map.of(), all.toByteArray());
        }
        int status = Integer.parseInt(statusLine.substring(9, 12));
        Map<String, String> headers = new LinkedHashMap<>();
        for (String h; (h = line()) != null && !h.isEmpty(); ) {
            int colon = h.indexOf(':');
            headers.put(h.substring(0, colon).trim().toLowerCase(Locale.ROOT), h.substring(colon + 1).trim());
        }
        if (status == 100) {
            return read(headRequest);
        }
        byte[] body;
        if (headRequest || status == 204 || status == 304) {
            body = new byte[0];
        } else if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            while (true) {
                String size = line();
                if (size == null) {
                    throw new EOFException("chunked body ended early");
                }
                int n = Integer.parseInt(size.split(";")[0].trim(), 16);
                if (n == 0) {
                    while (true) {
                        String trailer = line();
                        if (trailer == null || trailer.isEmpty()) {
                            break;
                        }
                    }
                    break;
                }
                all.writeBytes(in.readNBytes(n));
                line();
            }
            body = all.toByteArray();
        } else if (headers.containsKey("content-length")) {
            int n = Integer.parseInt(headers.get("content-length"));
            body = in.readNBytes(n);
            if (body.length < n) {
                throw new EOFException("body ended after " + body.length + " of " + n + " bytes");
            }
        } else {
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            try {
                in.transferTo(all);
            } catch (SocketException e) {
                // reset after the body
            }
            body = all.toByteArray();
        }
        return new Response(status, headers, body);
    }

    /** A CRLF-terminated line without the CRLF; null at the end of the stream. */
    private String line() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream(64);
        while (true) {
            int b;
            try {
                b = in.read();
            } catch (SocketTimeoutException e) {
                throw new IOException("no answer within the socket timeout", e);
            }
            if (b < 0) {
                return line.size() == 0 ? null : line.toString(StandardCharsets.ISO_8859_1);
            }
            if (b == '\n') {
                byte[] bytes = line.toByteArray();
                int n = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
                return new String(bytes, 0, n, StandardCharsets.ISO_8859_1);
            }
            line.write(b);
        }
    }
}
