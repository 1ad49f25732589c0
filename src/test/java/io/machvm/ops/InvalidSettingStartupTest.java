package io.machvm.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import io.machvm.MachvmApplication;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.env.SystemEnvironmentPropertySource;

/**
 * Starting the application with an invalid {@code machvm.*} setting fails at once with one line naming the setting.
 * The suite's JVM runs with {@code -XX:MaxDirectMemorySize=2g} (pom.xml), so a 3GB page store cannot start.
 */
@ExtendWith(OutputCaptureExtension.class)
class InvalidSettingStartupTest {
    private static final Pattern DESCRIPTION = Pattern.compile("Description:\\R\\R(.*?)\\R\\RAction:\\R\\R(.*?)\\R",
            Pattern.DOTALL);

    static Stream<Arguments> invalidArguments() {
        return Stream.of(
                arguments("machvm.store.capacity=3GB",
                        "machvm.store.capacity=3GB exceeds the JVM's direct-memory limit of 2GB "
                                + "(-XX:MaxDirectMemorySize)"),
                arguments("machvm.store.capacity=1KB", "machvm.store.capacity must be at least 16KB, not 1KB"),
                arguments("machvm.store.capacity=lots",
                        "machvm.store.capacity='lots' is not a data size such as 512MB or 1GB (units B, KB, MB, GB, "
                                + "TB; 1KB = 1024B) (set by \"machvm.store.capacity\" from property source "
                                + "\"commandLineArgs\")"),
                arguments("machvm.store.slab-size=48KB",
                        "machvm.store.slab-size must be a power of two from 16KB to 1GB, not 48KB"),
                arguments("machvm.store.slab-size=2GB",
                        "machvm.store.slab-size must be a power of two from 16KB to 1GB, not 2GB"),
                arguments("machvm.host.flavor=sparc", "machvm.host.flavor must be arm64 or x86_64, not 'sparc'"),
                arguments("machvm.vm.errors=strict", "machvm.vm.errors must be documented or xnu, not 'strict'"),
                arguments("machvm.tasks.max=0", "machvm.tasks.max must be at least 1, not 0"),
                arguments("machvm.tasks.max=1e3",
                        "machvm.tasks.max='1e3' is not a whole number (set by \"machvm.tasks.max\" from property "
                                + "source \"commandLineArgs\")"),
                arguments("machvm.api.max-transfer=0B", "machvm.api.max-transfer must be positive, not 0B"),
                arguments("machvm.persistence.checkpoint-interval=1ms",
                        "machvm.persistence.checkpoint-interval must be from 10ms to 24h, not 1ms"),
                arguments("machvm.shutdown.drain=-1s", "machvm.shutdown.drain must be from 0s to 5m, not -1000ms"),
                arguments("machvm.shutdown.drain=6m", "machvm.shutdown.drain must be from 0s to 5m, not 360000ms"));
    }

    @ParameterizedTest
    @MethodSource("invalidArguments")
    void invalidCommandLineSettingStopsStartUpWithOneLine(String setting, String expected, CapturedOutput output) {
        SpringApplication application = new SpringApplication(MachvmApplication.class);
        assertThatThrownBy(() -> application.run("--" + setting, "--server.port=0")).isNotNull();
        assertOneLineFailure(output.toString(), expected, setting.substring(0, setting.indexOf('=')));
    }

    static Stream<Arguments> invalidEnvironment() {
        return Stream.of(
                arguments("MACHVM_TASKS_MAX", "many",
                        "machvm.tasks.max='many' is not a whole number (set by System Environment Property "
                                + "\"MACHVM_TASKS_MAX\")"),
                arguments("MACHVM_STORE_SLABSIZE", "3MB",
                        "machvm.store.slab-size must be a power of two from 16KB to 1GB, not 3MB"),
                arguments("MACHVM_STORE_CAPACITY", "4GB",
                        "machvm.store.capacity=4GB exceeds the JVM's direct-memory limit of 2GB "
                                + "(-XX:MaxDirectMemorySize)"),
                arguments("MACHVM_API_MAXTRANSFER", "-1MB", "machvm.api.max-transfer must be positive, not -1MB"));
    }

    /** The environment-variable names README.md documents reach the same checks. */
    @ParameterizedTest
    @MethodSource("invalidEnvironment")
    void invalidEnvironmentVariableStopsStartUpWithOneLine(String variable, String value, String expected,
            CapturedOutput output) {
        StandardEnvironment environment = new StandardEnvironment();
        environment.getPropertySources().replace(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME,
                new SystemEnvironmentPropertySource(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME,
                        Map.of(variable, value)));
        SpringApplication application = new SpringApplication(MachvmApplication.class);
        application.setEnvironment(environment);
        assertThatThrownBy(() -> application.run("--server.port=0")).isNotNull();
        assertOneLineFailure(output.toString(), expected, null);
    }

    /** The real thing: a JVM of its own, as a container starts it; exit status 1 and no stack trace. */
    @Test
    void capacityAboveMaxDirectMemoryFailsInAChildJvm() throws IOException, InterruptedException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process process = new ProcessBuilder(java.toString(), "-XX:MaxDirectMemorySize=2g", "-cp",
                System.getProperty("java.class.path"), MachvmApplication.class.getName(),
                "--machvm.store.capacity=3GB", "--server.port=0")
                .redirectErrorStream(true)
                .start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as(output).isEqualTo(1);
        assertOneLineFailure(output,
                "machvm.store.capacity=3GB exceeds the JVM's direct-memory limit of 2GB (-XX:MaxDirectMemorySize)",
                "machvm.store.capacity");
        assertThat(output).doesNotContain("Exception", "\tat ", "Started MachvmApplication");
    }

    private static void assertOneLineFailure(String output, String expectedDescription, String setting) {
        assertThat(output).contains("APPLICATION FAILED TO START");
        Matcher matcher = DESCRIPTION.matcher(output);
        assertThat(matcher.find()).as(output).isTrue();
        assertThat(matcher.group(1)).isEqualTo(expectedDescription).doesNotContain("\n");
        if (setting != null) {
            assertThat(matcher.group(2)).contains(setting);
        }
        // Checked before the context exists: no web server, no bean creation, no second report.
        assertThat(output).doesNotContain("Tomcat initialized", "Error creating bean");
    }
}
