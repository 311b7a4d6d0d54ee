# syntax=docker/dockerfile:1
# llmobserve's OpenTelemetry Collector, built from deploy/otelcol-builder.yaml by the same script
# `make test` uses. Build from the repository root:
#   docker build -f deploy/collector.Dockerfile -t llmobserve-otelcol:0.161.0 .
FROM golang:1.26 AS build
WORKDIR /src
COPY scripts/install-collector.sh scripts/install-collector.sh
COPY deploy/otelcol-builder.yaml deploy/otelcol-builder.yaml
RUN cp "$(LLMOBSERVE_CACHE=/tmp/llmobserve scripts/install-collector.sh)" /otelcol-llmobserve

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /otelcol-llmobserve /otelcol-llmobserve
COPY otel-collector-config.yaml /etc/otelcol/config.yaml
USER 65532:65532
# OTLP gRPC and HTTP in; Collector self-metrics; cost metrics for Prometheus; health check.
EXPOSE 4317 4318 8888 8889 13133
ENTRYPOINT ["/otelcol-llmobserve"]
CMD ["--config", "/etc/otelcol/config.yaml"]
