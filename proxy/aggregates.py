"""The proxy's metrics, aggregated in plain dicts and turned into OpenTelemetry points when read.

Recording through SDK instruments costs each measurement a `Measurement`, attribute cleaning
and hashing, an exemplar decision and two locks: some 40 µs of CPU for the 4-5 measurements of
one call (docs/benchmarks.md). Here a call costs one dict lookup on its attribute tuple, a
`bisect` and a few additions per histogram, a `Decimal` addition for its cost, and one
uncontended lock. `Aggregates.collect` builds the same points the SDK's cumulative explicit-
bucket histograms and sums would (per attribute set: start time of its first measurement,
bucket counts, count, sum, min, max), so exporters and backends see no difference.

Cost is summed as `Decimal` and becomes a float only in the exported point: the SDK sums
floats, which drifts from the span costs' total after enough calls.
"""

from __future__ import annotations

import logging
import math
import threading
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from time import time_ns

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    Sum,
)
from opentelemetry.util.types import AttributeValue

from pricing import TokenUsage
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

Attributes = dict[str, AttributeValue]
AttributeKey = tuple[tuple[str, AttributeValue], ...]


@dataclass(frozen=True)
class InstrumentSpec:
    """What identifies one exported metric stream, shared by both ways of recording it."""

    name: str
    unit: str
    description: str
    buckets: Sequence[float] | None = None


TOKEN_USAGE = InstrumentSpec(
    GEN_AI_CLIENT_TOKEN_USAGE,
    "{token}",
    "Tokens used per call, by gen_ai.token.type",
    TOKEN_BUCKETS,
)
DURATION = InstrumentSpec(
    GEN_AI_CLIENT_OPERATION_DURATION,
    "s",
    "Duration of provider calls through the proxy",
    DURATION_BUCKETS,
)
FIRST_CHUNK = InstrumentSpec(
    GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
    "s",
    "Time to the first body chunk of streamed responses",
    DURATION_BUCKETS,
)
COST = InstrumentSpec(
    METRIC_LLMOBSERVE_COST, METRIC_LLMOBSERVE_COST_UNIT, "USD cost of priced calls"
)
UNPRICED = InstrumentSpec(
    METRIC_LLMOBSERVE_CALLS_UNPRICED,
    METRIC_LLMOBSERVE_CALLS_UNPRICED_UNIT,
    "Metered calls that could not be priced",
)


class _Histogram:
    """One explicit-bucket histogram series; a value on a boundary counts in the bucket below
    it, as the SDK's `bisect_left` does."""

    __slots__ = ("bounds", "counts", "max", "min", "start", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum: float = 0
        self.min: float = math.inf
        self.max: float = -math.inf
        self.start = time_ns()

    def add(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.min = min(self.min, value)
        self.max = max(self.max, value)

    def point(self, attributes: Attributes, now: int) -> HistogramDataPoint:
        counts = tuple(self.counts)
        return HistogramDataPoint(
            attributes=attributes,
            start_time_unix_nano=self.start,
            time_unix_nano=now,
            count=sum(counts),
            sum=self.sum,
            bucket_counts=counts,
            explicit_bounds=self.bounds,
            min=self.min,
            max=self.max,
        )


class _Row:
    """Every series of one attribute set; a series exists from its first measurement on."""

    __slots__ = (
        "attributes",
        "cost",
        "cost_start",
        "duration",
        "first_chunk",
        "input_tokens",
        "output_tokens",
        "unpriced",
    )

    def __init__(self, attributes: Attributes) -> None:
        self.attributes = attributes
        self.duration: _Histogram | None = None
        self.first_chunk: _Histogram | None = None
        self.input_tokens: _Histogram | None = None
        self.output_tokens: _Histogram | None = None
        self.cost: Decimal | None = None
        self.cost_start = 0
        self.unpriced: dict[str, list[int]] = {}  # status -> [calls, start time]


_DURATION_BOUNDS = tuple(DURATION_BUCKETS)
_TOKEN_BOUNDS = tuple(TOKEN_BUCKETS)


def _valid(value: float, instrument: InstrumentSpec) -> bool:
    # The SDK drops negative and non-finite values with a warning; so do we.
    if 0 <= value < math.inf:
        return True
    log.warning("%s: ignoring the value %r (negative or not finite)", instrument.name, value)
    return False


class Aggregates:
    """Cumulative aggregates of the proxy's metrics, keyed by the attribute tuple.

    `add` runs on the event loop; `collect` on an exporting thread. One lock keeps a collected
    point consistent (its count, sum and buckets from the same calls); both hold it briefly.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Keyed as the caller's dicts iterate; rows of equal attribute sets in another key
        # order are the same `_Row` (`_by_set`), as the SDK's attribute hashing makes them.
        self._rows: dict[AttributeKey, _Row] = {}
        self._by_set: dict[frozenset[tuple[str, type, AttributeValue]], _Row] = {}

    def add(
        self,
        key: AttributeKey,
        *,
        duration: float,
        first_chunk: float | None,
        usage: TokenUsage | None,
        cost: Decimal | None,
        cost_status: str | None,
    ) -> None:
        with self._lock:
            row = self._row(key)
            if _valid(duration, DURATION):
                if row.duration is None:
                    row.duration = _Histogram(_DURATION_BOUNDS)
                row.duration.add(duration)
            if first_chunk is not None and _valid(first_chunk, FIRST_CHUNK):
                if row.first_chunk is None:
                    row.first_chunk = _Histogram(_DURATION_BOUNDS)
                row.first_chunk.add(first_chunk)
            if usage is not None:
                self._add_usage(row, usage)
            if cost is not None:
                if not (cost.is_finite() and cost >= 0):
                    log.warning(
                        "%s: ignoring the value %s (negative or not finite)", COST.name, cost
                    )
                elif row.cost is None:
                    row.cost, row.cost_start = cost, time_ns()
                else:
                    row.cost += cost
            elif cost_status is not None:
                calls = row.unpriced.get(cost_status)
                if calls is None:
                    row.unpriced[cost_status] = [1, time_ns()]
                else:
                    calls[0] += 1

    @staticmethod
    def _add_usage(row: _Row, usage: TokenUsage) -> None:
        if _valid(usage.input_tokens, TOKEN_USAGE):
            if row.input_tokens is None:
                row.input_tokens = _Histogram(_TOKEN_BOUNDS)
            row.input_tokens.add(usage.input_tokens)
        if _valid(usage.output_tokens, TOKEN_USAGE):
            if row.output_tokens is None:
                row.output_tokens = _Histogram(_TOKEN_BOUNDS)
            row.output_tokens.add(usage.output_tokens)

    def _row(self, key: AttributeKey) -> _Row:
        try:
            return self._rows.get(key) or self._new_row(key)
        except TypeError:  # an unhashable (list) value: the SDK keeps it as a tuple
            key = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in key)
            return self._rows.get(key) or self._new_row(key)

    def _new_row(self, key: AttributeKey) -> _Row:
        attributes = dict(key)  # later pairs win: attribution over dimensions, as `update`
        identity = frozenset((k, type(v), v) for k, v in attributes.items())
        row = self._by_set.get(identity)
        if row is None:
            row = self._by_set[identity] = _Row(attributes)
        self._rows[key] = row
        return row

    def collect(self, now: int | None = None) -> list[Metric]:
        """The metrics with at least one point, each point cumulative since its series began."""
        now = time_ns() if now is None else now
        tokens: list[HistogramDataPoint] = []
        durations: list[HistogramDataPoint] = []
        first_chunks: list[HistogramDataPoint] = []
        costs: list[NumberDataPoint] = []
        unpriced: list[NumberDataPoint] = []
        with self._lock:
            for row in list(self._by_set.values()):
                attrs = row.attributes
                if row.input_tokens is not None:
                    typed = {**attrs, GEN_AI_TOKEN_TYPE: GenAiTokenTypeValues.INPUT}
                    tokens.append(row.input_tokens.point(typed, now))
                if row.output_tokens is not None:
                    typed = {**attrs, GEN_AI_TOKEN_TYPE: GenAiTokenTypeValues.OUTPUT}
                    tokens.append(row.output_tokens.point(typed, now))
                if row.duration is not None:
                    durations.append(row.duration.point(dict(attrs), now))
                if row.first_chunk is not None:
                    first_chunks.append(row.first_chunk.point(dict(attrs), now))
                if row.cost is not None:
                    costs.append(_number(dict(attrs), row.cost_start, now, float(row.cost)))
                for status, (calls, start) in row.unpriced.items():
                    status_attrs = {**attrs, LLMOBSERVE_COST_STATUS: status}
                    unpriced.append(_number(status_attrs, start, now, calls))
        metrics = [
            _histogram(TOKEN_USAGE, tokens),
            _histogram(DURATION, durations),
            _histogram(FIRST_CHUNK, first_chunks),
            _counter(COST, costs),
            _counter(UNPRICED, unpriced),
        ]
        return [metric for metric in metrics if metric is not None]


def _number(attributes: Attributes, start: int, now: int, value: float) -> NumberDataPoint:
    return NumberDataPoint(
        attributes=attributes, start_time_unix_nano=start, time_unix_nano=now, value=value
    )


def _histogram(spec: InstrumentSpec, points: list[HistogramDataPoint]) -> Metric | None:
    if not points:
        return None
    data = Histogram(data_points=points, aggregation_temporality=AggregationTemporality.CUMULATIVE)
    return Metric(name=spec.name, description=spec.description, unit=spec.unit, data=data)


def _counter(spec: InstrumentSpec, points: list[NumberDataPoint]) -> Metric | None:
    if not points:
        return None
    data = Sum(
        data_points=points,
        aggregation_temporality=AggregationTemporality.CUMULATIVE,
        is_monotonic=True,
    )
    return Metric(name=spec.name, description=spec.description, unit=spec.unit, data=data)
