"""Real processes on loopback: Jaeger (built by `make test`), the simulator, the proxy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llmobserve._servers import free_port

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


def start_proxy_process(simulator_url: str, otlp_url: str) -> tuple[str, Service]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "LLMOBSERVE_UPSTREAM_OVERRIDES": (
            f"api.openai.com={simulator_url},api.anthropic.com={simulator_url}"
        ),
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
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
