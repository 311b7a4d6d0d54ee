"""Real processes on loopback: Jaeger and the Collector (built by `make test`), the simulator,
the proxy."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from llmobserve._servers import ServerThread, free_port

HERE = Path(__file__).parent


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


class Service:
    def __init__(self, args: list[str], health: str, env: dict[str, str] | None = None) -> None:
        self.log = (
            Path(os.environ.get("TMPDIR", "/tmp"))
            / f"llmobserve-{Path(args[0]).name}-{os.getpid()}-{free_port()}.log"
        )
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            args, env={**os.environ, **(env or {})}, stdout=self._log_file, stderr=subprocess.STDOUT
        )
        try:
            wait_for(health, self.process)
        except RuntimeError:
            self.stop()
            raise RuntimeError(
                f"{args[0]} failed to start:\n{self.log.read_text()[-3000:]}"
            ) from None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


def jaeger_binary() -> str:
    path = os.environ.get("LLMOBSERVE_JAEGER_BIN") or shutil.which("jaeger")
    if path and Path(path).is_file():
        return path
    message = "Jaeger is not built: run the test command (make test), which installs it"
    if os.environ.get("CI"):
        pytest.fail(message)  # CI must run this test, never skip it
    pytest.skip(message)


class Jaeger:
    def __init__(self) -> None:
        ports = {name: free_port() for name in ("HEALTH", "QUERY", "QUERY_GRPC", "OTLP_HTTP")}
        env = {f"JAEGER_{name}_PORT": str(port) for name, port in ports.items()}
        self.otlp_url = f"http://127.0.0.1:{ports['OTLP_HTTP']}"
        self.query_url = f"http://127.0.0.1:{ports['QUERY']}"
        self.service = Service(
            [jaeger_binary(), "--config", str(HERE / "jaeger.yaml")],
            f"http://127.0.0.1:{ports['HEALTH']}/status",
            env,
        )

    def traces(self, service: str) -> list[dict]:
        response = httpx.get(
            f"{self.query_url}/api/traces", params={"service": service, "limit": 50}
        )
        response.raise_for_status()
        return list(response.json()["data"] or [])


@pytest.fixture(scope="session")
def jaeger() -> Iterator[Jaeger]:
    server = Jaeger()
    yield server
    server.service.stop()


@pytest.fixture
def simulator_process() -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    service = Service(
        [sys.executable, "-m", "llmobserve.simulator", "--host", "127.0.0.1", "--port", str(port)],
        f"{url}/health",
    )
    yield url
    service.stop()


def start_simulator_process() -> tuple[str, Service]:
    """The simulator in its own process, for fixtures wider than one test."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cli = [sys.executable, "-m", "llmobserve.simulator", "--host", "127.0.0.1", "--port", str(port)]
    return url, Service(cli, f"{url}/health")


def start_proxy_process(simulator_url: str, otlp_url: str, **more_env: str) -> tuple[str, Service]:
    """`llmobserve-proxy` sending the providers to the simulator and its telemetry to
    `otlp_url`; `more_env` overrides the defaults (metrics off: Jaeger takes traces only)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "LLMOBSERVE_UPSTREAM_OVERRIDES": (
            f"api.openai.com={simulator_url},api.anthropic.com={simulator_url}"
        ),
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_METRICS_EXPORTER": "none",
        **more_env,
    }
    cli = [sys.executable, "-m", "proxy.cli", "--host", "127.0.0.1", "--port", str(port)]
    return url, Service(cli, f"{url}/health", env)


def offline_env() -> dict[str, str]:
    """Any call that escapes the proxy hits a dead local port instead of the internet."""
    dead = f"http://127.0.0.1:{free_port()}"
    return {
        "HTTPS_PROXY": dead,
        "https_proxy": dead,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "OPENAI_API_KEY": "sk-e2e-openai-not-a-real-key",
        "ANTHROPIC_API_KEY": "sk-ant-e2e-not-a-real-key",
    }


# The OpenTelemetry Collector built from deploy/otelcol-builder.yaml by scripts/install-collector.sh

COLLECTOR_CONFIG = HERE.parents[1] / "otel-collector-config.yaml"


def collector_binary() -> str:
    path = os.environ.get("LLMOBSERVE_OTELCOL_BIN") or shutil.which("otelcol-llmobserve")
    if path and Path(path).is_file():
        return path
    message = "The Collector is not built: run the test command (make test), which builds it"
    if os.environ.get("CI"):
        pytest.fail(message)  # CI must run this test, never skip it
    pytest.skip(message)


class Collector:
    """Our Collector running the repository's otel-collector-config.yaml, every port free."""

    def __init__(self, jaeger_otlp_url: str, tempo_otlp_url: str) -> None:
        binary = collector_binary()
        ports = {
            name: free_port()
            for name in ("OTLP_GRPC", "OTLP_HTTP", "PROMETHEUS", "HEALTH", "TELEMETRY")
        }
        env = {
            "OTELCOL_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{ports['OTLP_GRPC']}",
            "OTELCOL_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{ports['OTLP_HTTP']}",
            "OTELCOL_PROMETHEUS_ENDPOINT": f"127.0.0.1:{ports['PROMETHEUS']}",
            "OTELCOL_HEALTH_ENDPOINT": f"127.0.0.1:{ports['HEALTH']}",
            "OTELCOL_TELEMETRY_HOST": "127.0.0.1",
            "OTELCOL_TELEMETRY_PORT": str(ports["TELEMETRY"]),
            "OTELCOL_METRICS_FLUSH_INTERVAL": "1s",
            "JAEGER_OTLP_ENDPOINT": jaeger_otlp_url,
            "TEMPO_OTLP_ENDPOINT": tempo_otlp_url,
        }
        self.otlp_url = f"http://127.0.0.1:{ports['OTLP_HTTP']}"
        self.metrics_url = f"http://127.0.0.1:{ports['PROMETHEUS']}/metrics"
        self.service = Service(
            [binary, "--config", str(COLLECTOR_CONFIG)],
            f"http://127.0.0.1:{ports['HEALTH']}/",
            env,
        )

    def metrics(self) -> str:
        """The Prometheus exposition text the Collector serves."""
        response = httpx.get(self.metrics_url)
        response.raise_for_status()
        return response.text


class OtlpSink:
    """A stand-in OTLP/HTTP trace backend (where Tempo would be): keeps the span names it gets."""

    def __init__(self) -> None:
        self.span_names: list[str] = []
        self._server = ServerThread(
            Starlette(routes=[Route("/v1/traces", self._traces, methods=["POST"])])
        )
        self.url = self._server.url

    async def _traces(self, request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest.FromString(body)
        self.span_names += [
            span.name
            for resource_spans in export.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]
        # An empty ExportTraceServiceResponse: everything accepted.
        return Response(b"", media_type="application/x-protobuf")

    def __enter__(self) -> OtlpSink:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__()


@pytest.fixture
def tempo_sink() -> Iterator[OtlpSink]:
    with OtlpSink() as sink:
        yield sink


def parse_prometheus(text: str) -> list[tuple[str, dict[str, str], float]]:
    """(name, labels, value) for every sample of a Prometheus text exposition."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.fullmatch(line)
        assert match, f"not a Prometheus sample: {line!r}"
        labels = {
            key: value.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
            for key, value in _LABEL.findall(match["labels"] or "")
        }
        samples.append((match["name"], labels, float(match["value"])))
    return samples


_SAMPLE = re.compile(
    r"(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)( \d+)?"
)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
