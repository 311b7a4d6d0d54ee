"""The proxy's metrics: GenAI client metrics (OpenTelemetry conventions) and cost counters.

`gen_ai.client.token.usage`, `gen_ai.client.operation.duration` and
`gen_ai.client.operation.time_to_first_chunk` use the bucket boundaries the GenAI metric
conventions give. Customer id and section path are dimensions only when
`LLMOBSERVE_METRICS_ATTRIBUTION=true`: they are unbounded (cardinality).

Two ways to record, one output. When every reader of the meter's SDK provider wants what the
proxy's metrics are by default (cumulative, explicit buckets, no views, no exemplars), calls
are aggregated in `proxy.aggregates` and its points join each reader's collection: a few µs a
call instead of some 40. Any other configuration (delta temporality, exponential histograms,
exemplars always on, a view, a meter that is not the SDK's; docs/otel.md names the variables)
records through SDK instruments, as the SDK then defines the output.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, cast
from weakref import WeakKeyDictionary

from opentelemetry.metrics import Meter, MeterProvider, NoOpMeter, NoOpMeterProvider
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, TraceBasedExemplarFilter
from opentelemetry.sdk.metrics import Counter as SdkCounter
from opentelemetry.sdk.metrics import Histogram as SdkHistogram
from opentelemetry.sdk.metrics import Meter as SdkMeter
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ConsoleMetricExporter,
    Metric,
    MetricReader,
    MetricsData,
    PeriodicExportingMetricReader,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.metrics.view import (
    DefaultAggregation,
    ExplicitBucketHistogramAggregation,
    SumAggregation,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.util.types import AttributeValue

from llmobserve.exporting import build_resource
from pricing import TokenUsage
from proxy.aggregates import (
    COST,
    DURATION,
    DURATION_BUCKETS,
    FIRST_CHUNK,
    TOKEN_BUCKETS,
    TOKEN_USAGE,
    UNPRICED,
    Aggregates,
)
from proxy.protocol import SERVICE_NAME
from semconv import GEN_AI_TOKEN_TYPE, LLMOBSERVE_COST_STATUS, GenAiTokenTypeValues

__all__ = ["DURATION_BUCKETS", "TOKEN_BUCKETS", "ProxyMetrics", "meter_provider_from_env"]

log = logging.getLogger(__name__)


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
    """Records one proxied call's measurements; `meter` is where they are exported from.

    >>> metrics = ProxyMetrics(NoOpMeter("llmobserve.proxy"))
    >>> metrics.record({}, {}, duration=0.5, first_chunk=None, usage=None, cost=None,
    ...                cost_status=None)
    """

    def __init__(self, meter: Meter, *, attribution: bool = False) -> None:
        self._attribution = attribution
        self._aggregates: Aggregates | None = None
        self._instruments: _Instruments | None = None
        if isinstance(meter, NoOpMeter):
            return  # nothing would read the measurements
        readers = _readers_exporting_as_defined(meter)
        if readers is None:
            self._instruments = _Instruments(meter)
        elif readers:
            self._aggregates = _shared_aggregates(meter, readers)

    @property
    def aggregated(self) -> bool:
        """Whether calls are aggregated in-process (`proxy.aggregates`), not recorded through
        SDK instruments or dropped for want of a reader."""
        return self._aggregates is not None

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
        aggregates = self._aggregates
        if aggregates is not None:
            key = tuple(dimensions.items())
            if self._attribution and attribution:
                key += tuple(attribution.items())
            aggregates.add(
                key,
                duration=duration,
                first_chunk=first_chunk,
                usage=usage,
                cost=cost,
                cost_status=cost_status,
            )
        elif self._instruments is not None:
            attributes = dict(dimensions)
            if self._attribution:
                attributes.update(attribution)
            self._instruments.record(
                attributes,
                duration=duration,
                first_chunk=first_chunk,
                usage=usage,
                cost=cost,
                cost_status=cost_status,
            )


def _readers_exporting_as_defined(meter: Meter) -> list[MetricReader] | None:
    """The readers collecting an SDK `meter` when each wants the proxy's metrics exactly as
    `proxy.aggregates` builds them; None when one does not, or the meter is not the SDK's.

    The SDK has no public way to add points to a reader's collection (no `MetricProducer` in
    1.45), so this reads the SDK's private state; anything unexpected there means None, the
    instruments path, which is slower but as correct.
    """
    if not isinstance(meter, SdkMeter):
        return None
    try:
        consumer: Any = meter._measurement_consumer
        config = consumer._sdk_config
        readers: list[MetricReader] = list(consumer._reader_storages)
        if list(config.views) or not isinstance(
            config.exemplar_filter, TraceBasedExemplarFilter | AlwaysOffExemplarFilter
        ):
            return None
        return readers if all(_exports_as_defined(reader) for reader in readers) else None
    except AttributeError:
        log.warning("unexpected OpenTelemetry SDK internals; recording through instruments")
        return None


def _exports_as_defined(reader: MetricReader) -> bool:
    temporality = reader._instrument_class_temporality
    aggregation = reader._instrument_class_aggregation
    ours = [kind for kind in temporality if issubclass(kind, SdkCounter | SdkHistogram)]
    return (
        len(ours) == 2
        and reader._collect is not None
        and all(temporality[kind] is AggregationTemporality.CUMULATIVE for kind in ours)
        and all(_aggregates_as_defined(aggregation.get(kind)) for kind in ours)
    )


def _aggregates_as_defined(aggregation: object) -> bool:
    """The SDK default, or what it amounts to for our instruments: the OTLP exporters ask
    for `ExplicitBucketHistogramAggregation()`, which takes the advisory boundaries too."""
    if isinstance(aggregation, ExplicitBucketHistogramAggregation):
        return (
            type(aggregation) is ExplicitBucketHistogramAggregation
            and aggregation._boundaries is None
            and aggregation._record_min_max
        )
    return type(aggregation) in (DefaultAggregation, SumAggregation)


_SHARED: WeakKeyDictionary[Meter, Aggregates] = WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def _shared_aggregates(meter: Meter, readers: list[MetricReader]) -> Aggregates:
    """One `Aggregates` per meter, as the SDK gives every `ProxyMetrics` on one meter the same
    instruments; its points join each reader's collections from now on."""
    with _SHARED_LOCK:
        aggregates = _SHARED.get(meter)
        if aggregates is None:
            aggregates = _SHARED[meter] = Aggregates()
            scope: InstrumentationScope = meter._instrumentation_scope  # type: ignore[attr-defined]
            resource: Resource = meter._measurement_consumer._sdk_config.resource  # type: ignore[attr-defined]
            for reader in readers:
                sdk_collect = cast(Callable[..., MetricsData | None], reader._collect)
                collect = _CollectWithAggregates(sdk_collect, aggregates, scope, resource)
                reader._set_collect_callback(collect)  # type: ignore[arg-type]
        return aggregates


class _CollectWithAggregates:
    """A reader's collect callback: the SDK's collection, plus our points under our scope."""

    def __init__(
        self,
        collect: Callable[..., MetricsData | None],
        aggregates: Aggregates,
        scope: InstrumentationScope,
        resource: Resource,
    ) -> None:
        self._collect = collect
        self._aggregates = aggregates
        self._scope = scope
        self._resource = resource
        self._failed = False

    def __call__(self, reader: MetricReader, timeout_millis: float = 10_000) -> MetricsData | None:
        data = self._collect(reader, timeout_millis=timeout_millis)
        try:
            metrics = self._aggregates.collect()
            return _merged(data, self._resource, self._scope, metrics) if metrics else data
        except Exception:  # telemetry never breaks the host; the SDK's own points still go
            if not self._failed:
                self._failed = True
                log.exception("could not collect the proxy's metrics")
            return data


def _merged(
    data: MetricsData | None,
    resource: Resource,
    scope: InstrumentationScope,
    metrics: list[Metric],
) -> MetricsData:
    """`data` with `metrics` in `scope`'s entry, where the SDK would have put them."""
    ours = ScopeMetrics(scope=scope, metrics=metrics, schema_url=scope.schema_url or "")
    if data is None or not data.resource_metrics:
        return MetricsData([ResourceMetrics(resource, [ours], resource.schema_url)])
    first, *others = data.resource_metrics
    scopes = list(first.scope_metrics)
    for index, entry in enumerate(scopes):
        if entry.scope == scope:
            scopes[index] = ScopeMetrics(scope, [*entry.metrics, *metrics], entry.schema_url)
            break
    else:
        scopes.append(ours)
    return MetricsData([ResourceMetrics(first.resource, scopes, first.schema_url), *others])


class _Instruments:
    """The proxy's metrics through SDK instruments, for configurations `Aggregates` does not
    reproduce."""

    def __init__(self, meter: Meter) -> None:
        self._tokens = meter.create_histogram(
            TOKEN_USAGE.name,
            unit=TOKEN_USAGE.unit,
            description=TOKEN_USAGE.description,
            explicit_bucket_boundaries_advisory=TOKEN_USAGE.buckets,
        )
        self._duration = meter.create_histogram(
            DURATION.name,
            unit=DURATION.unit,
            description=DURATION.description,
            explicit_bucket_boundaries_advisory=DURATION.buckets,
        )
        self._first_chunk = meter.create_histogram(
            FIRST_CHUNK.name,
            unit=FIRST_CHUNK.unit,
            description=FIRST_CHUNK.description,
            explicit_bucket_boundaries_advisory=FIRST_CHUNK.buckets,
        )
        self._cost = meter.create_counter(COST.name, unit=COST.unit, description=COST.description)
        self._unpriced = meter.create_counter(
            UNPRICED.name, unit=UNPRICED.unit, description=UNPRICED.description
        )

    def record(
        self,
        attributes: dict[str, AttributeValue],
        *,
        duration: float,
        first_chunk: float | None,
        usage: TokenUsage | None,
        cost: Decimal | None,
        cost_status: str | None,
    ) -> None:
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
