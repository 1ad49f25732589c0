package io.machvm;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import io.restassured.RestAssured;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class ApplicationSmokeTest {

    @LocalServerPort
    int port;

    @BeforeEach
    void setUp() {
        RestAssured.port = port;
    }

    @Test
    void livenessIsUp() {
        given()
            .when().get("/actuator/health/liveness")
            .then().statusCode(200).body("status", equalTo("UP"));
    }

    @Test
    void prometheusScrapeWorks() {
        given()
            .when().get("/actuator/prometheus")
            .then().statusCode(200).body(containsString("jvm_memory_used_bytes"));
    }
}
