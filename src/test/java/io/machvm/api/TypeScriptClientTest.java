package io.machvm.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The typescript-fetch client generated from {@code openapi/openapi.yaml} and compiled with tsc in the build
 * ({@code ./mvnw -Pclients verify}) drives every operation against the running service with node:
 * {@code src/test/typescript/drive.ts}. Without the profile (no compiled driver) the test is skipped.
 */
class TypeScriptClientTest extends ApiTestSupport {

    @Test
    void everyOperationThroughTheGeneratedMethods() throws Exception {
        String driver = System.getProperty("machvm.ts.driver");
        assumeTrue(driver != null, "the TypeScript client is built by ./mvnw -Pclients");
        assertThat(Path.of(driver)).as("compiled by the clients profile").exists();
        Process node = new ProcessBuilder("node", driver, "http://localhost:" + port).redirectErrorStream(true)
                .start();
        boolean ended = node.waitFor(120, TimeUnit.SECONDS);
        String output = new String(node.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!ended) {
            node.destroyForcibly();
        }
        assertThat(ended).as("node ended:\n" + output).isTrue();
        assertThat(node.exitValue()).as(output).isZero();
        assertThat(output).contains("all operations ok");
        Files.writeString(Path.of(driver).resolveSibling("drive.log"), output);
    }
}
