package io.machvm.api;

import static io.machvm.vm.KernReturn.KERN_INVALID_ADDRESS;
import static io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT;
import static io.machvm.vm.KernReturn.KERN_PROTECTION_FAILURE;
import static io.machvm.vm.KernReturn.KERN_RESOURCE_SHORTAGE;
import static io.machvm.vm.KernReturn.MACH_SEND_INVALID_DEST;

import io.machvm.service.VmService;
import io.machvm.vm.PageSnapshot;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.enums.ParameterIn;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.parameters.RequestBody;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;
import tools.jackson.core.JsonToken;

/**
 * {@code vm_write} and {@code vm_read}: raw bytes ({@code application/octet-stream}) streamed between the connection
 * and the page store, never held whole in heap memory; base64 JSON as the fallback for JSON-only clients.
 */
@RestController
@Tag(name = "memory")
public class MemoryController {
    private static final Logger log = LoggerFactory.getLogger(MemoryController.class);
    private static final String OCTETS = MediaType.APPLICATION_OCTET_STREAM_VALUE;
    /** JSON write bodies up to this size are decoded in memory; larger ones stream through {@link PipedWrite}. */
    static final long BUFFERED_JSON_LIMIT = 1024 * 1024;

    private final VmService service;

    public MemoryController(VmService service) {
        this.service = service;
    }

    @PutMapping("/tasks/{task}/memory/{address}")
    @Operation(operationId = "vm_write", summary = "Writes bytes into a task.",
            description = "Writes the body at address (any byte address). Every page the bytes touch must be mapped "
                    + "and writable, or nothing changes; a body that breaks off changes nothing either. "
                    + "application/octet-stream (the raw bytes, streamed) is the primary form; application/json "
                    + "{\"data\": base64} is the fallback. A body over machvm.api.max-transfer is a 413, checked "
                    + "(from Content-Length, before the body is read) after the Mach checks.")
    @RequestBody(required = true, content = {
        @Content(mediaType = OCTETS, schema = @Schema(type = "string", format = "binary",
                description = "The bytes to write.")),
        @Content(mediaType = MediaType.APPLICATION_JSON_VALUE,
                schema = @Schema(implementation = Requests.WriteData.class))})
    @ApiResponse(responseCode = "204", description = "Written.")
    @Problems(value = {KERN_INVALID_ADDRESS, KERN_PROTECTION_FAILURE, KERN_INVALID_ARGUMENT, KERN_RESOURCE_SHORTAGE,
        MACH_SEND_INVALID_DEST}, http = {413, 415})
    @Parameter(name = "task", in = ParameterIn.PATH, description = TaskController.TASK_ID_DOC,
            example = "t-3f9c2a7d1e0b")
    @Parameter(name = "address", in = ParameterIn.PATH, description = VmController.ADDRESS_DOC, example = "0x100000000",
            schema = @Schema(type = "string", pattern = U64.REQUEST_PATTERN))
    @ResponseStatus(HttpStatus.NO_CONTENT)
    public void write(
            @PathVariable String task,
            @PathVariable("address") String addressText,
            HttpServletRequest request) {
        long address = U64.parse("address", addressText);
        String contentType = request.getContentType();
        if (contentType == null || JsonRequest.baseType(contentType).equals(OCTETS)) {
            writeOctets(task, address, request);
        } else if (JsonRequest.isJson(contentType)) {
            writeJson(task, address, request);
        } else {
            throw ApiProblem.unsupportedMediaType("Content-Type " + Texts.quote(contentType)
                    + " is not supported: send application/octet-stream (or application/json {\"data\": base64})");
        }
    }

    private void writeOctets(String task, long address, HttpServletRequest request) {
        try {
            service.write(task, address, request.getInputStream(), request.getContentLengthLong());
        } catch (IOException e) {
            throw new BodyStreamException(e);
        }
    }

    private void writeJson(String task, long address, HttpServletRequest request) {
        long length = request.getContentLengthLong();
        InputStream in = JsonRequest.body(request, base64Length(service.maxTransfer()) + JsonRequest.CONTROL_LIMIT,
                "for base64 data of at most " + service.maxTransfer() + " bytes (machvm.api.max-transfer)");
        boolean buffered = length >= 0 && length <= BUFFERED_JSON_LIMIT;
        byte[] data = null;
        PipedWrite piped = null;
        try (JsonRequest json = JsonRequest.start(Json.FACTORY.createParser(in), true)) {
            try {
                for (String field; (field = json.nextField()) != null; ) {
                    if (!field.equals("data")) {
                        json.skip();
                    } else if (json.token() == JsonToken.VALUE_NULL) {
                        throw ApiProblem.invalidArgument("data is required");
                    } else if (buffered) {
                        data = json.binary(field);
                    } else {
                        if (json.token() != JsonToken.VALUE_STRING) {
                            json.binary(field); // reports the wrong type
                        }
                        piped = PipedWrite.start(service, task, address);
                        json.binaryTo(field, piped.sink());
                    }
                }
                if (data == null && piped == null) {
                    throw ApiProblem.invalidArgument("data is required");
                }
            } catch (RuntimeException e) {
                throw piped == null ? e : piped.abort(e);
            }
        }
        if (piped != null) {
            piped.finish();
        } else {
            try {
                service.write(task, address, new ByteArrayInputStream(data), data.length);
            } catch (IOException impossible) {
                throw new IllegalStateException(impossible);
            }
        }
    }

    @GetMapping("/tasks/{task}/memory/{address}")
    @Operation(operationId = "vm_read", summary = "Reads bytes from a task.",
            description = "Reads size bytes at address (any byte address). Every page the bytes touch must be mapped "
                    + "and readable; size above 0xffffffff is KERN_INVALID_ARGUMENT; size 0 succeeds at any address. "
                    + "The bytes are a snapshot taken when the read starts. Answers application/octet-stream (the "
                    + "default, streamed) or, with Accept: application/json, {address, size, data (base64)}; another "
                    + "Accept is a 406 problem.")
    @ApiResponse(responseCode = "200", description = "The bytes.", content = {
        @Content(mediaType = OCTETS, schema = @Schema(type = "string", format = "binary",
                description = "The bytes read.")),
        @Content(mediaType = MediaType.APPLICATION_JSON_VALUE,
                schema = @Schema(implementation = Responses.ReadData.class))})
    @Problems(value = {KERN_INVALID_ADDRESS, KERN_PROTECTION_FAILURE, KERN_INVALID_ARGUMENT,
        MACH_SEND_INVALID_DEST}, http = {406, 413})
    @Parameter(name = "task", in = ParameterIn.PATH, description = TaskController.TASK_ID_DOC,
            example = "t-3f9c2a7d1e0b")
    @Parameter(name = "address", in = ParameterIn.PATH, description = VmController.ADDRESS_DOC, example = "0x100000000",
            schema = @Schema(type = "string", pattern = U64.REQUEST_PATTERN))
    @Parameter(name = "size", in = ParameterIn.QUERY,
            description = "Bytes to read: a hex string (0x…) or decimal digits.", example = "0x4000", required = true,
            schema = @Schema(type = "string", pattern = U64.REQUEST_PATTERN))
    public void read(
            @PathVariable String task,
            @PathVariable("address") String addressText,
            @RequestParam(name = "size", required = false) String sizeText,
            HttpServletRequest request, HttpServletResponse response) {
        long address = U64.parse("address", addressText);
        if (sizeText == null) {
            throw ApiProblem.invalidArgument("size is required: GET …/memory/{address}?size=N");
        }
        long size = U64.parse("size", sizeText);
        boolean json = Accept.wantsJson(request.getHeader("Accept"));
        if (Long.compareUnsigned(size, VmService.SMALL_TRANSFER) <= 0) {
            byte[] data = service.read(task, address, size);
            if (json) {
                byte[] body = jsonPrefix(address, size)
                        .append(Base64.getEncoder().encodeToString(data)).append("\"}")
                        .toString().getBytes(StandardCharsets.US_ASCII);
                send(response, MediaType.APPLICATION_JSON_VALUE, body);
            } else {
                send(response, OCTETS, data);
            }
            return;
        }
        PageSnapshot snapshot = service.readSnapshot(task, address, size);
        try {
            response.setStatus(HttpServletResponse.SC_OK);
            if (json) {
                byte[] prefix = jsonPrefix(address, size).toString().getBytes(StandardCharsets.US_ASCII);
                response.setContentType(MediaType.APPLICATION_JSON_VALUE);
                response.setContentLengthLong(prefix.length + base64Length(size) + 2);
                OutputStream out = response.getOutputStream();
                out.write(prefix);
                try (OutputStream base64 = Base64.getEncoder().wrap(new Unclosable(out))) {
                    snapshot.writeTo(base64);
                }
                out.write('"');
                out.write('}');
            } else {
                response.setContentType(OCTETS);
                response.setContentLengthLong(size);
                snapshot.writeTo(response.getOutputStream());
            }
            response.flushBuffer();
        } catch (IOException e) {
            // The client went away mid-body: nothing more can be said to it.
            log.debug("vm_read of {} bytes for {} broke off: {}", size, request.getRequestURI(), e.toString());
        } finally {
            snapshot.close();
        }
    }

    private static StringBuilder jsonPrefix(long address, long size) {
        return new StringBuilder(64).append("{\"address\":\"").append(U64.format(address))
                .append("\",\"size\":\"").append(U64.format(size)).append("\",\"data\":\"");
    }

    private static void send(HttpServletResponse response, String contentType, byte[] body) {
        response.setStatus(HttpServletResponse.SC_OK);
        response.setContentType(contentType);
        response.setContentLength(body.length);
        try {
            response.getOutputStream().write(body);
        } catch (IOException e) {
            log.debug("vm_read response broke off: {}", e.toString());
        }
    }

    /** Characters of the padded base64 of {@code bytes} bytes (saturating). */
    static long base64Length(long bytes) {
        long groups = bytes / 3 + (bytes % 3 == 0 ? 0 : 1);
        return groups > Long.MAX_VALUE / 4 ? Long.MAX_VALUE / 2 : groups * 4;
    }

    /** Lets the base64 encoder write its padding on close without closing the response stream. */
    private static final class Unclosable extends FilterOutputStream {
        Unclosable(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() {
            // the response stream stays open for the closing quote and brace
        }
    }
}
