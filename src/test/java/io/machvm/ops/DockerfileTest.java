package io.machvm.ops;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The Dockerfile, read as text (no Docker engine in the build): two stages, what it copies exists and is not
 * excluded by .dockerignore, the layers go in Spring Boot's order, and the image runs as a numeric non-root user.
 */
class DockerfileTest {
    private static final Path DOCKERFILE = Path.of("Dockerfile");

    private static List<String> instructions() throws IOException {
        // join continuation lines, drop comments and blank lines
        String text = Files.readString(DOCKERFILE).replaceAll("\\\\\\n\\s*", " ");
        return text.lines().map(String::strip).filter(line -> !line.isEmpty() && !line.startsWith("#")).toList();
    }

    @Test
    void buildsOnTheJdkAndRunsOnTheJre() throws IOException {
        assertThat(instructions()).filteredOn(line -> line.startsWith("FROM "))
                .containsExactly("FROM eclipse-temurin:25-jdk AS build", "FROM eclipse-temurin:25-jre");
    }

    @Test
    void dependenciesAreResolvedBeforeTheSourcesAreCopied() throws IOException {
        List<String> lines = instructions();
        int pom = lines.indexOf("COPY pom.xml ./");
        int offline = lines.indexOf("RUN ./mvnw -B -ntp dependency:go-offline");
        int sources = lines.indexOf("COPY src/ src/");
        assertThat(pom).isNotNegative().isLessThan(offline);
        assertThat(offline).isLessThan(sources);
        assertThat(lines).anyMatch(line -> line.startsWith("RUN ./mvnw -B -ntp -DskipTests package")
                && line.contains("java -Djarmode=tools -jar app.jar extract --layers --launcher"));
    }

    @Test
    void layersAreCopiedInSpringBootsOrder() throws IOException {
        List<String> layers = instructions().stream()
                .map(Pattern.compile("^COPY --from=build /build/extracted/([a-z-]+)/ \\./$")::matcher)
                .filter(Matcher::matches).map(matcher -> matcher.group(1)).toList();
        assertThat(layers).containsExactly("dependencies", "spring-boot-loader", "snapshot-dependencies",
                "application");
    }

    @Test
    void runsAsNumericNonRootUserWithTheSizingEntrypoint() throws IOException {
        List<String> lines = instructions();
        assertThat(lines).contains("USER 10001:10001", "EXPOSE 8080",
                "ENTRYPOINT [\"/usr/local/bin/machvm-entrypoint\"]",
                "COPY --chmod=755 src/main/docker/entrypoint.sh /usr/local/bin/machvm-entrypoint");
        assertThat(lines.indexOf("USER 10001:10001")).isGreaterThan(lines.indexOf("FROM eclipse-temurin:25-jre"));
        assertThat(lines).anyMatch(line -> line.contains("useradd --system --uid 10001 --gid 10001"));
    }

    @Test
    void everythingCopiedFromTheContextExistsAndIsNotIgnored() throws IOException {
        List<String> sources = instructions().stream()
                .filter(line -> line.startsWith("COPY ") && !line.contains("--from="))
                .map(line -> line.replaceFirst("^COPY (--chmod=\\d+ )?", "").split(" ")[0])
                .toList();
        assertThat(sources).containsExactly("mvnw", ".mvn/", "pom.xml", "openapi/", "src/", "src/main/docker/entrypoint.sh");
        String ignore = Files.readString(Path.of(".dockerignore"));
        for (String source : sources) {
            assertThat(Path.of(source)).exists();
            String top = source.contains("/") ? source.substring(0, source.indexOf('/') + 1) : source;
            assertThat(ignore).as(".dockerignore re-includes " + top).contains("!" + top);
        }
    }
}
