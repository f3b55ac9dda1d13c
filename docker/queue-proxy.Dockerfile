# syntax=docker/dockerfile:1
# ollama-queue-proxy. Build from the repository root:
#   docker build -f docker/queue-proxy.Dockerfile -t ollama-queue-proxy .
# Config: /etc/oqp/config.yaml (OQP_CONFIG); the image's own listens on 0.0.0.0:11435 with one host from
# OLLAMA_HOST (default http://ollama:11434), read as Ollama and the bare jar read it (host:port, host,
# http://host:port; 0.0.0.0 = this machine). Mount yours over it. Runs as uid 10001, read-only root friendly.

FROM eclipse-temurin:17-jdk AS build
WORKDIR /src
COPY .mvn/ .mvn/
COPY mvnw pom.xml ./
COPY common/pom.xml common/
COPY sidecar/pom.xml sidecar/
COPY queue-proxy/pom.xml queue-proxy/
COPY common/src common/src
COPY queue-proxy/src queue-proxy/src
RUN --mount=type=cache,target=/root/.m2 ./mvnw -B -q -DskipTests -pl queue-proxy -am package \
 && cp queue-proxy/target/ollama-queue-proxy.jar /ollama-queue-proxy.jar

FROM eclipse-temurin:17-jre AS runtime
RUN groupadd --system --gid 10001 oqp && useradd --system --uid 10001 --gid oqp --no-create-home --shell /usr/sbin/nologin oqp
COPY --from=build /ollama-queue-proxy.jar /app/ollama-queue-proxy.jar
COPY docker/queue-proxy.yaml /etc/oqp/config.yaml
# Heap: a fixed cap, not a share of RAM: without a container memory limit a percentage is one of the host's RAM.
# 2 GiB holds the defaults (queue.max_queued_bytes 512 MiB, a 256 MiB memory cache; docs/operations.md, Memory
# sizing); the proxy cuts its body budget to what the heap holds. G1: large bodies are humongous objects it frees
# at a young collection without copying them, and it returns unused heap to the OS. Override the whole variable
# (e.g. -XX:MaxRAMPercentage=75 under a memory limit); the health probe's JVM reads it too (it only caps).
ENV OQP_CONFIG=/etc/oqp/config.yaml \
    OLLAMA_HOST=http://ollama:11434 \
    JAVA_TOOL_OPTIONS="-Xmx2g -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -XX:-UsePerfData"
USER 10001:10001
EXPOSE 11435
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["java", "-cp", "/app/ollama-queue-proxy.jar", "dev.oqp.common.server.HealthProbe", "--queue-proxy"]
ENTRYPOINT ["java", "-jar", "/app/ollama-queue-proxy.jar"]
