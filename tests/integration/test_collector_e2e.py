"""Through our Collector: the README example -> proxy process -> the Collector built from
deploy/otelcol-builder.yaml, running otel-collector-config.yaml -> Jaeger (and a Tempo stand-in);
cost metrics scraped from the Collector's Prometheus endpoint."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from llmobserve._servers import free_port
from tests.integration.conftest import (
    Collector,
    Jaeger,
    OtlpSink,
    offline_env,
    parse_prometheus,
    start_proxy_process,
    start_simulator_process,
)
from tests.integration.test_jaeger_e2e import ancestors, readme_example, tags, wait_for_trace

pytestmark = pytest.mark.integration

# As the Prometheus exporter names the metrics otel-collector-config.yaml defines.
COST = "llmobserve_spans_cost_USD_total"
ATTRIBUTED_COST = "llmobserve_spans_attributed_cost_USD_total"
CALLS = "llmobserve_spans_calls_total"

OPENAI = ("openai", "gpt-4o-mini")
ANTHROPIC = ("anthropic", "claude-3-haiku-20240307")
# The simulator's usage for "Hello": 12 input and 7 output tokens.
# gpt-4o-mini: 12 x $0.15/M + 7 x $0.60/M; claude-3-haiku: 12 x $0.25/M + 7 x $1.25/M.
EXPECTED_COST = {OPENAI: Decimal("0.000006"), ANTHROPIC: Decimal("0.00001175")}
RUNS = range(2)


Sample = tuple[dict[str, str], float]


@dataclass
class Run:
    traces: list[dict[str, Any]]
    collector: Collector
    tempo: OtlpSink


def run_readme_example(jaeger: Jaeger, collector: Collector, simulator_url: str) -> dict[str, Any]:
    """The README example through a proxy process, both sending OTLP to the Collector only;
    returns the run's one trace as Jaeger has it."""
    proxy_url, proxy = start_proxy_process(simulator_url, collector.otlp_url)
    service = f"e2e-collector-{uuid.uuid4().hex[:8]}"
    env = {
        **offline_env(),
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "OTEL_SERVICE_NAME": service,
    }
    try:
        subprocess.run(
            [sys.executable, "-c", readme_example(collector.otlp_url, proxy_url)],
            env=env,
            check=True,
            timeout=60,
        )
        # 3 sections + 2 HTTP client spans + the anthropic SDK's own span + 2 proxy spans.
        traces = wait_for_trace(jaeger, service, 8)
    finally:
        proxy.stop()
    assert len(traces) == 1, "everything belongs to one trace"
    return dict(traces[0])


@pytest.fixture(scope="module")
def run(jaeger: Jaeger) -> Iterator[Run]:
    """The README example, run twice (two proxy processes, two traces, exported in separate
    batches) through one fresh Collector; shared by the checks below."""
    with OtlpSink() as tempo:
        collector = Collector(jaeger.otlp_url, tempo.url)  # fails or skips before anything starts
        simulator_url, simulator = start_simulator_process()
        try:
            traces = [run_readme_example(jaeger, collector, simulator_url) for _ in RUNS]
            yield Run(traces, collector, tempo)
        finally:
            collector.service.stop()
            simulator.stop()


def scrape(collector: Collector, name: str, until: Callable[[list[Sample]], bool]) -> list[Sample]:
    """(labels, value) of each series of `name`, polled until `until` holds (or 30 s pass:
    the caller's assertions then say what is wrong). span_metrics first exposes a new series
    at 0 and counts it one flush later, so callers wait for values, not for series."""
    deadline = time.monotonic() + 30
    while True:
        found = [
            (labels, value)
            for n, labels, value in parse_prometheus(collector.metrics())
            if n == name
        ]
        if until(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def span_costs(*traces: dict[str, Any]) -> dict[tuple[str, str], Decimal]:
    """Sum of `gen_ai.usage.cost` over the traces' spans, by provider and request model."""
    costs: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for span in (span for trace in traces for span in trace["spans"]):
        span_tags = tags(span)
        if "gen_ai.usage.cost" in span_tags:
            key = (span_tags["gen_ai.provider.name"], span_tags["gen_ai.request.model"])
            costs[key] += Decimal(str(span_tags["gen_ai.usage.cost"]))
    return dict(costs)


def test_collector_forwards_the_whole_priced_hierarchy_to_jaeger(run: Run) -> None:
    for trace in run.traces:
        by_id = {span["spanID"]: span for span in trace["spans"]}
        by_name = {span["operationName"]: span for span in trace["spans"]}
        services = {pid: p["serviceName"] for pid, p in trace["processes"].items()}

        openai_span = by_name["chat gpt-4o-mini"]
        anthropic_span = by_name["chat claude-3-haiku-20240307"]
        assert services[openai_span["processID"]] == "llmobserve-proxy"
        assert services[anthropic_span["processID"]] == "llmobserve-proxy"
        assert ancestors(openai_span, by_id)[-3:] == [
            "POST",
            "execute_tool openai_call",
            "invoke_agent multi_llm_agent",
        ]
        assert ancestors(anthropic_span, by_id)[-3:] == [
            "anthropic.messages.create",
            "execute_tool anthropic_call",
            "invoke_agent multi_llm_agent",
        ]
        assert span_costs(trace) == EXPECTED_COST
        for span in (openai_span, anthropic_span):
            assert tags(span)["llmobserve.customer.id"] == "customer-123"


def test_collector_also_exports_the_traces_to_the_tempo_pipeline(run: Run) -> None:
    spans = sum(len(trace["spans"]) for trace in run.traces)
    deadline = time.monotonic() + 30
    while len(run.tempo.span_names) < spans and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sorted(run.tempo.span_names) == sorted(
        span["operationName"] for trace in run.traces for span in trace["spans"]
    )


def test_collector_cost_metric_equals_the_sum_of_the_span_costs(run: Run) -> None:
    total = span_costs(*run.traces)
    assert total == {key: cost * len(RUNS) for key, cost in EXPECTED_COST.items()}

    def cost_by_model(found: list[Sample]) -> dict[tuple[str, str], float]:
        return {
            (labels["gen_ai_provider_name"], labels["gen_ai_request_model"]): value
            for labels, value in found
        }

    series = scrape(
        run.collector,
        COST,
        until=lambda found: cost_by_model(found) == {k: float(v) for k, v in total.items()},
    )
    exposed = cost_by_model(series)
    assert set(exposed) == set(total)
    for key, cost in total.items():
        assert math.isclose(exposed[key], float(cost), rel_tol=1e-12), (key, exposed[key], cost)
    openai_labels = next(
        labels for labels, _ in series if labels["gen_ai_provider_name"] == "openai"
    )
    assert openai_labels["gen_ai_response_model"] == "gpt-4o-mini-2024-07-18"
    assert openai_labels["job"] == "llmobserve-proxy"


def test_collector_attributes_cost_to_customer_and_section(run: Run) -> None:
    total = span_costs(*run.traces)
    expected = {
        "agent:multi_llm_agent/tool:openai_call": float(total[OPENAI]),
        "agent:multi_llm_agent/tool:anthropic_call": float(total[ANTHROPIC]),
    }

    def cost_by_section(found: list[Sample]) -> dict[str, float]:
        return {labels["llmobserve_section_path"]: value for labels, value in found}

    series = scrape(
        run.collector, ATTRIBUTED_COST, until=lambda found: cost_by_section(found) == expected
    )
    assert cost_by_section(series) == expected
    assert {labels["llmobserve_customer_id"] for labels, _ in series} == {"customer-123"}


def test_collector_counts_calls_by_provider_and_model(run: Run) -> None:
    def proxy_calls(found: list[Sample]) -> dict[tuple[str, str], float]:
        calls: dict[tuple[str, str], float] = defaultdict(float)
        for labels, value in found:
            if labels["job"] == "llmobserve-proxy":
                calls[labels["gen_ai_provider_name"], labels["gen_ai_request_model"]] += value
        return dict(calls)

    runs = float(len(RUNS))
    series = scrape(
        run.collector,
        CALLS,
        until=lambda found: proxy_calls(found) == {OPENAI: runs, ANTHROPIC: runs},
    )
    assert proxy_calls(series) == {OPENAI: runs, ANTHROPIC: runs}


def test_collector_keeps_serving_jaeger_and_metrics_when_tempo_is_down(
    jaeger: Jaeger, simulator_process: str
) -> None:
    nothing_listens = f"http://127.0.0.1:{free_port()}"
    collector = Collector(jaeger.otlp_url, nothing_listens)
    try:
        trace = run_readme_example(jaeger, collector, simulator_process)
        assert span_costs(trace) == EXPECTED_COST
        assert len(scrape(collector, COST, until=lambda found: len(found) >= 2)) == 2
    finally:
        collector.service.stop()
