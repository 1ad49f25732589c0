package io.machvm.api;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The served OpenAPI document must equal the checked-in {@code openapi/openapi.yaml} (from which the test client is
 * generated). The file is the served JSON written as YAML with SnakeYAML, which quotes every string a YAML 1.1 reader
 * would take for something else (such as {@code "0x4000"}).
 *
 * <p>Regenerate it with {@value #REGENERATE}.
 */
class OpenApiSpecTest extends ApiTestSupport {
    static final String REGENERATE = "./mvnw test -Dtest=OpenApiSpecTest -Dmachvm.openapi.write=true";
    static final Path SPEC = Path.of("openapi", "openapi.yaml");
    static final String HEADER = "# Generated from the served /v3/api-docs by io.machvm.api.OpenApiSpecTest; do not edit.\n"
            + "# Regenerate: " + REGENERATE + "\n";

    @Test
    void servedDocumentEqualsCheckedInFile() throws IOException {
        String json = given().when().get("/v3/api-docs").then().statusCode(200).extract().asString();
        String yaml = HEADER + toYaml(json);
        if (Boolean.getBoolean("machvm.openapi.write")) {
            Files.writeString(SPEC, yaml, StandardCharsets.UTF_8);
            System.out.println("wrote " + SPEC.toAbsolutePath());
            return;
        }
        String checkedIn = Files.readString(SPEC, StandardCharsets.UTF_8).replace("\r\n", "\n");
        assertThat(checkedIn)
                .as("openapi/openapi.yaml is out of date with the served /v3/api-docs; regenerate with: " + REGENERATE)
                .isEqualTo(yaml);
    }

    @Test
    void swaggerUiIsServed() {
        given().redirects().follow(true).when().get("/swagger-ui.html").then().statusCode(200);
        given().when().get("/v3/api-docs.yaml").then().statusCode(200);
    }

    @Test
    void everyOperationIdIsTheMachName() {
        String json = given().when().get("/v3/api-docs").then().statusCode(200).extract().asString();
        assertThat(json).contains("\"operationId\":\"host_page_size\"", "\"operationId\":\"host_statistics\"",
                "\"operationId\":\"task_create\"", "\"operationId\":\"task_create_with_id\"",
                "\"operationId\":\"task_list\"", "\"operationId\":\"task_info\"", "\"operationId\":\"task_terminate\"",
                "\"operationId\":\"vm_allocate\"", "\"operationId\":\"vm_deallocate\"", "\"operationId\":\"vm_protect\"",
                "\"operationId\":\"vm_inherit\"", "\"operationId\":\"vm_write\"", "\"operationId\":\"vm_read\"",
                "\"operationId\":\"vm_copy\"", "\"operationId\":\"vm_read_overwrite\"", "\"operationId\":\"vm_region\"",
                "\"operationId\":\"vm_region_walk\"", "\"operationId\":\"problem_type\"");
    }

    /** A cluster's own answers, as a shard routes: 421 naming the owner and 503 with Retry-After, with their kern. */
    @Test
    void everyRoutedOperationDeclaresTheClustersAnswers() {
        JsonNode paths = JsonMapper.builder().build().readTree(given().when().get("/v3/api-docs").then()
                .statusCode(200).extract().asString()).get("paths");
        int routed = 0;
        for (Map.Entry<String, JsonNode> path : paths.properties()) {
            for (Map.Entry<String, JsonNode> operation : path.getValue().properties()) {
                JsonNode responses = operation.getValue().get("responses");
                String where = operation.getKey() + " " + path.getKey();
                if (path.getKey().startsWith("/tasks/")) {
                    routed++;
                    JsonNode misdirected = responses.get("421");
                    assertThat(misdirected).as(where).isNotNull();
                    assertThat(misdirected.at("/headers/Machvm-Owner").isMissingNode()).as(where).isFalse();
                    JsonNode problem = misdirected.at("/content/application~1problem+json");
                    assertThat(problem.at("/schema/$ref").asString())
                            .isEqualTo("#/components/schemas/ProblemDetail");
                    assertThat(problem.at("/example/kern").asString()).isEqualTo("KERN_NOT_RECEIVER");
                    assertThat(problem.at("/example/ownerUrl").isString()).isTrue();
                }
                if (path.getKey().startsWith("/tasks") || path.getKey().equals("/host/statistics")) {
                    JsonNode unavailable = responses.get("503");
                    assertThat(unavailable).as(where).isNotNull();
                    assertThat(unavailable.at("/headers/Retry-After/schema/type").asString()).isEqualTo("integer");
                    assertThat(unavailable.at("/content/application~1problem+json/example/kern").asString())
                            .isEqualTo("MACH_SEND_TIMED_OUT");
                }
            }
        }
        assertThat(routed).as("operations under /tasks/").isGreaterThanOrEqualTo(20);
        assertThat(paths.at("/~1host~1page-size/get/responses").has("503")).isFalse();
    }

    @SuppressWarnings("unchecked")
    static String toYaml(String json) {
        Map<String, Object> tree = JsonMapper.builder().build().readValue(json, Map.class);
        DumperOptions options = new DumperOptions();
        options.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
        options.setIndent(2);
        options.setIndicatorIndent(0);
        options.setWidth(120);
        options.setSplitLines(true);
        options.setAllowUnicode(true);
        options.setLineBreak(DumperOptions.LineBreak.UNIX);
        return new Yaml(options).dump(tree);
    }
}
