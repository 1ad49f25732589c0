package io.machvm.api;

import io.machvm.service.VmService;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** {@code host_page_size} and the page-store figures. */
@RestController
@Tag(name = "host")
public class HostController {
    private final VmService service;

    public HostController(VmService service) {
        this.service = service;
    }

    @GetMapping(path = "/host/page-size", produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(operationId = "host_page_size", summary = "The host page size.",
            description = "The page size of the host flavor (machvm.host.flavor): 16384 for arm64, 4096 for x86_64.")
    @ApiResponse(responseCode = "200", description = "The page size.")
    @Problems({})
    public Responses.PageSize pageSize() {
        return new Responses.PageSize(service.hostPageSize());
    }

    @GetMapping(path = "/host/statistics", produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(operationId = "host_statistics", summary = "Page-store figures.",
            description = "Capacity, resident, shared (copy-on-write) and free pages of the page store, and the "
                    + "number of live tasks.")
    @ApiResponse(responseCode = "200", description = "The figures.")
    @Problems({})
    public Responses.HostStatisticsView statistics() {
        return Responses.HostStatisticsView.of(service.hostStatistics());
    }
}
