package io.machvm.api;

import io.machvm.vm.KernReturn;
import io.swagger.v3.core.converter.ModelConverters;
import io.swagger.v3.oas.models.Components;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.Operation;
import io.swagger.v3.oas.models.info.Info;
import io.swagger.v3.oas.models.media.Content;
import io.swagger.v3.oas.models.media.MediaType;
import io.swagger.v3.oas.models.media.Schema;
import io.swagger.v3.oas.models.media.StringSchema;
import io.swagger.v3.oas.models.responses.ApiResponse;
import io.swagger.v3.oas.models.responses.ApiResponses;
import io.swagger.v3.oas.models.servers.Server;
import io.swagger.v3.oas.models.tags.Tag;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Set;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.springdoc.core.customizers.OpenApiCustomizer;
import org.springdoc.core.utils.SpringDocUtils;
import org.springdoc.core.customizers.OperationCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The OpenAPI document's fixed parts (info, server, tags) and the problem responses of every operation. The served
 * document must equal {@code openapi/openapi.yaml}, so nothing in it may depend on the port or the run.
 */
@Configuration(proxyBeanMethods = false)
public class OpenApiConfiguration {
    static final String PROBLEM_SCHEMA = "ProblemDetail";
    private static final String PROBLEM_REF = "#/components/schemas/" + PROBLEM_SCHEMA;

    static {
        // The request value types are strings in the document (u64 fields also take JSON integers, as it says).
        SpringDocUtils.getConfig()
                .replaceWithSchema(U64.class, new StringSchema())
                .replaceWithSchema(Requests.Protection.class, new StringSchema())
                .replaceWithSchema(Requests.Inheritance.class, new StringSchema());
    }

    @Bean
    OpenAPI machvmOpenApi() {
        return new OpenAPI()
                .info(new Info().title("machvm").version("0.0.1")
                        .description("Mach virtual memory as a service: tasks (address spaces) and the Mach VM calls "
                                + "on them (vm_allocate, vm_write, vm_copy, …), each operationId the Mach name. "
                                + "u64 quantities are lowercase 0x hex strings in responses; requests take a JSON "
                                + "integer, a hex string or a decimal string over the whole range 0 to 2^64-1. Every "
                                + "failure is an RFC 9457 problem (application/problem+json) with kern and "
                                + "kernReturn, the Mach code; GET /problems/{kern} documents each."))
                .servers(List.of(new Server().url("/").description("this server (relative to the document)")))
                .tags(List.of(
                        new Tag().name("host").description("The host: page size and page-store figures."),
                        new Tag().name("tasks").description("Tasks: create, list, inspect, terminate."),
                        new Tag().name("vm").description("The Mach VM calls on a task's address space."),
                        new Tag().name("memory").description("vm_write and vm_read: bytes in and out, streamed."),
                        new Tag().name("sandbox").description("Snapshot images, dirty pages and batches of calls "
                                + "(fork and restore are POST /tasks)."),
                        new Tag().name("problems").description("Documentation of the problem types.")));
    }

    /** Registers the ProblemDetail schema, which no handler returns directly. */
    @Bean
    OpenApiCustomizer problemSchemaCustomizer() {
        return openApi -> {
            Components components = openApi.getComponents();
            if (components == null) {
                components = new Components();
                openApi.setComponents(components);
            }
            if (components.getSchemas() == null || !components.getSchemas().containsKey(PROBLEM_SCHEMA)) {
                @SuppressWarnings("rawtypes")
                Map<String, Schema> schemas = ModelConverters.getInstance(true).read(Responses.Problem.class);
                schemas.forEach(components::addSchemas);
            }
            // OpenAPI 3.1 nullable: the problem of a batch call is null on success (a strict client must accept it)
            Schema<?> batchResult = components.getSchemas().get("BatchResult");
            if (batchResult != null && batchResult.getProperties() != null) {
                Schema<?> problem = batchResult.getProperties().get("problem");
                batchResult.getProperties().put("problem", new Schema<>()
                        .description(problem == null ? null : problem.getDescription())
                        .anyOf(List.of(new Schema<>().$ref(PROBLEM_REF), new Schema<>().types(Set.of("null")))));
            }
        };
    }

    /** Adds the {@link Problems} of each operation, one response per HTTP status, plus 500. */
    @Bean
    OperationCustomizer problemResponsesCustomizer() {
        return (operation, handlerMethod) -> {
            Problems problems = handlerMethod.getMethodAnnotation(Problems.class);
            if (problems != null) {
                addProblems(operation, problems);
            }
            return operation;
        };
    }

    private static void addProblems(Operation operation, Problems problems) {
        Map<Integer, List<String>> byStatus = new TreeMap<>();
        for (KernReturn kern : problems.value()) {
            byStatus.computeIfAbsent(ProblemTypes.status(kern), s -> new ArrayList<>()).add(kern.name());
        }
        for (int status : problems.http()) {
            byStatus.computeIfAbsent(status, s -> new ArrayList<>()).add(KernReturn.KERN_INVALID_ARGUMENT.name());
        }
        byStatus.computeIfAbsent(500, s -> new ArrayList<>()).add(KernReturn.KERN_FAILURE.name());
        ApiResponses responses = operation.getResponses();
        if (responses == null) {
            responses = new ApiResponses();
            operation.setResponses(responses);
        }
        for (Map.Entry<Integer, List<String>> e : byStatus.entrySet()) {
            String code = Integer.toString(e.getKey());
            if (responses.containsKey(code)) {
                continue;
            }
            responses.addApiResponse(code, new ApiResponse()
                    .description(describe(e.getKey(), e.getValue()))
                    .content(new Content().addMediaType(ProblemWriter.PROBLEM_JSON,
                            new MediaType().schema(new Schema<>().$ref(PROBLEM_REF))
                                    .example(example(e.getKey(), e.getValue().getFirst())))));
        }
    }

    /** An example problem of this status and kern, as the service answers it. */
    private static Map<String, Object> example(int status, String kernName) {
        KernReturn kern = KernReturn.valueOf(kernName);
        ProblemTypes.ProblemType type = ProblemTypes.of(kern);
        String detail = switch (status) {
            case 400 -> "size is required";
            case 403 -> "destination range at 0x100008000 of 0x4000 bytes: [0x100008000, 0x10000c000) is r--, not "
                    + "writable";
            case 404 -> kern == KernReturn.MACH_SEND_INVALID_DEST ? "no task t-3f9c2a7d1e0b"
                    : "[0x200000000, 0x200004000) is not mapped";
            case 406 -> "Accept \"text/html\" is not supported";
            case 409 -> kern == KernReturn.KERN_NAME_EXISTS ? "task build-42 exists with other settings"
                    : "[0x100000000, 0x100004000) is already mapped";
            case 413 -> "request body of 20000000 bytes exceeds the limit of 16777216 bytes";
            case 415 -> "Content-Type \"text/plain\" is not supported";
            case 500 -> "the service failed unexpectedly (incident 1b4e28ba-2fa1-11d2-883f-0016d3cca427); the call "
                    + "may not have happened";
            case 507 -> "the page store is full";
            default -> type.title();
        };
        Map<String, Object> example = new LinkedHashMap<>();
        example.put("type", type.type());
        example.put("title", type.title());
        example.put("status", status);
        example.put("detail", detail);
        example.put("instance", "/tasks/t-3f9c2a7d1e0b");
        example.put("kern", kern.name());
        example.put("kernReturn", kern.value());
        return example;
    }

    private static String describe(int status, List<String> kerns) {
        String why = switch (status) {
            case 400 -> "Invalid argument: malformed JSON, a missing or mistyped field, a bad number, or an argument "
                    + "Mach refuses";
            case 403 -> "Protection failure";
            case 404 -> "Unmapped address or no such task";
            case 406 -> "Accept names no representation this call can produce";
            case 409 -> "Conflict";
            case 413 -> "Body or transfer larger than the limit (machvm.api.max-transfer, or 64 KiB for the JSON of "
                    + "a control call)";
            case 415 -> "Unsupported Content-Type";
            case 500 -> "Unexpected failure";
            case 507 -> "Page store or task limit exhausted";
            default -> "Problem";
        };
        return why + " (" + String.join(", ", kerns) + ")";
    }
}
