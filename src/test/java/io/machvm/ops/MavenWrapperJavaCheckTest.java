package io.machvm.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The Maven wrapper ({@code ./mvnw}) refuses a JDK older than 25 before Maven starts, with one sentence that says what
 * to do, and lets JDK 25 through to Maven.
 */
class MavenWrapperJavaCheckTest {
    private static final Path MVNW = Path.of("mvnw").toAbsolutePath();
    private static final String SENTENCE = "machvm needs JDK 25: install it and set JAVA_HOME to it (found Java %s at %s).";

    @TempDir
    Path dir;

    record Result(int exitCode, String stdout, String stderr) {
    }

    @BeforeAll
    static void unixShell() {
        assumeFalse(System.getProperty("os.name").toLowerCase(Locale.ROOT).contains("win"), "mvnw is a POSIX script");
    }

    @Test
    void anOlderJdkInJavaHomeIsRefusedWithOneSentence() throws Exception {
        Path jdk = installedJdkOlderThan25().orElse(null);
        assumeTrue(jdk != null, "no JDK older than 25 under /usr/lib/jvm");
        Result result = mvnw(Map.of("JAVA_HOME", jdk.toString()), "-v");
        assertThat(result.exitCode()).isEqualTo(1);
        assertThat(result.stderr().strip()).isEqualTo(SENTENCE.formatted(releaseVersion(jdk), jdk));
        assertThat(result.stdout()).isEmpty();
    }

    @Test
    void anOlderJavaOnThePathIsRefusedWhenJavaHomeIsUnset() throws Exception {
        Path jdk = installedJdkOlderThan25().orElse(null);
        assumeTrue(jdk != null, "no JDK older than 25 under /usr/lib/jvm");
        Result result = mvnw(Map.of("PATH", jdk.resolve("bin") + ":/usr/bin:/bin"), "-v");
        assertThat(result.exitCode()).isEqualTo(1);
        assertThat(result.stderr().strip()).isEqualTo(SENTENCE.formatted(releaseVersion(jdk), jdk.toRealPath()));
    }

    /** Without a release file the version comes from java -version, in its form since 9 and in Java 8's. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {"openjdk version \"11.0.2\" 2019-01-15 | 11.0.2",
        "java version \"1.8.0_402\" | 1.8.0_402"})
    void withoutAReleaseFileTheVersionComesFromJavaVersion(String versionLine, String version) throws Exception {
        Path jdk = fakeJdk(versionLine);
        Result result = mvnw(Map.of("JAVA_HOME", jdk.toString()), "-v");
        assertThat(result.exitCode()).isEqualTo(1);
        assertThat(result.stderr().strip()).isEqualTo(SENTENCE.formatted(version, jdk));
    }

    /** {@code mvnw.cmd} makes the same check in its PowerShell part, with the same sentence. */
    @Test
    void theWindowsWrapperRefusesWithTheSameSentence() throws IOException {
        String cmd = Files.readString(MVNW.resolveSibling("mvnw.cmd"));
        assertThat(cmd).contains(SENTENCE.formatted("$machvmVersion", "$machvmHome"), "[int]$machvmFeature -lt 25");
        assertThat(cmd.indexOf("machvm needs JDK 25")).as("refused before Maven is looked for")
            .isLessThan(cmd.indexOf("$distributionUrl ="));
    }

    @Test
    void theRunningJdk25GoesThroughToMaven() throws Exception {
        assumeTrue(Runtime.version().feature() >= 25, "the tests run on JDK 25");
        Result result = mvnw(Map.of("JAVA_HOME", System.getProperty("java.home")), "-v", "-o");
        assertThat(result.exitCode()).as(result.stderr()).isZero();
        assertThat(result.stdout()).contains("Apache Maven", "Java version: " + Runtime.version().feature());
        assertThat(result.stderr()).doesNotContain("machvm needs JDK 25");
    }

    /** A JDK home without a release file whose {@code bin/java} prints {@code versionLine} as java -version does. */
    private Path fakeJdk(String versionLine) throws IOException {
        Path bin = Files.createDirectories(dir.resolve("jdk").resolve("bin"));
        Path java = bin.resolve("java");
        Files.writeString(java, "#!/bin/sh\necho '" + versionLine + "' >&2\n", StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        return bin.getParent();
    }

    private static Optional<Path> installedJdkOlderThan25() throws IOException {
        Path jvms = Path.of("/usr/lib/jvm");
        if (!Files.isDirectory(jvms)) {
            return Optional.empty();
        }
        try (Stream<Path> homes = Files.list(jvms)) {
            return homes.filter(home -> !Files.isSymbolicLink(home) && Files.isExecutable(home.resolve("bin/java")))
                    .filter(home -> {
                        String version = releaseVersion(home);
                        return version != null && feature(version) < 25;
                    })
                    .sorted().findFirst();
        }
    }

    private static String releaseVersion(Path home) {
        try {
            return Files.readAllLines(home.resolve("release")).stream().filter(l -> l.startsWith("JAVA_VERSION="))
                    .map(l -> l.substring("JAVA_VERSION=".length()).replace("\"", "")).findFirst().orElse(null);
        } catch (IOException e) {
            return null;
        }
    }

    private static int feature(String version) {
        String v = version.startsWith("1.") ? version.substring(2) : version;
        int end = 0;
        while (end < v.length() && Character.isDigit(v.charAt(end))) {
            end++;
        }
        return end == 0 ? Integer.MAX_VALUE : Integer.parseInt(v.substring(0, end));
    }

    private Result mvnw(Map<String, String> environment, String... arguments) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(Stream.concat(Stream.of(MVNW.toString()), Stream.of(arguments))
                .toList()).directory(MVNW.getParent().toFile());
        builder.environment().remove("JAVA_HOME");
        builder.environment().putAll(environment);
        builder.redirectOutput(dir.resolve("stdout").toFile()).redirectError(dir.resolve("stderr").toFile());
        Process process = builder.start();
        assertThat(process.waitFor(5, TimeUnit.MINUTES)).as("mvnw finished").isTrue();
        return new Result(process.exitValue(), Files.readString(dir.resolve("stdout")),
                Files.readString(dir.resolve("stderr")));
    }
}
