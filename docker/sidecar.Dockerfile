# syntax=docker/dockerfile:1
# ollama-auth-sidecar. Build from the repository root:
#   docker build -f docker/sidecar.Dockerfile -t ollama-auth-sidecar .
# Config: mount yours at /etc/oqp/config.yaml (OQP_CONFIG); give each service `bind: 0.0.0.0` and
# `allow_public: true` so that its published port reaches it. Runs as uid 10001, read-only root friendly.

FROM eclipse-temurin:17-jdk AS build
WORKDIR /src
COPY .mvn/ .mvn/
COPY mvnw pom.xml ./
COPY common/pom.xml common/
COPY sidecar/pom.xml sidecar/
COPY queue-proxy/pom.xml queue-proxy/
COPY common/src common/src
COPY sidecar/src sidecar/src
RUN --mount=type=cache,target=/root/.m2 ./mvnw -B -q -DskipTests -pl sidecar -am package \
 && cp sidecar/target/ollama-auth-sidecar.jar /ollama-auth-sidecar.jar

FROM eclipse-temurin:17-jre AS runtime
RUN groupadd --system --gid 10001 oqp && useradd --system --uid 10001 --gid oqp --no-create-home --shell /usr/sbin/nologin oqp
COPY --from=build /ollama-auth-sidecar.jar /app/ollama-auth-sidecar.jar
# Heap: a fixed cap (a share of RAM is one of the host's without a container memory limit). The sidecar streams
# bodies through and holds none: 256 MiB is ample, and the serial collector is the smallest footprint for such a
# heap, its pauses a few ms. Override the whole variable to change it; the health probe's JVM reads it too.
ENV OQP_CONFIG=/etc/oqp/config.yaml \
    JAVA_TOOL_OPTIONS="-Xmx256m -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError -XX:-UsePerfData"
USER 10001:10001
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["java", "-cp", "/app/ollama-auth-sidecar.jar", "dev.oqp.common.server.HealthProbe", "--sidecar"]
ENTRYPOINT ["java", "-jar", "/app/ollama-auth-sidecar.jar"]
