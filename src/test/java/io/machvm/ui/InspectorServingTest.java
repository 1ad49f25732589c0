package io.machvm.ui;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.endsWith;
import static org.hamcrest.Matchers.startsWith;

import io.restassured.RestAssured;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * The inspector's files over HTTP, without a browser (that is {@link InspectorPageTest}, in the ui profile): the root
 * redirects to {@code /ui/}, the page and its script and style are served, the page holds nothing a strict
 * Content-Security-Policy would refuse, and the OpenAPI document does not list the page.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class InspectorServingTest {

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
    void servesThePageItsScriptAndItsStyle() {
        String html = given().when().get("/ui/").then().statusCode(200)
                .contentType(startsWith("text/html")).extract().asString();
        assertThat(html).contains("<title>machvm inspector</title>")
                .contains("<script src=\"inspector.js\" defer></script>")
                .contains("<link rel=\"stylesheet\" href=\"inspector.css\">");
        given().when().get("/ui/inspector.js").then().statusCode(200)
                .contentType(containsString("javascript")).body(containsString("Authorization"));
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
