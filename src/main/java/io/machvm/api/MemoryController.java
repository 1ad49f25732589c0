package io.machvm.api;

import static io.machvm.vm.KernReturn.KERN_INVALID_ADDRESS;
import static io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT;
import static io.machvm.vm.KernReturn.KERN_PROTECTION_FAILURE;
import static io.machvm.vm.KernReturn.MACH_SEND_INVALID_DEST;

import io.machvm.service.VmService;
import io.machvm.vm.PageSnapshot;
import io.swagger.v3.oas.annotations.Hidden;
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
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/**
 * {@code vm_write} and {@code vm_read}: raw bytes ({@code application/octet-stream}) streamed between the connection
 * and the page store, never held whole in heap memory; base64 JSON, capped at 16 MiB of data, as the fallback for
 * JSON-only clients (not in the OpenAPI document, so that generated clients take bytes).
 */
@RestController
@Tag(name = "memory")
public class MemoryController {
    private static final Logger log = LoggerFactory.getLogger(MemoryController.class);
    private static final String OCTETS = MediaType.APPLICATION_OCTET_STREAM_VALUE;

    private final VmService service;
    private final BodyLimits limits;

    public MemoryController(VmService service, BodyLimits limits) {
        this.service = service;
        this.limits = limits;
    }

    // No consumes condition: this is the mapping for every body but JSON (writeJson), and the Content-Type is checked
    // here with a string comparison in the common case instead of a media-type match per request.
    @PutMapping(path = "/tasks/{task}/memory/{address}")
    @Operation(operationId = "vm_write", summary = "Writes bytes into a task.",
            description = "Writes the body, the raw bytes (application/octet-stream, streamed, never held whole), at "
                    + "address (any byte address). Every page the bytes touch must be mapped and writable, or nothing "
                    + "changes; a body that breaks off changes nothing either. A body over machvm.api.max-transfer is "
                    + "a 413, checked (from Content-Length, before the body is read) after the Mach checks. JSON-only "
                    + "clients may send application/json {\"data\": base64} instead, with at most 16 MiB of data.")
    @RequestBody(required = true, content = @Content(mediaType = OCTETS, schema = @Schema(type = "string",
            format = "binary", description = "The bytes to write.")))
    @WritesMemory
    public void write(
            @PathVariable String task,
            @PathVariable U64 address,
            HttpServletRequest request) {
        String contentType = request.getContentType();
        if (contentType != null && !contentType.equals(OCTETS) && !isOctets(contentType)) {
            throw ApiProblem.unsupportedMediaType("Content-Type " + Texts.quote(contentType) + " is not supported: "
                    + "send application/octet-stream (or application/json {\"data\": base64})");
        }
        try {
            service.write(task, address.value(), request.getInputStream(), request.getContentLengthLong());
        } catch (IOException e) {
            throw new BodyStreamException(e);
        }
    }

    private static boolean isOctets(String contentType) {
        try {
            return MediaType.parseMediaType(contentType).equalsTypeAndSubtype(MediaType.APPLICATION_OCTET_STREAM);
        } catch (org.springframework.http.InvalidMediaTypeException e) {
            return false;
        }
    }

    /** vm_write's JSON form, {@code {"data": base64}}: bounded by {@link BodyLimits}, decoded in memory. */
    @Hidden
    @PutMapping(path = "/tasks/{task}/memory/{address}", consumes = {MediaType.APPLICATION_JSON_VALUE,
        "application/*+json"})
    @ResponseStatus(HttpStatus.NO_CONTENT)
    public void writeJson(
            @PathVariable String task,
            @PathVariable U64 address,
            @org.springframework.web.bind.annotation.RequestBody Requests.WriteData body) {
        service.write(task, address.value(), limits.checkJsonData(body.required()));
    }

    @PostMapping(path = "/tasks/{task}/write")
    @Operation(operationId = "vm_write_base64", summary = "Writes bytes given as base64 into a task.",
            description = "vm_write for clients that cannot send a raw body: the same call, with the bytes as base64 "
                    + "in a JSON body (at most 16 MiB of data; larger writes: vm_write).")
    @NoContent("Written.")
    @OverwriteProblems
    @TaskPath
    public void writeBase64(
            @PathVariable String task,
            @org.springframework.web.bind.annotation.RequestBody Requests.WriteRequest body) {
        if (body.data() != null) {
            limits.checkJsonData(body.data());
        }
        body.run(service, task);
    }

    // No produces condition: Accept is read once, by Accept.wantsJson, which answers the common headers without
    // parsing them (content negotiation per request cost the read path a measurable share of its CPU).
    @GetMapping(path = "/tasks/{task}/memory/{address}")
    @Operation(operationId = "vm_read", summary = "Reads bytes from a task.",
            description = "Reads size bytes at address (any byte address). Every page the bytes touch must be mapped "
                    + "and readable; size above 0xffffffff is KERN_INVALID_ARGUMENT; size 0 succeeds at any address. "
                    + "The bytes are a snapshot taken when the read starts. Answers application/octet-stream, "
                    + "streamed; JSON-only clients may ask with Accept: application/json for {address, size, data "
                    + "(base64)}, with at most 16 MiB of data. Another Accept is a 406 problem.")
    @ApiResponse(responseCode = "200", description = "The bytes.", content = @Content(mediaType = OCTETS,
            schema = @Schema(type = "string", format = "binary", description = "The bytes read.")))
    @Problems(value = {KERN_INVALID_ADDRESS, KERN_PROTECTION_FAILURE, KERN_INVALID_ARGUMENT,
        MACH_SEND_INVALID_DEST}, http = {406, 413})
    @TaskPath
    @AddressPath
    @Parameter(name = "size", in = ParameterIn.QUERY,
            description = "Bytes to read: a hex string (0x…) or decimal digits.", example = "0x4000", required = true,
            schema = @Schema(type = "string", pattern = U64.REQUEST_PATTERN))
    public void read(
            @PathVariable String task,
            @PathVariable("address") U64 addressValue,
            @RequestParam(name = "size", required = false) U64 sizeValue,
            HttpServletRequest request, HttpServletResponse response) {
        long address = addressValue.value();
        if (sizeValue == null) {
            throw ApiProblem.invalidArgument("size is required: GET …/memory/{address}?size=N");
        }
        long size = sizeValue.value();
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
        if (json && Long.compareUnsigned(size, limits.jsonDataLimit()) > 0) {
            snapshot.close();
            throw ApiProblem.tooLarge("a JSON answer carries at most " + limits.jsonDataLimit() + " bytes of data, not "
                    + Long.toUnsignedString(size) + ": ask for application/octet-stream (the raw bytes, streamed)");
        }
        try {
            response.setStatus(HttpServletResponse.SC_OK);
            if (json) {
                byte[] prefix = jsonPrefix(address, size).toString().getBytes(StandardCharsets.US_ASCII);
                response.setContentType(MediaType.APPLICATION_JSON_VALUE);
                response.setContentLengthLong(prefix.length + BodyLimits.base64Length(size) + 2);
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
