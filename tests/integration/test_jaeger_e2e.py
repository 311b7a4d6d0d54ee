"""The vertical slice end to end: user code -> proxy process -> simulator; spans -> real Jaeger."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration.conftest import offline_env, start_proxy_process

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example(collector: str, proxy: str) -> str:
    """The README's example, as written, pointed at this test's Jaeger and proxy."""
    text = README.read_text()
    code = text[text.index("```python\n") + len("```python\n") :]
    code = code[: code.index("```")]
    assert 'collector_url="http://localhost:4318"' in code
    assert 'proxy_url="http://localhost:9000"' in code
    return code.replace("http://localhost:4318", collector).replace("http://localhost:9000", proxy)


def wait_for_trace(jaeger, service: str, spans_wanted: int) -> dict:
    deadline = time.monotonic() + 30
    while True:
        traces = jaeger.traces(service)
        if traces and sum(len(t["spans"]) for t in traces) >= spans_wanted:
            return traces
        if time.monotonic() > deadline:
            raise AssertionError(f"Jaeger has {traces!r}")
        time.sleep(0.2)


def tags(span: dict) -> dict:
    return {tag["key"]: tag["value"] for tag in span["tags"]}


def ancestors(span: dict, by_id: dict) -> list[str]:
    names = []
    while span["references"]:
        parent = by_id.get(span["references"][0]["spanID"])
        if parent is None:
            break
        names.append(parent["operationName"])
        span = parent
    return names


def test_user_code_produces_one_priced_trace_in_jaeger(jaeger, simulator_process):
    proxy_url, proxy = start_proxy_process(simulator_process, jaeger.otlp_url)
    service = f"e2e-{uuid.uuid4().hex[:8]}"
    code = readme_example(jaeger.otlp_url, proxy_url)
    try:
        subprocess.run(
            [sys.executable, "-c", code],
            env={**offline_env(), **_path_env(), "OTEL_SERVICE_NAME": service},
            check=True,
            timeout=60,
        )
        # 3 sections + 2 HTTP client spans + the anthropic SDK's own span + 2 proxy spans.
        traces = wait_for_trace(jaeger, service, 8)
    finally:
        proxy.stop()
    assert len(traces) == 1, "everything belongs to one trace"
    trace = traces[0]
    by_id = {span["spanID"]: span for span in trace["spans"]}
    by_name = {span["operationName"]: span for span in trace["spans"]}
    services = {pid: p["serviceName"] for pid, p in trace["processes"].items()}

    openai_span = by_name["chat gpt-4o-mini"]
    anthropic_span = by_name["chat claude-3-haiku-20240307"]
    for span in (openai_span, anthropic_span):
        assert services[span["processID"]] == "llmobserve-proxy"
    assert ancestors(openai_span, by_id)[-2:] == [
        "execute_tool openai_call",
        "invoke_agent multi_llm_agent",
    ]
    assert ancestors(anthropic_span, by_id)[-2:] == [
        "execute_tool anthropic_call",
        "invoke_agent multi_llm_agent",
    ]
    assert services[by_name["invoke_agent multi_llm_agent"]["processID"]] == service

    openai_tags, anthropic_tags = tags(openai_span), tags(anthropic_span)
    assert (
        openai_tags["gen_ai.usage.input_tokens"],
        openai_tags["gen_ai.usage.output_tokens"],
    ) == (12, 7)
    # 12 x $0.15/M + 7 x $0.60/M = $0.000006
    assert Decimal(str(openai_tags["gen_ai.usage.cost"])) == Decimal("0.000006")
    assert openai_tags["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert openai_tags["server.address"] == "api.openai.com"
    # 12 x $0.25/M + 7 x $1.25/M = $0.00001175
    assert Decimal(str(anthropic_tags["gen_ai.usage.cost"])) == Decimal("0.00001175")
    for span_tags in (openai_tags, anthropic_tags):
        assert span_tags["gen_ai.provider.name"] in ("openai", "anthropic")
        assert span_tags["llmobserve.customer.id"] == "customer-123"
        assert span_tags["llmobserve.section.path"].startswith("agent:multi_llm_agent/tool:")
    section_tags = tags(by_name["invoke_agent multi_llm_agent"])
    assert section_tags["llmobserve.customer.id"] == "customer-123"

    everything = json.dumps(trace) + proxy.log.read_text()
    for secret in (offline_env()["OPENAI_API_KEY"], offline_env()["ANTHROPIC_API_KEY"]):
        assert secret not in everything


def _path_env() -> dict[str, str]:
    import os

    return {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
