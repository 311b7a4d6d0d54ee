"""`llmobserve demo`: the README example, run for real against a local provider SIMULATOR.

Everything is real except the providers: the official openai and anthropic SDKs, the SDK's
sections and routing, and a real proxy server on loopback that prices each call. The
simulator replays the providers' documented responses; nothing leaves this machine and no
API key is needed. Spans are also exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llmobserve import _costtree


@contextmanager
def _offline_environment(exporting: bool) -> Iterator[None]:
    """Fake keys, and a dead HTTPS proxy so no call can reach a real provider by mistake."""
    saved = dict(os.environ)
    os.environ.update(
        {
            "OPENAI_API_KEY": "sk-demo-simulator",
            "ANTHROPIC_API_KEY": "sk-ant-demo-simulator",
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "https_proxy": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        os.environ.pop(name, None)
    if not exporting:
        os.environ["OTEL_TRACES_EXPORTER"] = "none"
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _workload() -> None:
    # The README example, verbatim.
    from anthropic import Anthropic
    from openai import OpenAI

    from llmobserve import section, set_customer_id

    set_customer_id("customer-123")
    with section("agent:multi_llm_agent"):
        with section("tool:openai_call"):
            OpenAI().chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello"}]
            )
        with section("tool:anthropic_call"):
            Anthropic().messages.create(
                model="claude-3-haiku-20240307",
                max_tokens=100,
                messages=[{"role": "user", "content": "Hello"}],
            )


def run() -> int:
    import llmobserve
    from llmobserve._servers import ServerThread
    from llmobserve.exporting import build_span_exporters
    from llmobserve.simulator import create_app as create_simulator
    from proxy.app import create_app as create_proxy
    from proxy.settings import Settings

    exporting = bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    captured = InMemorySpanExporter()
    print("llmobserve demo: real SDKs and a real proxy, against a local provider SIMULATOR")
    print("(no network, no API keys; calls are priced at the providers' list prices)\n")
    with _offline_environment(exporting), ServerThread(create_simulator()) as simulator:
        proxy_provider = TracerProvider()
        proxy_provider.add_span_processor(SimpleSpanProcessor(captured))
        if exporting:
            for exporter in build_span_exporters():
                proxy_provider.add_span_processor(BatchSpanProcessor(exporter))
        settings = Settings(
            upstream_overrides={"api.openai.com": simulator.url, "api.anthropic.com": simulator.url}
        )
        with ServerThread(create_proxy(settings, tracer_provider=proxy_provider)) as proxy:
            print(
                f"  simulator  {simulator.url}   (stands in for api.openai.com, api.anthropic.com)"
            )
            print(f"  proxy      {proxy.url}\n")
            llmobserve.observe(proxy_url=proxy.url, service_name="llmobserve-demo")
            sdk_provider = trace.get_tracer_provider()
            if isinstance(sdk_provider, TracerProvider):
                sdk_provider.add_span_processor(SimpleSpanProcessor(captured))
            _workload()
            llmobserve.flush()
            proxy_provider.force_flush()
        llmobserve.shutdown()
    spans = captured.get_finished_spans()
    print(_costtree.render(_costtree.build(spans)))
    if exporting:
        trace_ids = sorted({format(s.context.trace_id, "032x") for s in spans if s.context})
        endpoint = os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]
        print(f"\nspans exported to {endpoint}; trace id {', '.join(trace_ids)}")
    return 0
