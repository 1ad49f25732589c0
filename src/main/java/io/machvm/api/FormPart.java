package io.machvm.api;

import jakarta.servlet.http.HttpServletRequest;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import org.apache.tomcat.util.http.fileupload.FileItemIterator;
import org.apache.tomcat.util.http.fileupload.FileItemStream;
import org.apache.tomcat.util.http.fileupload.FileUpload;
import org.apache.tomcat.util.http.fileupload.FileUploadException;
import org.apache.tomcat.util.http.fileupload.MultipartStream;
import org.apache.tomcat.util.http.fileupload.servlet.ServletRequestContext;

/**
 * The one file part of a {@code multipart/form-data} upload (the form operations of vm_write and the restores), read
 * straight off the request as it arrives: never staged in memory or on disk, so a part is as large as the call it
 * feeds allows (machvm.api.max-transfer for a write, the tenant's budgets for an image) and no temporary file is left
 * behind by any request.
 *
 * <p>The parts are read by Tomcat's own multipart parser (the one behind {@code Request.getParts()}), through its
 * streaming iterator. The Servlet {@code Part} API, and with it Spring's {@code StandardServletMultipartResolver}, reads
 * the whole body into staged parts before a handler runs, which for an image of gigabytes means as much disk and a
 * second pass over it; Spring MVC has no streaming multipart reader of its own (its {@code PartEvent} reader is
 * WebFlux's).
 *
 * <p>The body must hold exactly one part, the file part named as the call says; anything else is a {@code 400} that
 * changes nothing. The part's stream reports its end only once the rest of the body has been read and found to be
 * the closing boundary: a second part or a body that breaks off fails the read instead, so the call it feeds (which
 * takes effect only at the end of its stream) changes nothing.
 */
final class FormPart {
    /** The most bytes of one part's headers (Content-Disposition and Content-Type take far fewer). */
    private static final int HEADER_LIMIT = 1024;

    private FormPart() {
    }

    /** The content of the file part {@code name}, the only part of the request's body. */
    static InputStream open(HttpServletRequest request, String name) {
        FileItemIterator parts;
        FileItemStream part;
        try {
            FileUpload upload = new FileUpload();
            upload.setPartHeaderSizeMax(HEADER_LIMIT);
            parts = upload.getItemIterator(new ServletRequestContext(request));
            if (!parts.hasNext()) {
                throw ApiProblem.invalidArgument("the multipart/form-data body has no part: send the bytes as the "
                        + "file part " + Texts.quote(name));
            }
            part = parts.next();
        } catch (MultipartStream.MalformedStreamException | FileUploadException e) {
            throw malformed(e, name);
        } catch (IOException e) {
            throw new BodyStreamException(e);
        }
        if (!name.equals(part.getFieldName())) {
            throw ApiProblem.invalidArgument("the multipart/form-data body's part is named "
                    + Texts.quote(String.valueOf(part.getFieldName())) + ": send the bytes as the one file part "
                    + Texts.quote(name));
        }
        if (part.isFormField()) {
            throw ApiProblem.invalidArgument("the part " + Texts.quote(name) + " is a form field, not a file: send "
                    + "it as a file part (Content-Disposition with a filename)");
        }
        try {
            return new Content(part.openStream(), parts, name);
        } catch (IOException e) {
            throw new BodyStreamException(e);
        }
    }

    /** The body does not parse as multipart: a 400 that says so. */
    private static ApiProblem malformed(IOException e, String name) {
        return ApiProblem.invalidArgument("the multipart/form-data body is malformed or ends before its closing "
                + "boundary (" + e.getMessage() + "); send one file part " + Texts.quote(name) + "; nothing was changed");
    }

    /**
     * The body is not the one file part, found while the call read it: a failed read, so that the call takes no effect
     * and counts as broken off, answered ({@link ProblemHandler}) with {@link #problem()}.
     */
    static final class Refused extends IOException {
        private final transient ApiProblem problem;

        Refused(ApiProblem problem) {
            super(problem.detail(), null);
            this.problem = problem;
        }

        ApiProblem problem() {
            return problem;
        }
    }

    /** The part's bytes; its end is reported only after the body's closing boundary. */
    private static final class Content extends FilterInputStream {
        private final FileItemIterator parts;
        private final String name;
        private boolean ended;

        Content(InputStream part, FileItemIterator parts, String name) {
            super(part);
            this.parts = parts;
            this.name = name;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            if (ended) {
                return -1;
            }
            int n;
            try {
                n = in.read(buffer, offset, length);
                if (n < 0 && parts.hasNext()) {
                    throw new Refused(ApiProblem.invalidArgument("the multipart/form-data body has a part after "
                            + Texts.quote(name) + ": send only the one file part; nothing was changed"));
                }
            } catch (MultipartStream.MalformedStreamException | FileUploadException e) {
                throw new Refused(malformed(e, name));
            }
            ended = n < 0;
            return n;
        }

        /** Skips by reading, so that the end of the part is checked as it is for a read. */
        @Override
        public long skip(long n) throws IOException {
            long left = Math.max(n, 0);
            byte[] scratch = new byte[(int) Math.min(left, 8192)];
            int r;
            while (left > 0 && (r = read(scratch, 0, (int) Math.min(left, scratch.length))) >= 0) {
                left -= r;
            }
            return Math.max(n, 0) - left;
        }
    }
}
