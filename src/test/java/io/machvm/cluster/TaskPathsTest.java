package io.machvm.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * Every operation of {@code openapi/openapi.yaml} is routed by what it addresses: a path under {@code {task}} by that
 * variable's owner, {@code /tasks} and a literal operation under it ({@code POST /tasks/restore}) as the collection,
 * the rest on the node. The expectation comes from the document's own templates, resolved as the API resolves them
 * (a literal segment wins over a variable for the methods mapped to it), so that a new endpoint, or a variant of an
 * old one, cannot be routed as if its literal were a task id without this test failing.
 */
class TaskPathsTest {
    private static final Set<String> METHODS = Set.of("get", "put", "post", "delete", "patch", "head", "options");
    private static final Pattern VARIABLE = Pattern.compile("\\{[^}/]+}");

    private record Operation(String method, String template) {
        /** Whether this operation's template matches the concrete path, as a Spring path pattern would. */
        boolean matches(String method, String path) {
            return this.method.equals(method)
                    && path.matches(VARIABLE.matcher(Pattern.quote(template)).replaceAll("\\\\E[^/]+\\\\Q"));
        }

        long variables() {
            return VARIABLE.matcher(template).results().count();
        }
    }

    @SuppressWarnings("unchecked")
    private static List<Operation> operations() throws IOException {
        Map<String, Object> document;
        try (Reader in = Files.newBufferedReader(Path.of("openapi", "openapi.yaml"))) {
            document = new Yaml().load(in);
        }
        List<Operation> operations = new ArrayList<>();
        ((Map<String, Map<String, Object>>) document.get("paths")).forEach((template, item) -> item.keySet().stream()
                .filter(METHODS::contains)
                .forEach(method -> operations.add(new Operation(method.toUpperCase(Locale.ROOT), template))));
        return operations;
    }

    /** The path with its variables given values; {@code {task}} is {@code task}. */
    private static String instance(String template, String task) {
        return template.replace("{task}", task).replace("{address}", "0x100000000")
                .replace("{kern}", "KERN_INVALID_ARGUMENT");
    }

    @Test
    void everyOperationOfTheDocumentIsRoutedByWhatItAddresses() throws IOException {
        List<Operation> operations = operations();
        assertThat(operations).hasSizeGreaterThan(20);
        for (Operation operation : operations) {
            assertThat(VARIABLE.matcher(instance(operation.template(), "t")).find())
                    .as("a path variable this test cannot fill in: " + operation).isFalse();
            // a task id like any other, and one that spells a literal of the collection ("restore")
            for (String task : List.of("build-42.fork1", "restore")) {
                String path = instance(operation.template(), task);
                Operation resolved = operations.stream().filter(o -> o.matches(operation.method(), path))
                        .min(Comparator.comparingLong(Operation::variables)).orElseThrow();
                TaskPaths.Target target = TaskPaths.of(operation.method(), path);
                String as = operation.method() + " " + path + " (" + resolved.template() + ")";
                if (resolved.template().startsWith("/tasks/{task}")) {
                    assertThat(target.kind()).as(as).isEqualTo(TaskPaths.Kind.TASK);
                    assertThat(target.segment()).as(as).isEqualTo(task);
                    assertThat(target.sub()).as(as)
                            .isEqualTo(path.substring("/tasks/".length() + task.length()));
                } else if (resolved.template().equals("/tasks") || resolved.template().startsWith("/tasks/")) {
                    assertThat(target.kind()).as(as).isEqualTo(TaskPaths.Kind.COLLECTION);
                } else {
                    assertThat(resolved.template()).as(as).doesNotContain("{task}");
                    assertThat(target.kind()).as(as).isEqualTo(TaskPaths.Kind.NODE);
                }
            }
        }
    }

    @Test
    void aCollectionOperationIsReadAsTheApiReadsItsSegment() {
        assertThat(TaskPaths.of("POST", "/tasks/restore").kind()).isEqualTo(TaskPaths.Kind.COLLECTION);
        assertThat(TaskPaths.of("POST", "/tasks/%72estore").kind()).isEqualTo(TaskPaths.Kind.COLLECTION);
        assertThat(TaskPaths.of("POST", "/tasks/restore;v=1").kind()).isEqualTo(TaskPaths.Kind.COLLECTION);
        assertThat(TaskPaths.of("PUT", "/tasks/restore").segment()).isEqualTo("restore");
        assertThat(TaskPaths.of("POST", "/tasks/restore/allocate").segment()).isEqualTo("restore");
        assertThat(TaskPaths.of("POST", "/tasks/restored").kind()).isEqualTo(TaskPaths.Kind.TASK);
        assertThat(TaskPaths.of("POST", "/tasks/restore/form").kind()).isEqualTo(TaskPaths.Kind.COLLECTION);
        assertThat(TaskPaths.of("POST", "/tasks/restore/formx").segment()).isEqualTo("restore");
        assertThat(TaskPaths.of("POST", "/tasks/%zz").kind()).isEqualTo(TaskPaths.Kind.TASK);
        TaskPaths.Target peer = TaskPaths.of("GET", "/cluster/tasks/t-1/fork-image");
        assertThat(peer.peer()).isTrue();
        assertThat(peer.segment()).isEqualTo("t-1");
        assertThat(TaskPaths.of("GET", "/cluster").kind()).isEqualTo(TaskPaths.Kind.NODE);
        assertThat(TaskPaths.of("GET", "/actuator/health").kind()).isEqualTo(TaskPaths.Kind.NODE);
        assertThat(TaskPaths.of("GET", "/taskset").kind()).isEqualTo(TaskPaths.Kind.NODE);
    }
}
