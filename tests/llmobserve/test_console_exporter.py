"""`OTEL_TRACES_EXPORTER=llmobserve`: the cost tree, printed once when the process ends."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points

from opentelemetry.sdk._configuration import _import_exporters
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from llmobserve._console_exporter import CostTreeExporter
from llmobserve.exporting import build_span_exporters
from semconv import (
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_USAGE_COST,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    LLMOBSERVE_COST_STATUS,
    LLMOBSERVE_CUSTOMER_ID,
    LLMOBSERVE_SECTION,
    LLMOBSERVE_SECTION_CALLS,
    LLMOBSERVE_SECTION_COST,
    LLMOBSERVE_SECTION_PATH,
)


def _provider(exporter: CostTreeExporter) -> TracerProvider:
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _call(provider: TracerProvider, cost: float, customer: str = "customer-123") -> None:
    attributes = {
        GEN_AI_PROVIDER_NAME: "anthropic",
        GEN_AI_REQUEST_MODEL: "claude-3-haiku-20240307",
        GEN_AI_USAGE_INPUT_TOKENS: 12,
        GEN_AI_USAGE_OUTPUT_TOKENS: 7,
        GEN_AI_USAGE_COST: cost,
        LLMOBSERVE_COST_STATUS: "priced",
        LLMOBSERVE_CUSTOMER_ID: customer,
        LLMOBSERVE_SECTION_PATH: "agent:support/tool:reply",
    }
    provider.get_tracer("test").start_span(
        "chat claude-3-haiku-20240307", attributes=attributes
    ).end()


def _total(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("TOTAL"))


def test_cost_tree_exporter_prints_the_tree_once_at_shutdown() -> None:
    out = io.StringIO()
    provider = _provider(CostTreeExporter(out=out))
    _call(provider, 1.175e-05)
    _call(provider, 1.175e-05)
    assert out.getvalue() == ""  # nothing while the process runs
    provider.shutdown()
    text = out.getvalue()
    assert "llmobserve: cost of this run (2 calls)" in text
    assert "customer customer-123" in text
    assert "└─ agent:support" in text
    assert "tool:reply" in text
    assert text.count("chat claude-3-haiku-20240307") == 2
    assert _total(text).endswith("$0.00002350")  # 2 x (12 x 0.25 + 7 x 1.25) / 1M
    provider.shutdown()
    assert out.getvalue() == text  # printed once


def test_cost_tree_exporter_is_silent_without_llmobserve_spans() -> None:
    out = io.StringIO()
    provider = _provider(CostTreeExporter(out=out))
    provider.get_tracer("test").start_span("GET /health").end()
    provider.shutdown()
    assert out.getvalue() == ""


def test_cost_tree_exporter_shows_section_rollups_when_the_proxy_has_the_calls() -> None:
    out = io.StringIO()
    provider = _provider(CostTreeExporter(out=out))
    attributes = {
        LLMOBSERVE_SECTION: "agent:support",
        LLMOBSERVE_SECTION_PATH: "agent:support",
        LLMOBSERVE_CUSTOMER_ID: "customer-123",
        LLMOBSERVE_SECTION_COST: 1.775e-05,
        LLMOBSERVE_SECTION_CALLS: 2,
    }
    provider.get_tracer("test").start_span("invoke_agent support", attributes=attributes).end()
    provider.shutdown()
    text = out.getvalue()
    assert "calls priced by the proxy" in text
    assert "agent:support" in text
    assert text.rstrip().splitlines()[-1].endswith("$0.00001775")


def test_cost_tree_exporter_keeps_at_most_max_calls() -> None:
    out = io.StringIO()
    provider = _provider(CostTreeExporter(out=out, max_calls=3))
    for _ in range(5):
        _call(provider, 6e-06)
    provider.shutdown()
    assert "(3 calls)" in out.getvalue()
    assert "2 more calls were not kept" in out.getvalue()


def test_entry_point_names_the_cost_tree_exporter() -> None:
    (found,) = entry_points(group="opentelemetry_traces_exporter", name="llmobserve")
    assert found.load() is CostTreeExporter


def test_sdk_configuration_imports_the_exporter_by_name() -> None:
    # What opentelemetry-instrument's configurator does with OTEL_TRACES_EXPORTER=llmobserve.
    traces, _, _ = _import_exporters(["llmobserve"], [], [])
    assert traces == {"llmobserve": CostTreeExporter}


def test_observe_builds_the_cost_tree_exporter_from_otel_traces_exporter() -> None:
    exporters = build_span_exporters(environ={"OTEL_TRACES_EXPORTER": "llmobserve,none"})
    assert [type(e) for e in exporters] == [CostTreeExporter]


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LLMOBSERVE_"))}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**keep, "OTEL_TRACES_EXPORTER": "llmobserve", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_opentelemetry_sdk_configurator_prints_the_tree_at_exit() -> None:
    # opentelemetry-instrument configures the SDK through this configurator (the distro's
    # OpenTelemetryConfigurator is a subclass); the tree appears when the process exits.
    result = _run(
        f"""
        from opentelemetry import trace
        from opentelemetry.sdk._configuration import _OTelSDKConfigurator

        _OTelSDKConfigurator().configure()
        attributes = {{
            {LLMOBSERVE_COST_STATUS!r}: "priced",
            {GEN_AI_PROVIDER_NAME!r}: "openai",
            {GEN_AI_REQUEST_MODEL!r}: "gpt-4o-mini",
            {GEN_AI_USAGE_COST!r}: 6e-06,
            {LLMOBSERVE_CUSTOMER_ID!r}: "customer-123",
            {LLMOBSERVE_SECTION_PATH!r}: "agent:a",
        }}
        trace.get_tracer("app").start_span("chat gpt-4o-mini", attributes=attributes).end()
        print("application output")
        """,
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
    )
    assert result.stdout == "application output\n"  # the tree never mixes with stdout
    assert "customer customer-123" in result.stderr
    assert _total(result.stderr).endswith("$0.000006")


def test_observe_in_direct_mode_prints_the_tree_at_exit() -> None:
    dead = "http://127.0.0.1:9"
    result = _run(
        """
        import os
        from llmobserve._servers import ServerThread
        from llmobserve.simulator import create_app

        simulator = ServerThread(create_app()).__enter__()
        os.environ["LLMOBSERVE_UPSTREAM_OVERRIDES"] = f"api.openai.com={simulator.url}"

        import llmobserve
        from openai import OpenAI

        llmobserve.observe()
        llmobserve.set_customer_id("customer-123")
        with llmobserve.section("agent:multi_llm_agent"):
            with llmobserve.section("tool:openai_call"):
                OpenAI().chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello"}]
                )
        """,
        OPENAI_API_KEY="sk-test-not-a-key",
        HTTPS_PROXY=dead,
        https_proxy=dead,
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    lines = result.stderr.splitlines()
    # 12 x $0.15/M + 7 x $0.60/M
    assert any(line.startswith("      └─ chat gpt-4o-mini") for line in lines), result.stderr
    assert _total(result.stderr).endswith("$0.000006")
