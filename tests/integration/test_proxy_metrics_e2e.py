"""The proxy's own metrics, sent over OTLP by a proxy process, as the Collector's Prometheus
endpoint serves them: cost to the cent of the calls made, counts, token sums, unpriced calls."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from tests.integration.conftest import (
    Collector,
    OtlpSink,
    parse_prometheus,
    start_proxy_process,
    start_simulator_process,
)

pytestmark = pytest.mark.integration

KEY = "sk-e2e-metrics"
HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def collector() -> Iterator[Collector]:
    with OtlpSink() as sink:
        collector = Collector(sink.url, sink.url)
        yield collector
        collector.service.stop()


def make_calls(proxy_url: str) -> None:
    with httpx.Client(base_url=proxy_url, timeout=10) as client:
        for model in ["gpt-4o-mini"] * 5 + ["gpt-imaginary-9"] * 2:
            response = client.post(
                "/openai/v1/chat/completions",
                headers={"Authorization": f"Bearer {KEY}"},
                json={"model": model, "messages": HELLO},
            )
            assert response.status_code == 200
        for _ in range(3):
            response = client.post(
                "/anthropic/v1/messages",
                headers={"x-api-key": KEY},
                json={
                    "model": "claude-3-haiku-20240307",
                    "max_tokens": 5,
                    "messages": HELLO,
                    "stream": True,
                },
            )
            assert response.status_code == 200


def scrape(collector: Collector) -> dict[str, list[tuple[dict[str, str], float]]]:
    """The proxy's series by name, once the cost of both providers and the unpriced calls are
    there (or 30 s have passed: the assertions then say what is missing)."""
    deadline = time.monotonic() + 30
    while True:
        found: dict[str, list[tuple[dict[str, str], float]]] = {}
        for name, labels, value in parse_prometheus(collector.metrics()):
            if labels.get("job") == "llmobserve-proxy":
                found.setdefault(name, []).append((labels, value))
        if len(found.get(COST, [])) == 2 and UNPRICED in found:
            return found
        if time.monotonic() > deadline:
            return found
        time.sleep(0.2)


# As the Collector's Prometheus exporter names the proxy's metrics (unit suffixes, _total).
COST = "llmobserve_cost_USD_total"
UNPRICED = "llmobserve_calls_unpriced_total"
DURATION_COUNT = "gen_ai_client_operation_duration_seconds_count"
FIRST_CHUNK_COUNT = "gen_ai_client_operation_time_to_first_chunk_seconds_count"
TOKENS_SUM = "gen_ai_client_token_usage_sum"


def by(samples: list[tuple[dict[str, str], float]], *labels: str) -> dict[tuple[str, ...], float]:
    return {tuple(found[label] for label in labels): value for found, value in samples}


def test_proxy_metrics_reach_prometheus_through_the_collector(collector: Collector) -> None:
    simulator_url, simulator = start_simulator_process()
    try:
        proxy_url, proxy = start_proxy_process(
            simulator_url,
            collector.otlp_url,
            OTEL_METRICS_EXPORTER="otlp",
            # Never within the test: what reaches the Collector is the flush at shutdown.
            OTEL_METRIC_EXPORT_INTERVAL="3600000",
        )
        try:
            make_calls(proxy_url)
        finally:
            proxy.stop()  # SIGTERM: the flush at shutdown is the only export
    finally:
        simulator.stop()
    found = scrape(collector)
    # The float of the exact Decimal total: 5 x $0.000006 and 3 x $0.00001175.
    assert by(found[COST], "gen_ai_provider_name") == {
        ("openai",): float(5 * Decimal("0.000006")),
        ("anthropic",): float(3 * Decimal("0.00001175")),
    }
    assert by(found[UNPRICED], "gen_ai_request_model", "llmobserve_cost_status") == {
        ("gpt-imaginary-9", "unknown_model"): 2
    }
    assert by(found[DURATION_COUNT], "gen_ai_request_model") == {
        ("gpt-4o-mini",): 5,
        ("gpt-imaginary-9",): 2,
        ("claude-3-haiku-20240307",): 3,
    }
    assert by(found[FIRST_CHUNK_COUNT], "gen_ai_provider_name") == {("anthropic",): 3}
    tokens = by(found[TOKENS_SUM], "gen_ai_request_model", "gen_ai_token_type")
    # The simulator's usage for "Hello": 12 input and 7 output tokens a call.
    assert tokens[("gpt-4o-mini", "input")] == 60
    assert tokens[("gpt-4o-mini", "output")] == 35
