"""Load: N requests at concurrency C, half JSON and half streaming, through a real proxy process
to a fast fake upstream; counts errors and checks that the span sink got one span per request.

    python bench/reliability/load.py                          # 100,000 requests at c=256
    python bench/reliability/load.py --requests 5000 --json   # what the integration test runs

Four processes on loopback: the upstream (`upstream` mode of this file, answering an OpenAI
chat completion or an 8-event Anthropic stream), the span sink (`sink` mode, an OTLP/HTTP
endpoint counting spans), `llmobserve-proxy` with its default export settings, and this
process as the client (aiohttp, uvloop). Everything is bounded: the run stops after N requests
and the wait for spans after `--drain` seconds. Record the printed figures in
docs/reliability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL = "claude-3-haiku-20240307"
COMPLETION = json.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
    }
).encode()


def _event(name: str, data: dict[str, object]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


STREAM = [
    _event(
        "message_start",
        {
            "type": "message_start",
            "message": {"id": "msg_1", "model": MODEL, "usage": {"input_tokens": 12}},
        },
    ),
    *(
        _event("content_block_delta", {"type": "content_block_delta", "delta": {"text": "w"}})
        for _ in range(5)
    ),
    _event("message_delta", {"type": "message_delta", "usage": {"output_tokens": 7}}),
    _event("message_stop", {"type": "message_stop"}),
]


# --- the fake upstream ----------------------------------------------------------------------


async def _upstream_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:].strip())
            if length:
                await reader.readexactly(length)
            if b"/v1/messages" in head.split(b"\r\n", 1)[0]:
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n"
                )
                for event in STREAM:
                    writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                writer.write(b"0\r\n\r\n")
            else:
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(COMPLETION), COMPLETION)
                )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


# --- the span sink --------------------------------------------------------------------------


class _Sink:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        self.decode = ExportTraceServiceRequest.FromString
        self.spans = 0

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                gzipped = False
                for line in head.split(b"\r\n"):
                    lower = line.lower()
                    if lower.startswith(b"content-length:"):
                        length = int(line[15:].strip())
                    if lower.startswith(b"content-encoding:") and b"gzip" in lower:
                        gzipped = True
                body = await reader.readexactly(length) if length else b""
                if head.startswith(b"GET /count"):
                    answer = str(self.spans).encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer)
                    )
                else:
                    if gzipped:
                        import gzip

                        body = gzip.decompress(body)
                    export = self.decode(body)
                    if self.delay:
                        await asyncio.sleep(self.delay)
                    self.spans += sum(
                        len(scope.spans) for rs in export.resource_spans for scope in rs.scope_spans
                    )
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n"
                        b"Content-Length: 0\r\n\r\n"
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _black_hole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts, reads, never answers (a collector behind a dead load balancer)."""
    while await reader.read(65536):
        pass
    writer.close()


def serve(kind: str, port: int) -> None:
    import uvloop

    async def main() -> None:
        handler = {
            "upstream": _upstream_connection,
            "sink": _Sink().connection,
            "slow_sink": _Sink(delay=1.0).connection,
            "black_hole": _black_hole,
        }[kind]
        server = await asyncio.start_server(handler, "127.0.0.1", port, backlog=4096)
        async with server:
            await server.serve_forever()

    uvloop.run(main())


# --- orchestration --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened")


@dataclass
class Result:
    requests: int
    concurrency: int
    seconds: float
    errors: dict[str, int] = field(default_factory=dict)
    spans_received: int = 0
    requests_per_second: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    proxy_peak_rss_mib: float = 0.0
    backend: str = "sink"
    export_warnings: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors and self.spans_received == self.requests


async def _drive(url: str, requests: int, concurrency: int) -> tuple[list[float], dict[str, int]]:
    import aiohttp

    latencies: list[float] = []
    errors: dict[str, int] = {}
    next_index = iter(range(requests))
    openai_body = json.dumps(
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
    ).encode()
    anthropic_body = json.dumps(
        {
            "model": MODEL,
            "max_tokens": 10,
            "stream": True,
            "messages": [{"role": "user", "content": "Hi"}],
        }
    ).encode()
    expected_stream = b"".join(STREAM)

    async def worker(session: aiohttp.ClientSession) -> None:
        for index in next_index:
            streaming = index % 2 == 1
            path = "/anthropic/v1/messages" if streaming else "/openai/v1/chat/completions"
            body = anthropic_body if streaming else openai_body
            started = time.perf_counter()
            try:
                async with session.post(
                    url + path, data=body, headers={"Content-Type": "application/json"}
                ) as response:
                    content = await response.read()
                    if response.status != 200:
                        key = f"status {response.status}"
                        errors[key] = errors.get(key, 0) + 1
                    elif streaming and content != expected_stream:
                        errors["stream altered"] = errors.get("stream altered", 0) + 1
                    elif not streaming and content != COMPLETION:
                        errors["body altered"] = errors.get("body altered", 0) + 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                key = type(exc).__name__
                errors[key] = errors.get(key, 0) + 1
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return latencies, errors


def _sink_count(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /count HTTP/1.1\r\nHost: sink\r\nContent-Length: 0\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or not data.split(b"\r\n\r\n", 1)[1]:
            data += sock.recv(4096)
    return int(data.split(b"\r\n\r\n", 1)[1])


def run(
    requests: int,
    concurrency: int,
    *,
    drain: float = 60.0,
    env: dict[str, str] | None = None,
    backend: str = "sink",
) -> Result:
    """One bounded run with fresh processes; always stops them. `backend`: where spans go,
    `sink` (healthy), `slow_sink` (1 s per export), `black_hole` or `down` (nothing listens)."""
    import uvloop

    upstream_port, sink_port, proxy_port = free_port(), free_port(), free_port()
    me = [sys.executable, str(Path(__file__).resolve())]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        servers = [("upstream", upstream_port)]
        if backend != "down":
            servers.append((backend, sink_port))
        for kind, port in servers:
            processes.append(subprocess.Popen([*me, kind, "--port", str(port)]))
            wait_for_port(port, processes[-1])
        upstream = f"http://127.0.0.1:{upstream_port}"
        overrides = f"api.openai.com={upstream},api.anthropic.com={upstream}"
        proxy_env = {
            **os.environ,
            "LLMOBSERVE_UPSTREAM_OVERRIDES": overrides,
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}",
            "OTEL_METRICS_EXPORTER": "none",
            **(env or {}),
        }
        log = tempfile.TemporaryFile()  # noqa: SIM115 - read and closed after the run
        proxy = subprocess.Popen(
            [sys.executable, "-m", "proxy.cli", "--port", str(proxy_port)],
            env=proxy_env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(proxy)
        wait_for_port(proxy_port, proxy)
        started = time.monotonic()
        latencies, errors = uvloop.run(
            _drive(f"http://127.0.0.1:{proxy_port}", requests, concurrency)
        )
        seconds = time.monotonic() - started
        deadline = time.monotonic() + (drain if backend == "sink" else 0)
        spans = _sink_count(sink_port) if backend in ("sink", "slow_sink") else 0
        while spans < requests and time.monotonic() < deadline:
            time.sleep(0.25)
            spans = _sink_count(sink_port)
        if proxy.poll() is not None:  # e.g. its port was taken between free_port and bind
            log.seek(0)
            tail = log.read()[-2000:].decode(errors="replace")
            raise RuntimeError(f"the proxy exited with {proxy.returncode} during the run:\n{tail}")
        status = Path(f"/proc/{proxy.pid}/status").read_text()
        peak = next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")
        )
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    log.seek(0)
    warnings = log.read().count(b"span export is failing")
    log.close()
    latencies.sort()
    return Result(
        requests=requests,
        concurrency=concurrency,
        seconds=round(seconds, 1),
        errors=errors,
        spans_received=spans,
        requests_per_second=round(requests / seconds),
        p50_ms=round(statistics.median(latencies) * 1000, 1),
        p99_ms=round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
        max_ms=round(latencies[-1] * 1000, 1),
        proxy_peak_rss_mib=round(peak / 1024, 1),
        backend=backend,
        export_warnings=warnings,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "mode",
        nargs="?",
        default="run",
        choices=["run", "upstream", "sink", "slow_sink", "black_hole"],
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if args.mode != "run":
        serve(args.mode, args.port)
        return 0
    result = run(args.requests, args.concurrency)
    if args.json:
        print(json.dumps({**asdict(result), "ok": result.ok}))
    else:
        for key, value in asdict(result).items():
            print(f"{key:22} {value}")
        print(f"{'ok':22} {result.ok}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
