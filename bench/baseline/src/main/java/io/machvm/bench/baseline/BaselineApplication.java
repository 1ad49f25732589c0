package io.machvm.bench.baseline;

import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
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
 * The framework's ceiling: machvm's vm_write, vm_read and vm_copy request shapes on endpoints that do no work.
 * bench/run.sh drives it with the same wrk scripts as machvm and reports machvm / baseline.
 */
@SpringBootApplication
public class BaselineApplication {
    public static void main(String[] args) {
        SpringApplication.run(BaselineApplication.class, args);
    }

    @RestController
    static class EmptyMemoryController {
        /** The largest read served (bench/run.sh reads up to 256 MiB, the large-transfer anchor). */
        private static final long MAX_READ = 1L << 30;
        private static final byte[] ZEROS = new byte[1024 * 1024];

        /** vm_write's shape: drains the body, answers 204. */
        @PutMapping(path = "/tasks/{task}/memory/{address}")
        @ResponseStatus(HttpStatus.NO_CONTENT)
        void write(@PathVariable String task, @PathVariable String address, InputStream body) throws IOException {
            byte[] sink = new byte[8192];
            while (body.read(sink) >= 0) {
                // drain
            }
        }

        /** vm_read's shape: answers {@code size} zero bytes from a preallocated 1 MiB array. */
        @GetMapping(path = "/tasks/{task}/memory/{address}", produces = MediaType.APPLICATION_OCTET_STREAM_VALUE)
        void read(@PathVariable String task, @PathVariable String address, @RequestParam String size,
                HttpServletResponse response) throws IOException {
            long n = Math.min(Math.max(Long.parseLong(size), 0), MAX_READ);
            response.setContentType(MediaType.APPLICATION_OCTET_STREAM_VALUE);
            response.setContentLengthLong(n);
            OutputStream out = response.getOutputStream();
            for (long sent = 0; sent < n; ) {
                int k = (int) Math.min(ZEROS.length, n - sent);
                out.write(ZEROS, 0, k);
                sent += k;
            }
        }

        /** vm_copy's shape: parses nothing, answers 204. */
        @PostMapping(path = "/tasks/{task}/copy")
        @ResponseStatus(HttpStatus.NO_CONTENT)
        void copy(@PathVariable String task) {
        }
    }
}
