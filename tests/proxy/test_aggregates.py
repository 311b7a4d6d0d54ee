"""`Aggregates`: exact cost sums, consistent points under concurrent collection, attribute sets."""

from __future__ import annotations

import threading
from decimal import Decimal

from opentelemetry.sdk.metrics.export import HistogramDataPoint, Metric, NumberDataPoint

from pricing import TokenUsage
from proxy.aggregates import Aggregates
from semconv import (
    GEN_AI_CLIENT_OPERATION_DURATION,
    GEN_AI_PROVIDER_NAME,
    LLMOBSERVE_SECTION_PATH,
    METRIC_LLMOBSERVE_COST,
)

KEY = ((GEN_AI_PROVIDER_NAME, "openai"),)


def add(aggregates: Aggregates, key: tuple = KEY, *, cost: Decimal | None = None) -> None:
    aggregates.add(
        key,
        duration=0.5,
        first_chunk=None,
        usage=TokenUsage(input_tokens=3, output_tokens=1),
        cost=cost,
        cost_status="priced" if cost is not None else None,
    )


def by_name(metrics: list[Metric]) -> dict[str, list[HistogramDataPoint | NumberDataPoint]]:
    return {metric.name: list(metric.data.data_points) for metric in metrics}


def test_cost_counter_is_the_exact_decimal_total_where_float_sums_drift() -> None:
    aggregates = Aggregates()
    for _ in range(100_000):
        add(aggregates, cost=Decimal("0.1"))
    (point,) = by_name(aggregates.collect())[METRIC_LLMOBSERVE_COST]
    assert isinstance(point, NumberDataPoint)
    assert point.value == 10_000.0
    assert sum([0.1] * 100_000) != 10_000.0  # what the SDK's float sum would report


def test_collect_while_recording_gives_consistent_points() -> None:
    aggregates = Aggregates()
    done = threading.Event()
    seen: list[tuple[int, float, float]] = []

    def read() -> None:
        while not done.is_set():
            found = by_name(aggregates.collect())
            if found:
                (duration,) = found[GEN_AI_CLIENT_OPERATION_DURATION]
                (cost,) = found[METRIC_LLMOBSERVE_COST]
                assert isinstance(duration, HistogramDataPoint)
                assert isinstance(cost, NumberDataPoint)
                seen.append((duration.count, duration.sum, cost.value))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(30_000):
            add(aggregates, cost=Decimal("0.25"))
    finally:
        done.set()
        reader.join()
    assert seen
    for count, seconds, usd in seen:
        assert (seconds, usd) == (count * 0.5, count * 0.25)


def test_points_are_cumulative_from_the_first_measurement_of_their_series() -> None:
    aggregates = Aggregates()
    add(aggregates)
    (first,) = by_name(aggregates.collect())[GEN_AI_CLIENT_OPERATION_DURATION]
    add(aggregates)
    (second,) = by_name(aggregates.collect())[GEN_AI_CLIENT_OPERATION_DURATION]
    assert isinstance(second, HistogramDataPoint)
    assert second.start_time_unix_nano == first.start_time_unix_nano
    assert second.time_unix_nano >= first.time_unix_nano
    assert second.count == 2


def test_list_attribute_values_form_one_series_with_a_tuple_value() -> None:
    aggregates = Aggregates()
    for _ in range(2):
        add(aggregates, ((LLMOBSERVE_SECTION_PATH, ["agent", "tool"]), *KEY))
    add(aggregates, (*KEY, (LLMOBSERVE_SECTION_PATH, ("agent", "tool"))))
    (point,) = by_name(aggregates.collect())[GEN_AI_CLIENT_OPERATION_DURATION]
    assert isinstance(point, HistogramDataPoint)
    assert point.count == 3
    assert point.attributes[LLMOBSERVE_SECTION_PATH] == ("agent", "tool")


def test_nothing_recorded_exports_no_metric() -> None:
    assert Aggregates().collect() == []
