package io.machvm.ops;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.greaterThanOrEqualTo;
import static org.hamcrest.Matchers.hasKey;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.notNullValue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.core.env.Environment;

/** Health groups, the page-store health component, build info, graceful shutdown and what actuator exposes. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class OperationsEndpointsTest {

    @LocalServerPort
    int port;

    @Autowired
    Environment environment;

    @Test
    void livenessIsUpAndDoesNotDependOnThePageStore() {
        given().port(port).when().get("/actuator/health/liveness")
                .then().statusCode(200)
                .body("status", equalTo("UP"))
                .body("components", hasKey("livenessState"))
                .body("components", not(hasKey("pageStore")));
    }

    @Test
    void readinessIncludesThePageStoreWithItsFigures() {
        given().port(port).when().get("/actuator/health/readiness")
                .then().statusCode(200)
                .body("status", equalTo("UP"))
                .body("components.readinessState.status", equalTo("UP"))
                .body("components.pageStore.status", equalTo("UP"))
                .body("components.pageStore.details.capacityBytes", equalTo(1073741824))
                .body("components.pageStore.details.pageSize", equalTo(16384))
                .body("components.pageStore.details.residentPages", greaterThanOrEqualTo(0))
                .body("components.pageStore.details.sharedPages", greaterThanOrEqualTo(0))
                .body("components.pageStore.details.freePages", greaterThanOrEqualTo(0))
                .body("components.pageStore.details.tasks", greaterThanOrEqualTo(0));
    }

    @Test
    void infoShowsTheBuildAndTheJavaRuntime() {
        given().port(port).when().get("/actuator/info")
                .then().statusCode(200)
                .body("build.artifact", equalTo("machvm"))
                .body("build.group", equalTo("io.machvm"))
                .body("build.version", notNullValue())
                .body("build.time", notNullValue())
                .body("java.version", notNullValue());
    }

    @Test
    void onlyHealthInfoAndPrometheusAreExposed() {
        Map<String, Object> links = given().port(port).when().get("/actuator")
                .then().statusCode(200).extract().path("_links");
        assertThat(links.keySet()).containsExactlyInAnyOrder("self", "health", "health-path", "info", "prometheus");
    }

    @ParameterizedTest
    @ValueSource(strings = {"/actuator/env", "/actuator/beans", "/actuator/heapdump", "/actuator/threaddump",
            "/actuator/configprops", "/actuator/metrics", "/actuator/loggers", "/actuator/mappings"})
    void otherEndpointsAreNotExposed(String path) {
        given().port(port).when().get(path).then().statusCode(404);
    }

    @Test
    void shutdownIsGracefulAndBounded() {
        assertThat(environment.getProperty("server.shutdown")).isEqualTo("graceful");
        assertThat(environment.getProperty("spring.lifecycle.timeout-per-shutdown-phase")).isEqualTo("20s");
    }
}
