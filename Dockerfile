# syntax=docker/dockerfile:1
#
# machvm image: build the layered Spring Boot jar, split it into layers, run it as a non-root user on a JRE.
#   docker build -t machvm .
#   docker run --rm -p 8080:8080 --memory=2g machvm          # store = 50% of the limit, heap = the rest - 256MiB
#   docker run --rm -p 8080:8080 --memory=2g -e MACHVM_STORE_CAPACITY=1GB machvm
# JVM memory flags are derived at start-up from the container's memory limit by src/main/docker/entrypoint.sh (the
# arithmetic is at the top of that script and in README.md, Deployment).

# ---- stage 1: build -------------------------------------------------------------------------------------------------
FROM eclipse-temurin:25-jdk AS build
WORKDIR /build

# The wrapper and the POM first: the dependency layer below is rebuilt only when they change.
COPY mvnw ./
COPY .mvn/ .mvn/
COPY pom.xml ./
RUN ./mvnw -B -ntp dependency:go-offline

COPY openapi/ openapi/
COPY src/ src/
RUN ./mvnw -B -ntp -DskipTests package \
    && cp target/machvm-*.jar app.jar \
    && java -Djarmode=tools -jar app.jar extract --layers --launcher --destination extracted

# ---- stage 2: run ---------------------------------------------------------------------------------------------------
FROM eclipse-temurin:25-jre

# A numeric, non-root user (Kubernetes runAsNonRoot can check a numeric USER; the Helm chart runs as 10001 too).
RUN groupadd --system --gid 10001 machvm \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin machvm

WORKDIR /app
# Layers from the least to the most often changed, so that a code change ships only the last one.
COPY --from=build /build/extracted/dependencies/ ./
COPY --from=build /build/extracted/spring-boot-loader/ ./
COPY --from=build /build/extracted/snapshot-dependencies/ ./
COPY --from=build /build/extracted/application/ ./
COPY --chmod=755 src/main/docker/entrypoint.sh /usr/local/bin/machvm-entrypoint

USER 10001:10001
EXPOSE 8080
# No HEALTHCHECK: the JRE image has no HTTP client; Kubernetes probes /actuator/health/{liveness,readiness}.
ENTRYPOINT ["/usr/local/bin/machvm-entrypoint"]
