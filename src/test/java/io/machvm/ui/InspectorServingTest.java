package io.machvm.ui;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.endsWith;
import static org.hamcrest.Matchers.startsWith;

import io.restassured.RestAssured;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * The inspector's files over HTTP, without a browser (that is {@link InspectorPageTest}, in the ui profile): the root
 * redirects to {@code /ui/}, the page, its script modules and its style are served, the page holds nothing a strict
 * Content-Security-Policy would refuse, and the OpenAPI document does not list the page.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class InspectorServingTest {

    /** The page's script, {@code inspector.js}, and the modules it imports. */
    static final List<String> SCRIPT_MODULES = List.of("inspector.js", "api.js", "dom.js", "numbers.js", "state.js",
            "tasks.js", "task.js", "map.js", "pages.js", "hexview.js");

    private static final Pattern IMPORT = Pattern.compile("^import .* from '\\./([\\w.-]+)';$", Pattern.MULTILINE);

    @LocalServerPort
    int port;

    @BeforeEach
    void pointRestAssuredAtServer() {
        RestAssured.port = port;
    }

    @Test
    void theRootAndUiWithoutSlashRedirectToThePage() {
        for (String path : new String[] {"/", "/ui"}) {
            given().redirects().follow(false).when().get(path)
                    .then().statusCode(302).header("Location", endsWith("/ui/"));
        }
    }

    @Test
    void servesThePageItsScriptModulesAndItsStyle() {
        String html = given().when().get("/ui/").then().statusCode(200)
                .contentType(startsWith("text/html")).extract().asString();
        assertThat(html).contains("<title>machvm inspector</title>")
                .contains("<script type=\"module\" src=\"inspector.js\"></script>")
                .contains("<link rel=\"stylesheet\" href=\"inspector.css\">");
        for (String module : SCRIPT_MODULES) {
            String script = given().when().get("/ui/" + module).then().statusCode(200)
                    .contentType(containsString("javascript")).extract().asString();
            Matcher imported = IMPORT.matcher(script);
            while (imported.find()) {
                assertThat(SCRIPT_MODULES).as("modules imported by %s", module).contains(imported.group(1));
            }
        }
        given().when().get("/ui/api.js").then().body(containsString("Authorization"));
        given().when().get("/ui/inspector.css").then().statusCode(200).contentType(startsWith("text/css"));
        given().when().get("/ui/favicon.svg").then().statusCode(200).contentType(startsWith("image/svg"));
    }

    @Test
    void thePageHasNoInlineScriptHandlerStyleOrExternalResource() {
        String html = given().when().get("/ui/index.html").then().statusCode(200).extract().asString();
        assertThat(html).doesNotContainPattern("<script(?![^>]*\\ssrc=)[^>]*>")
                .doesNotContainPattern("\\son[a-z]+\\s*=")
                .doesNotContainPattern("\\sstyle\\s*=")
                .doesNotContainPattern("<style")
                .doesNotContainPattern("(src|href)=\"(https?:)?//")
                .doesNotContain("javascript:");
    }

    @Test
    void theOpenApiDocumentDoesNotListThePage() {
        given().when().get("/v3/api-docs").then().statusCode(200)
                .body("paths.keySet()", org.hamcrest.Matchers.not(org.hamcrest.Matchers.hasItems("/", "/ui", "/ui/")));
    }
}
