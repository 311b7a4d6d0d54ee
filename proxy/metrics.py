"""The proxy's metrics: GenAI client metrics (OpenTelemetry conventions) and cost counters.

`gen_ai.client.token.usage`, `gen_ai.client.operation.duration` and
`gen_ai.client.operation.time_to_first_chunk` use the bucket boundaries the GenAI metric
conventions give. Customer id and section path are dimensions only when
`LLMOBSERVE_METRICS_ATTRIBUTION=true`: they are unbounded (cardinality).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from decimal import Decimal

from opentelemetry.metrics import Meter, MeterProvider, NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.util.types import AttributeValue

from llmobserve.exporting import build_resource
from pricing import TokenUsage
from proxy.protocol import SERVICE_NAME
from semconv import (
    GEN_AI_CLIENT_OPERATION_DURATION,
    GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
    GEN_AI_CLIENT_TOKEN_USAGE,
    GEN_AI_TOKEN_TYPE,
    LLMOBSERVE_COST_STATUS,
    METRIC_LLMOBSERVE_CALLS_UNPRICED,
    METRIC_LLMOBSERVE_CALLS_UNPRICED_UNIT,
    METRIC_LLMOBSERVE_COST,
    METRIC_LLMOBSERVE_COST_UNIT,
    GenAiTokenTypeValues,
)

log = logging.getLogger(__name__)

# https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/
TOKEN_BUCKETS = [4.0**i for i in range(14)]  # 1, 4, 16, ... 67108864
DURATION_BUCKETS = [0.01 * 2**i for i in range(14)]  # 0.01, 0.02, ... 81.92


def meter_provider_from_env(environ: Mapping[str, str] | None = None) -> MeterProvider:
    """`OTEL_METRICS_EXPORTER` (`otlp` default, `console`, `none`) with the `OTEL_EXPORTER_OTLP_*`
    variables, exported every `OTEL_METRIC_EXPORT_INTERVAL` ms (default 60000)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return NoOpMeterProvider()
    readers: list[MetricReader] = []
    for name in (n.strip().lower() for n in env.get("OTEL_METRICS_EXPORTER", "otlp").split(",")):
        if name in ("", "none"):
            continue
        if name == "console":
            readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter()))
        else:
            if name != "otlp":
                log.warning("OTEL_METRICS_EXPORTER=%s is not supported here; using otlp", name)
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

            readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    return SdkMeterProvider(metric_readers=readers, resource=build_resource(None, SERVICE_NAME))


class ProxyMetrics:
    def __init__(self, meter: Meter, *, attribution: bool = False) -> None:
        self._attribution = attribution
        self._tokens = meter.create_histogram(
            GEN_AI_CLIENT_TOKEN_USAGE,
            unit="{token}",
            description="Tokens used per call, by gen_ai.token.type",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self._duration = meter.create_histogram(
            GEN_AI_CLIENT_OPERATION_DURATION,
            unit="s",
            description="Duration of provider calls through the proxy",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._first_chunk = meter.create_histogram(
            GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time to the first body chunk of streamed responses",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._cost = meter.create_counter(
            METRIC_LLMOBSERVE_COST,
            unit=METRIC_LLMOBSERVE_COST_UNIT,
            description="USD cost of priced calls",
        )
        self._unpriced = meter.create_counter(
            METRIC_LLMOBSERVE_CALLS_UNPRICED,
            unit=METRIC_LLMOBSERVE_CALLS_UNPRICED_UNIT,
            description="Metered calls that could not be priced",
        )

    def record(
        self,
        dimensions: Mapping[str, AttributeValue],
        attribution: Mapping[str, AttributeValue],
        *,
        duration: float,
        first_chunk: float | None,
        usage: TokenUsage | None,
        cost: Decimal | None,
        cost_status: str | None,
    ) -> None:
        attributes = dict(dimensions)
        if self._attribution:
            attributes.update(attribution)
        self._duration.record(duration, attributes)
        if first_chunk is not None:
            self._first_chunk.record(first_chunk, attributes)
        if usage is not None:
            self._tokens.record(
                usage.input_tokens, {**attributes, GEN_AI_TOKEN_TYPE: GenAiTokenTypeValues.INPUT}
            )
            self._tokens.record(
                usage.output_tokens, {**attributes, GEN_AI_TOKEN_TYPE: GenAiTokenTypeValues.OUTPUT}
            )
        if cost is not None:
            self._cost.add(float(cost), attributes)
        elif cost_status is not None:
            self._unpriced.add(1, {**attributes, LLMOBSERVE_COST_STATUS: cost_status})
