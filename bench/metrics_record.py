"""CPU per `ProxyMetrics.record` call: in-process aggregates against SDK instruments.

Both record one typical call (6 dimensions, token usage, a cost; optionally a stream's time to
first chunk) into a `MeterProvider` with one periodic reader, as the proxy serves. The caller's
own dict is built in the loop and measured apart, then subtracted. Best of 5 rounds of
`process_time`, so other processes on the machine matter less than for wall-clock timings.

`python -m bench.metrics_record [--calls 50000]`
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable
from decimal import Decimal

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.util.types import AttributeValue

from pricing import TokenUsage
from proxy.metrics import ProxyMetrics, _Instruments
from semconv import (
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_MODEL,
    SERVER_ADDRESS,
    SERVER_PORT,
)

USAGE = TokenUsage(input_tokens=12, output_tokens=7)
COST = Decimal("0.000006")


def dimensions() -> dict[str, AttributeValue]:
    return {
        GEN_AI_OPERATION_NAME: "chat",
        GEN_AI_PROVIDER_NAME: "openai",
        GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
        SERVER_ADDRESS: "api.openai.com",
        SERVER_PORT: 443,
        GEN_AI_RESPONSE_MODEL: "gpt-4o-mini-2024-07-18",
    }


def best_seconds(loop: Callable[[], None], rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        loop()
        best = min(best, time.process_time() - started)
    return best


def microseconds_per_call(
    record: Callable[[float | None], None], calls: int, stream: bool
) -> float:
    first_chunk = 0.05 if stream else None

    def with_record() -> None:
        for _ in range(calls):
            record(first_chunk)

    def dict_only() -> None:
        for _ in range(calls):
            dimensions()

    return (best_seconds(with_record) - best_seconds(dict_only)) / calls * 1e6


def provider() -> MeterProvider:
    reader = PeriodicExportingMetricReader(
        ConsoleMetricExporter(out=io.StringIO()), export_interval_millis=10**9
    )
    return MeterProvider(metric_readers=[reader])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=50_000)
    calls = parser.parse_args().calls
    aggregated = ProxyMetrics(provider().get_meter("llmobserve.proxy", "bench"))
    assert aggregated.aggregated
    instruments = _Instruments(provider().get_meter("llmobserve.proxy", "bench"))

    def ours(first_chunk: float | None) -> None:
        aggregated.record(
            dimensions(),
            {},
            duration=0.123,
            first_chunk=first_chunk,
            usage=USAGE,
            cost=COST,
            cost_status="priced",
        )

    def sdk(first_chunk: float | None) -> None:
        instruments.record(
            dimensions(),
            duration=0.123,
            first_chunk=first_chunk,
            usage=USAGE,
            cost=COST,
            cost_status="priced",
        )

    for stream in (False, True):
        for name, record in (("aggregates", ours), ("SDK instruments", sdk)):
            per_call = microseconds_per_call(record, calls, stream=stream)
            print(f"{'stream' if stream else 'json'}  {name:16} {per_call:6.2f} µs/call")


if __name__ == "__main__":
    main()
