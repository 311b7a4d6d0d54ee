"""`llmobserve demo`: a small multi-agent workload, priced for real, against a local SIMULATOR.

Everything is real except the providers: the official openai, anthropic and boto3 SDKs, the
SDK's sections and routing, and a real proxy server on loopback that prices each call. The
simulator (`llmobserve.simulator`) replays the providers' documented responses with
deterministic token counts; nothing leaves this machine (a dead HTTPS proxy catches anything
that would) and no API key is needed. With `--live` and real keys the same workload calls the
real providers. With `--jaeger URL` or `OTEL_EXPORTER_OTLP_ENDPOINT` the spans are exported too.
"""

from __future__ import annotations

import importlib
import json
import os
import queue
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from llmobserve import _costtree, _demo_workload, _report_text
from llmobserve._context import get_section_path
from semconv import LLMOBSERVE_COST_STATUS, LlmobserveCostStatusValues

SIMULATED_HOSTS = ("api.openai.com", "api.anthropic.com", "bedrock-runtime.us-east-1.amazonaws.com")
LIVE_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")
SERVICE = "llmobserve-demo"
_SPAN_WAIT_SECONDS = 10.0


def say(text: str = "") -> None:
    print(text, flush=True)


@dataclass(frozen=True)
class Export:
    """Where spans go besides the screen: an OTLP/HTTP endpoint, and Jaeger's UI if known."""

    endpoint: str
    jaeger: str | None

    @classmethod
    def from_options(cls, jaeger: str | None) -> Export | None:
        endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        if jaeger:
            jaeger = jaeger.rstrip("/")
            parts = urlsplit(jaeger)
            # Jaeger takes OTLP/HTTP on 4318 of the host that serves its UI on 16686.
            endpoint = endpoint or f"{parts.scheme or 'http'}://{parts.hostname}:4318"
        return cls(endpoint, jaeger) if endpoint else None


class _Capture(SpanProcessor):
    """Keeps every finished span; queues call spans (the proxy's) for the progress lines."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        self.calls: queue.Queue[ReadableSpan] = queue.Queue()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)
        if LLMOBSERVE_COST_STATUS in (span.attributes or {}):
            self.calls.put(span)

    def shutdown(self) -> None:
        return

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class _Progress:
    """One line per call, finished with what the proxy recorded for it."""

    def __init__(self, capture: _Capture, simulated: bool) -> None:
        self._capture = capture
        self._simulated = simulated
        self.count = 0

    def customer(self, name: str, what: str) -> None:
        say(f"\ncustomer {name}: {what}")

    def call(self, stack: str, model: str, run: Callable[[], object], note: str = "") -> None:
        self.count += 1
        print(self._head(stack, model, note), end="", flush=True)
        try:
            run()
        finally:
            say(self._outcome())

    def skip(self, stack: str, model: str, why: str) -> None:
        say(f"{self._head(stack, model, '')}skipped: {why}")

    def say(self, text: str) -> None:
        say(f"      {text}")

    def scenario(self, name: str) -> dict[str, str]:
        from llmobserve.simulator import SCENARIO_HEADER

        return {SCENARIO_HEADER: name} if self._simulated else {}

    def _head(self, stack: str, model: str, note: str) -> str:
        label = (get_section_path() or "").rsplit("/", 1)[-1]
        return f"  {label:<21} {stack:<10} {model:<24} {note:<13} "

    def _outcome(self) -> str:
        try:
            span = self._capture.calls.get(timeout=_SPAN_WAIT_SECONDS)
        except queue.Empty:
            return "no span recorded (is the proxy running?)"
        found = _costtree.from_readable_spans([span]).calls
        if not found:
            return "?"
        call = found[0]
        if call.cost is None:
            billed = call.status != LlmobserveCostStatusValues.UPSTREAM_ERROR
            return f"{call.why_unpriced}" + ("" if billed else " (not billed)")
        cached = f" ({call.cache_read_tokens:,} cached)" if call.cache_read_tokens else ""
        places = max(8, _report_text.money_places([call.cost]))
        return (
            f"{_report_text.money(call.cost, places)}  "
            f"{call.input_tokens:,} in{cached}, {call.output_tokens:,} out"
        )


@contextmanager
def _environment(simulated: bool, export: Export | None) -> Iterator[None]:
    """The process environment for the run, restored afterwards."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("LLMOBSERVE_", "AWS_ENDPOINT_URL")) or name in (
            "OPENAI_BASE_URL",
            "ANTHROPIC_BASE_URL",
            "OTEL_SDK_DISABLED",
        ):
            del os.environ[name]
    no_proxy = ["127.0.0.1", "localhost"]
    if export is not None:
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = export.endpoint
        os.environ["OTEL_TRACES_EXPORTER"] = "otlp"
        if export.jaeger and "OTEL_METRICS_EXPORTER" not in saved:
            os.environ["OTEL_METRICS_EXPORTER"] = "none"  # Jaeger takes traces only
        no_proxy += [h for h in (urlsplit(export.endpoint).hostname,) if h]
        no_proxy += [h for h in (urlsplit(export.jaeger or "").hostname,) if h]
    else:
        os.environ["OTEL_TRACES_EXPORTER"] = "none"
    if simulated:
        os.environ.update(_simulated_environment(",".join(no_proxy)))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _simulated_environment(no_proxy: str) -> dict[str, str]:
    """Fake keys, and a dead HTTPS proxy so no call can reach a real provider by mistake."""
    return {
        "OPENAI_API_KEY": "sk-demo-simulator",
        "ANTHROPIC_API_KEY": "sk-ant-demo-simulator",
        "AWS_ACCESS_KEY_ID": "AKIADEMOSIMULATOR",
        "AWS_SECRET_ACCESS_KEY": "demo-simulator-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
    }


def _clients(simulated: bool) -> _demo_workload.Clients:
    from anthropic import Anthropic
    from openai import OpenAI

    bedrock, missing = None, ""
    try:
        boto3 = importlib.import_module("boto3")
    except ImportError:
        missing = "boto3 is not installed (pip install boto3)"
    else:
        session = boto3.Session()
        if simulated or (session.get_credentials() is not None and session.region_name):
            bedrock = session.client("bedrock-runtime")
        else:
            missing = "no AWS credentials or region (see `aws configure`)"
    return _demo_workload.Clients(OpenAI(), Anthropic(), bedrock, missing)


def run(jaeger: str | None = None, live: bool = False) -> int:
    """Run the demo; returns the exit code."""
    if live:
        missing = [name for name in LIVE_KEYS if not os.environ.get(name)]
        if missing:
            print(
                f"llmobserve demo --live calls the real providers and needs {' and '.join(missing)}"
                " set; without --live the demo needs no key.",
                file=sys.stderr,
            )
            return 2
    if jaeger and not urlsplit(jaeger).hostname:
        print(
            f"llmobserve demo: --jaeger {jaeger!r} is not a URL such as http://localhost:16686",
            file=sys.stderr,
        )
        return 2
    export = Export.from_options(jaeger)
    simulated = not live
    started = time.monotonic()
    with _environment(simulated, export):
        capture = _run_workload(simulated, export)
    records = _costtree.from_readable_spans(capture.spans)
    _print_results(records, simulated, time.monotonic() - started)
    if export is not None:
        _print_traces(records, export)
    return 0


def _run_workload(simulated: bool, export: Export | None) -> _Capture:
    from opentelemetry.metrics import MeterProvider, NoOpMeterProvider

    import llmobserve
    from llmobserve._servers import ServerThread
    from llmobserve.exporting import build_span_exporters
    from llmobserve.simulator import create_app as create_simulator
    from proxy.app import create_app as create_proxy
    from proxy.metrics import meter_provider_from_env
    from proxy.settings import Settings

    capture = _Capture()
    proxy_spans = TracerProvider(resource=Resource.create({SERVICE_NAME: "llmobserve-proxy"}))
    proxy_spans.add_span_processor(capture)
    if export is not None:
        for exporter in build_span_exporters():
            proxy_spans.add_span_processor(BatchSpanProcessor(exporter))
    meters: MeterProvider = meter_provider_from_env() if export else NoOpMeterProvider()
    _print_header(simulated)
    with ExitStack() as servers:
        settings = Settings.from_env()
        if simulated:
            simulator = servers.enter_context(ServerThread(create_simulator()))
            settings = Settings(upstream_overrides=dict.fromkeys(SIMULATED_HOSTS, simulator.url))
            say(f"  SIMULATOR  {simulator.url}   stands in for {', '.join(SIMULATED_HOSTS[:2])},")
            say(f"{'':37}{', '.join(SIMULATED_HOSTS[2:])}")
        proxy_app = create_proxy(settings, tracer_provider=proxy_spans, meter_provider=meters)
        proxy = servers.enter_context(ServerThread(proxy_app))
        say(f"  proxy      {proxy.url}   one priced OpenTelemetry span per call")
        llmobserve.observe(proxy_url=proxy.url, service_name=SERVICE)
        try:
            sdk_spans = trace.get_tracer_provider()
            if isinstance(sdk_spans, TracerProvider):
                sdk_spans.add_span_processor(capture)
            _demo_workload.run(_clients(simulated), _Progress(capture, simulated))
            llmobserve.flush()
            proxy_spans.force_flush()
        finally:
            llmobserve.shutdown()
    proxy_spans.shutdown()
    if hasattr(meters, "shutdown"):
        meters.shutdown()
    return capture


def _print_header(simulated: bool) -> None:
    if simulated:
        say("llmobserve demo: real SDKs (openai, anthropic, boto3) -> real proxy -> SIMULATOR")
        say("No network and no API keys: the provider SIMULATOR replays the providers' documented")
        say("responses with deterministic token counts; the proxy prices every call.\n")
    else:
        say("llmobserve demo --live: real SDKs -> real proxy -> the REAL providers")
        say("(this spends real money: well under one US cent)\n")


def _print_results(records: _costtree.Records, simulated: bool, seconds: float) -> None:
    places = _report_text.places_for(records)
    say(f"\n{len(records.calls)} calls in {seconds:.1f}s\n")
    say("COST TREE  customer -> section -> call (each amount includes everything below it)\n")
    say(_report_text.render_tree(records, places=places))
    say("\nBY MODEL\n")
    say(_report_text.render_by_model(records.calls, places))
    unpriced = _report_text.render_unpriced(records.calls)
    if unpriced:
        say(f"\n{unpriced}")
    priced = [c for c in records.calls if c.cost is not None]
    if priced and simulated:
        first = priced[0]
        say(
            "\nEvery amount is the simulator's token counts times the list price. Check one:\n"
            f"  llmobserve pricing cost {first.provider} {first.model} "
            f"--input-tokens {first.input_tokens} --output-tokens {first.output_tokens}"
        )


def _print_traces(records: _costtree.Records, export: Export) -> None:
    traces: dict[str, list[str]] = {}
    for call in records.calls:
        ids = traces.setdefault(call.customer or _costtree.NO_CUSTOMER, [])
        if call.trace_id and call.trace_id not in ids:
            ids.append(call.trace_id)
    say(f"\nTraces exported over OTLP to {export.endpoint}:")
    for customer, ids in traces.items():
        for trace_id in ids:
            if export.jaeger:
                found = _wait_for_trace(export.jaeger, trace_id)
                state = "" if found else "   (not in Jaeger yet)"
                say(f"  {customer:<12} {export.jaeger}/trace/{trace_id}{state}")
            else:
                say(f"  {customer:<12} trace {trace_id}")


def _wait_for_trace(jaeger: str, trace_id: str, timeout: float = 15.0) -> bool:
    """True once Jaeger's query API returns the trace (ingestion takes a moment)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with opener.open(f"{jaeger}/api/traces/{trace_id}", timeout=2) as response:
                if json.loads(response.read()).get("data"):
                    return True
        except (OSError, ValueError):
            pass
        time.sleep(0.25)
    return False
