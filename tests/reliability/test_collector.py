"""The tracing backend down, slow or black-holed: calls keep their latency, memory stays bounded,
spans are dropped with one warning and a counter (`proxy.export.SpanQueue`)."""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

import proxy.app
import proxy.export
from proxy.export import SpanQueue, tracer_provider_from_env
from semconv import ERROR_TYPE, METRIC_LLMOBSERVE_PROXY_SPANS_DROPPED
from tests.reliability.conftest import (
    OPENAI_BODY,
    OtlpSink,
    RawUpstream,
    answer_openai_json,
    closed_port,
    stall,
)


class GatedExporter(SpanExporter):
    """Blocks every export until `gate` is set; then answers `result` (or raises)."""

    def __init__(self, result: SpanExportResult = SpanExportResult.SUCCESS) -> None:
        self.gate = threading.Event()
        self.result = result
        self.raises = False
        self.exported = 0

    def export(self, spans):
        self.gate.wait()
        if self.raises:
            raise RuntimeError("exporter bug")
        self.exported += len(spans)
        return self.result

    def shutdown(self) -> None:
        self.gate.set()


def dropped(reader: InMemoryMetricReader) -> dict[str, int]:
    data = reader.get_metrics_data()
    totals: dict[str, int] = {}
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == METRIC_LLMOBSERVE_PROXY_SPANS_DROPPED:
                    for point in metric.data.data_points:
                        totals[str(point.attributes[ERROR_TYPE])] = int(point.value)
    return totals


@pytest.fixture
def queue_parts() -> Iterator[tuple[GatedExporter, InMemoryMetricReader, TracerProvider]]:
    exporter = GatedExporter()
    reader = InMemoryMetricReader()
    provider = TracerProvider()
    yield exporter, reader, provider
    exporter.gate.set()
    provider.shutdown()


def end_spans(provider: TracerProvider, count: int) -> None:
    tracer = provider.get_tracer("test")
    for i in range(count):
        tracer.start_span(f"call {i}").end()


def test_span_queue_holds_at_most_its_size_and_counts_every_drop(queue_parts, caplog):
    exporter, reader, provider = queue_parts
    queue = SpanQueue(
        exporter,
        MeterProvider(metric_readers=[reader]),
        max_queue_size=10,
        max_export_batch_size=5,
        schedule_delay=0.01,
    )
    provider.add_span_processor(queue)
    with caplog.at_level(logging.WARNING, logger="proxy.export"):
        end_spans(provider, 5)
        time.sleep(0.1)  # the worker takes these 5 and blocks exporting them
        end_spans(provider, 95)
    assert len(queue._queue) == 10  # bounded: 5 exporting + 10 queued, 85 dropped
    assert queue.dropped == 85
    assert dropped(reader) == {"queue_full": 85}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert METRIC_LLMOBSERVE_PROXY_SPANS_DROPPED in warnings[0].getMessage()
    exporter.gate.set()
    assert queue.force_flush(2000)
    assert exporter.exported == 15


def test_span_queue_counts_failed_and_raising_exports_and_never_raises(queue_parts):
    exporter, reader, provider = queue_parts
    exporter.result = SpanExportResult.FAILURE
    exporter.gate.set()
    queue = SpanQueue(exporter, MeterProvider(metric_readers=[reader]), schedule_delay=0.01)
    provider.add_span_processor(queue)
    end_spans(provider, 3)
    assert queue.force_flush(2000)
    exporter.raises = True
    end_spans(provider, 2)  # the caller ending spans never sees the exporter's error
    assert queue.force_flush(2000)
    assert dropped(reader) == {"export_failed": 5}


def test_span_queue_flush_and_shutdown_are_bounded_when_the_exporter_hangs(queue_parts):
    exporter, _, provider = queue_parts
    queue = SpanQueue(exporter, max_queue_size=100, max_export_batch_size=1, schedule_delay=0.01)
    provider.add_span_processor(queue)
    end_spans(provider, 10)
    started = time.monotonic()
    assert queue.force_flush(200) is False
    assert time.monotonic() - started < 0.5


def test_span_queue_is_what_the_proxy_exports_with_and_reads_otel_bsp_variables(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    provider = tracer_provider_from_env(
        environ={"OTEL_BSP_MAX_QUEUE_SIZE": "7", "OTEL_BSP_SCHEDULE_DELAY": "bad"}
    )
    (queue,) = provider._active_span_processor._span_processors
    assert isinstance(queue, SpanQueue)
    assert (queue._max_queue, queue._delay) == (7, 5.0)
    provider.shutdown()


# The proxy under load with each backend fault. A fast upstream answers every call; the
# number to watch is the proxied call's latency, which must not depend on the backend.

CALLS, CONCURRENCY = 400, 8


def latencies(url: str) -> list[float]:
    def call(client: httpx.Client) -> float:
        started = time.perf_counter()
        response = client.post(f"{url}/openai/v1/chat/completions", json=OPENAI_BODY)
        assert response.status_code == 200, response.text
        return time.perf_counter() - started

    with httpx.Client(timeout=10, limits=httpx.Limits(max_connections=CONCURRENCY)) as client:
        for _ in range(20):  # warm up connections
            call(client)
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            return list(pool.map(lambda _: call(client), range(CALLS)))


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


@pytest.fixture
def backend_fault(request, monkeypatch):
    """Where the proxy's OTLP exporter sends spans: a healthy sink or a faulty backend."""
    monkeypatch.setattr(proxy.app, "SHUTDOWN_FLUSH_MILLIS", 200)
    monkeypatch.setattr(proxy.export, "SHUTDOWN_FLUSH_MILLIS", 200)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2")
    kind = request.param
    if kind == "healthy":
        with OtlpSink() as sink:
            yield kind, sink.url
    elif kind == "slow":
        with OtlpSink(delay=1.0) as sink:
            yield kind, sink.url
    elif kind == "black_holed":
        with RawUpstream(stall) as hole:
            yield kind, hole.url
    else:
        yield kind, f"http://127.0.0.1:{closed_port()}"


def run_with_backend(run_proxy, monkeypatch, backend_url: str) -> tuple[list[float], object]:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", backend_url)
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    provider = tracer_provider_from_env(
        meters,
        environ={
            "OTEL_BSP_MAX_QUEUE_SIZE": "64",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "16",
            "OTEL_BSP_SCHEDULE_DELAY": "50",
        },
    )
    with RawUpstream(answer_openai_json) as upstream:
        running = run_proxy(
            upstream_overrides={"api.openai.com": upstream.url}, tracer_provider=provider
        )
        values = latencies(running.url)
    provider.shutdown()
    return values, (reader, provider)


@pytest.fixture(scope="module")
def healthy_p99() -> dict[str, float]:
    return {}


@pytest.mark.parametrize("backend_fault", ["healthy", "down", "slow", "black_holed"], indirect=True)
def test_proxied_calls_keep_their_latency_whatever_the_backend_does(
    run_proxy, monkeypatch, backend_fault, healthy_p99, caplog
):
    kind, url = backend_fault
    with caplog.at_level(logging.WARNING, logger="proxy.export"):
        values, (reader, _) = run_with_backend(run_proxy, monkeypatch, url)
    observed = p99(values)
    if kind == "healthy":
        healthy_p99["p99"] = observed
        # A healthy sink never fails an export. (A queue of 64 may still overflow for a moment
        # when other work starves the export thread of CPU: that is the bound doing its job.)
        assert "export_failed" not in dropped(reader)
        return
    baseline = healthy_p99.get("p99")
    assert baseline is not None, "the healthy case runs first"
    # Generous: client, proxy and servers share one process and two cores here, so p99 is noisy
    # (27-82 ms healthy on a quiet machine, several times that under load). What this catches
    # is a call waiting on export, which costs seconds (the exporter's 2 s timeout);
    # bench/reliability/collector.py measures the gap on separate processes.
    assert observed < max(3 * baseline, baseline + 0.5), (kind, observed, baseline)
    if kind != "slow":  # a slow backend may keep up with this load; the others cannot
        drops = dropped(reader)
        assert sum(drops.values()) > 0
        assert len([r for r in caplog.records if "span export is failing" in r.getMessage()]) == 1
