"""`ProxyMetrics` exports what the SDK's own instruments export, through either recording path.

The reference is the recording code as it was before in-process aggregation: SDK histograms and
counters, read by an `InMemoryMetricReader`. Both record the same seeded sequence of calls.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from opentelemetry.metrics import Meter, NoOpMeter
from opentelemetry.sdk.metrics import (
    AlwaysOnExemplarFilter,
    Counter,
    Histogram,
    MeterProvider,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import (
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    View,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.util.types import AttributeValue

from pricing import TokenUsage
from proxy import aggregates
from proxy.metrics import DURATION_BUCKETS, TOKEN_BUCKETS, ProxyMetrics, meter_provider_from_env
from semconv import (
    ERROR_TYPE,
    GEN_AI_CLIENT_OPERATION_DURATION,
    GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
    GEN_AI_CLIENT_TOKEN_USAGE,
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_TOKEN_TYPE,
    LLMOBSERVE_COST_STATUS,
    LLMOBSERVE_CUSTOMER_ID,
    LLMOBSERVE_SECTION_PATH,
    METRIC_LLMOBSERVE_CALLS_UNPRICED,
    METRIC_LLMOBSERVE_CALLS_UNPRICED_UNIT,
    METRIC_LLMOBSERVE_COST,
    METRIC_LLMOBSERVE_COST_UNIT,
    SERVER_ADDRESS,
    SERVER_PORT,
    GenAiTokenTypeValues,
)

SCOPE = ("llmobserve.proxy", "0.1.0")
RESOURCE = Resource({"service.name": "llmobserve-proxy"})
DELTA = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA}


class ReferenceMetrics:
    """The proxy's metrics as SDK instruments recorded them before `proxy.aggregates`."""

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


@dataclass(frozen=True)
class Call:
    dimensions: dict[str, AttributeValue]
    attribution: dict[str, AttributeValue]
    duration: float
    first_chunk: float | None
    usage: TokenUsage | None
    cost: Decimal | None
    cost_status: str | None

    def into(self, metrics: ProxyMetrics | ReferenceMetrics) -> None:
        metrics.record(
            self.dimensions,
            self.attribution,
            duration=self.duration,
            first_chunk=self.first_chunk,
            usage=self.usage,
            cost=self.cost,
            cost_status=self.cost_status,
        )


ROUTES: list[dict[str, AttributeValue]] = [
    {
        GEN_AI_OPERATION_NAME: "chat",
        GEN_AI_PROVIDER_NAME: "openai",
        GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
        SERVER_ADDRESS: "api.openai.com",
        SERVER_PORT: 443,
    },
    {
        GEN_AI_OPERATION_NAME: "chat",
        GEN_AI_PROVIDER_NAME: "anthropic",
        GEN_AI_REQUEST_MODEL: "claude-3-haiku-20240307",
        SERVER_ADDRESS: "api.anthropic.com",
        SERVER_PORT: 443,
    },
    {GEN_AI_OPERATION_NAME: "embeddings", GEN_AI_PROVIDER_NAME: "openai"},
]
# Values on, between and beyond the bucket boundaries, and the ones the SDK drops.
SECONDS = [0.0, 0.01, 0.02, 0.16, 81.92, 81.93, 300.0, -0.5, float("nan")]
TOKENS = [0, 1, 4, 5, 16, 1024, 67108864, 67108865, -3]
STATUSES = ["unknown_model", "no_usage", "partial"]


def calls(count: int, seed: int = 6) -> list[Call]:
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        dimensions = dict(rng.choice(ROUTES))
        if rng.random() < 0.7:
            dimensions[GEN_AI_RESPONSE_MODEL] = f"{dimensions.get(GEN_AI_REQUEST_MODEL, 'x')}-v2"
        if rng.random() < 0.1:
            dimensions[ERROR_TYPE] = rng.choice(["429", "timeout"])
        if rng.random() < 0.3:  # the same attribute set, another key order
            dimensions = dict(reversed(list(dimensions.items())))
        attribution = rng.choice(
            [
                {},
                {LLMOBSERVE_CUSTOMER_ID: "c-1"},
                {LLMOBSERVE_CUSTOMER_ID: "c-2", LLMOBSERVE_SECTION_PATH: "a/b"},
            ]
        )
        seconds = SECONDS + [rng.uniform(0, 5)] * 30
        usage = None
        if rng.random() < 0.8:
            usage = TokenUsage(
                input_tokens=rng.choice([*TOKENS, *[rng.randrange(10**6)] * 30]),
                output_tokens=rng.choice([*TOKENS, *[rng.randrange(10**4)] * 30]),
            )
        cost = None
        status = rng.choice([None, *STATUSES])
        if rng.random() < 0.6:
            cost = rng.choice([Decimal(rng.randrange(10**7)) / 10**9, Decimal("0.000006")])
            status = "priced"
        made.append(
            Call(
                dimensions,
                attribution,
                duration=rng.choice(seconds),
                first_chunk=rng.choice([None, *seconds]),
                usage=usage,
                cost=cost,
                cost_status=status,
            )
        )
    return made


def exported(data: MetricsData | None) -> dict[str, Any]:
    """Every metric by name, points by attribute set, timestamps left out (checked apart)."""
    assert data is not None
    (resource_metrics,) = data.resource_metrics
    found: dict[str, Any] = {"resource": resource_metrics.resource.attributes}
    for scope_metrics in resource_metrics.scope_metrics:
        scope = (scope_metrics.scope.name, scope_metrics.scope.version)
        for metric in scope_metrics.metrics:
            points = {}
            for point in metric.data.data_points:
                assert 0 < point.start_time_unix_nano <= point.time_unix_nano
                fields = {
                    k: v
                    for k, v in vars(point).items()
                    if k not in ("attributes", "start_time_unix_nano", "time_unix_nano")
                }
                key = frozenset((k, type(v), v) for k, v in point.attributes.items())
                assert key not in points, f"two {metric.name} points for {key}"
                points[key] = fields
            data_fields = {k: v for k, v in vars(metric.data).items() if k != "data_points"}
            described = (scope, metric.unit, metric.description, type(metric.data), data_fields)
            found[metric.name] = (described, points)
    return found


def assert_same(ours: Any, reference: Any, where: str = "") -> None:
    """Equal, floats to 12 digits: the SDK sums floats per collection interval and then onto
    the total, ours in one running sum, and its cost in `Decimal`; either order may round
    the last bit another way."""
    assert type(ours) is type(reference), where
    if isinstance(ours, dict):
        assert ours.keys() == reference.keys(), where
        for key in ours:
            assert_same(ours[key], reference[key], f"{where}/{key}")
    elif isinstance(ours, tuple | list):
        assert len(ours) == len(reference), where
        for index, (mine, theirs) in enumerate(zip(ours, reference, strict=True)):
            assert_same(mine, theirs, f"{where}[{index}]")
    elif isinstance(ours, float):
        assert math.isclose(ours, reference, rel_tol=1e-12), (where, ours, reference)
    else:
        assert ours == reference, where


def side_by_side(
    attribution: bool, **reader_options: Any
) -> tuple[ProxyMetrics, InMemoryMetricReader, ReferenceMetrics, InMemoryMetricReader]:
    ours_reader = InMemoryMetricReader(**reader_options)
    reference_reader = InMemoryMetricReader(**reader_options)
    ours_meter = MeterProvider(metric_readers=[ours_reader], resource=RESOURCE).get_meter(*SCOPE)
    reference_provider = MeterProvider(metric_readers=[reference_reader], resource=RESOURCE)
    return (
        ProxyMetrics(ours_meter, attribution=attribution),
        ours_reader,
        ReferenceMetrics(reference_provider.get_meter(*SCOPE), attribution=attribution),
        reference_reader,
    )


# What the OTLP exporters ask their reader for (`OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_
# AGGREGATION` unset): the same points as the SDK default.
OTLP_DEFAULT = {Histogram: ExplicitBucketHistogramAggregation()}


@pytest.mark.parametrize(
    ("attribution", "preferred_aggregation"),
    [(False, None), (True, None), (False, OTLP_DEFAULT)],
)
def test_aggregated_metrics_export_what_sdk_instruments_export(
    attribution: bool, preferred_aggregation: Any
) -> None:
    ours, ours_reader, reference, reference_reader = side_by_side(
        attribution, preferred_aggregation=preferred_aggregation
    )
    assert ours.aggregated
    sequence = calls(3000)
    for start in range(0, len(sequence), 1000):  # cumulative across collections
        for call in sequence[start : start + 1000]:
            call.into(ours)
            call.into(reference)
        assert_same(
            exported(ours_reader.get_metrics_data()),
            exported(reference_reader.get_metrics_data()),
        )


def test_delta_temporality_records_through_sdk_instruments_with_the_same_output() -> None:
    ours, ours_reader, reference, reference_reader = side_by_side(
        False, preferred_temporality=DELTA
    )
    assert not ours.aggregated
    for call in calls(500):
        call.into(ours)
        call.into(reference)
    assert exported(ours_reader.get_metrics_data()) == exported(reference_reader.get_metrics_data())


@pytest.mark.parametrize(
    "provider_options",
    [
        {"views": [View(instrument_name="*", aggregation=ExponentialBucketHistogramAggregation())]},
        {
            "views": [
                View(instrument_name="*", aggregation=ExplicitBucketHistogramAggregation((1.0,)))
            ]
        },
        {"exemplar_filter": AlwaysOnExemplarFilter()},
    ],
)
def test_views_and_exemplars_record_through_sdk_instruments(provider_options: Any) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], **provider_options)
    metrics = ProxyMetrics(provider.get_meter(*SCOPE))
    assert not metrics.aggregated
    calls(1)[0].into(metrics)
    assert exported(reader.get_metrics_data())[GEN_AI_CLIENT_OPERATION_DURATION]


def test_metrics_with_no_reader_record_nothing() -> None:
    for meter in (NoOpMeter("llmobserve.proxy"), MeterProvider().get_meter(*SCOPE)):
        metrics = ProxyMetrics(meter)
        for call in calls(10):
            call.into(metrics)
        assert not metrics.aggregated


def test_proxy_metrics_on_one_meter_share_their_series() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter(*SCOPE)
    first, second = ProxyMetrics(meter), ProxyMetrics(meter)
    call = calls(1)[0]
    call.into(first)
    call.into(second)
    (point,) = exported(reader.get_metrics_data())[GEN_AI_CLIENT_OPERATION_DURATION][1].values()
    assert point["count"] == 2


def test_other_instruments_of_the_provider_are_exported_beside_ours() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], resource=RESOURCE)
    metrics = ProxyMetrics(provider.get_meter(*SCOPE))
    provider.get_meter(*SCOPE).create_counter("same.scope").add(1)
    provider.get_meter("llmobserve.proxy").create_counter("other.scope").add(2)
    calls(1)[0].into(metrics)
    data = reader.get_metrics_data()
    assert data is not None
    (resource_metrics,) = data.resource_metrics
    names = {
        (scope.scope.version or "", metric.name)
        for scope in resource_metrics.scope_metrics
        for metric in scope.metrics
    }
    assert {("0.1.0", "same.scope"), ("", "other.scope")} <= names
    assert ("0.1.0", GEN_AI_CLIENT_OPERATION_DURATION) in names
    assert len(resource_metrics.scope_metrics) == 2


class ListExporter(MetricExporter):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[MetricsData] = []

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        self.batches.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


def test_shutdown_exports_the_last_calls() -> None:
    exporter = ListExporter()
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader])
    metrics = ProxyMetrics(provider.get_meter(*SCOPE))
    assert metrics.aggregated
    for call in calls(5):
        call.into(metrics)
    provider.shutdown()
    points = exported(exporter.batches[-1])[GEN_AI_CLIENT_OPERATION_DURATION][1].values()
    assert sum(point["count"] for point in points) == 5


def test_a_failing_collection_of_ours_keeps_the_sdk_points(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    metrics = ProxyMetrics(provider.get_meter(*SCOPE))
    provider.get_meter("other").create_counter("still.here").add(1)
    calls(1)[0].into(metrics)

    def broken(self: aggregates.Aggregates, now: int | None = None) -> list[Any]:
        raise RuntimeError("bug")

    monkeypatch.setattr(aggregates.Aggregates, "collect", broken)
    found = exported(reader.get_metrics_data())
    assert "still.here" in found
    assert GEN_AI_CLIENT_OPERATION_DURATION not in found


@pytest.mark.parametrize("exporter", ["otlp", "console"])
def test_the_proxys_own_provider_aggregates_by_default(exporter: str) -> None:
    provider = meter_provider_from_env({"OTEL_METRICS_EXPORTER": exporter})
    try:
        assert ProxyMetrics(provider.get_meter(*SCOPE)).aggregated
    finally:
        provider.shutdown()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta"),
        (
            "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
            "base2_exponential_bucket_histogram",
        ),
    ],
)
def test_otlp_preferences_other_than_the_defaults_record_through_sdk_instruments(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    provider = meter_provider_from_env({"OTEL_METRICS_EXPORTER": "otlp"})
    try:
        assert not ProxyMetrics(provider.get_meter(*SCOPE)).aggregated
    finally:
        provider.shutdown()  # type: ignore[attr-defined]


def test_disabled_sdk_records_nothing() -> None:
    provider = meter_provider_from_env({"OTEL_SDK_DISABLED": "true"})
    metrics = ProxyMetrics(provider.get_meter(*SCOPE))
    calls(1)[0].into(metrics)
    assert not metrics.aggregated
