"""SDK micro-benchmarks, in a process of their own (they patch httpx2 and set the global provider).

- `section()` enter/exit, with `observe()` active (spans exported to the sink);
- one httpx2 `POST /v1/chat/completions` on loopback:
  - proxy mode, through our proxy: unpatched, by base URL (`/openai/v1`); patched
    (`observe(proxy_url=...)`: routed with `X-LLMObserve-Target-URL`, the HTTP client span);
    patched inside an open `section()` (the section rollup: the proxy prices the body before
    it sends the headers and the SDK reads the cost back - asked for only inside a section);
  - direct mode, to the fast fake upstream: unpatched; patched and metered in-process
    (`api.openai.com` sent to the fake upstream by `LLMOBSERVE_UPSTREAM_OVERRIDES`, parsed,
    priced, one span); patched to a host that is not a provider (the HTTP client span and
    `traceparent` only);
- the same patched calls against an in-memory connection pool that answers at once (no socket,
  no proxy, no upstream): the CPU time the SDK adds to a call in this process, span export
  thread included - the figure least moved by other work on a shared machine (`cpu_*`).

Rounds alternate `observe()` and `shutdown()`, so unpatched and patched calls interleave.
`python -m bench.sdk --upstream-port P --sink-port S --proxy-port X` prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import time
from collections.abc import Callable

import httpcore2
import httpx2

import llmobserve
from llmobserve import section
from proxy.protocol import COST_HEADER_NAME, ROLLUP_HEADER

_REPLY = (
    b'{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"gpt-4o-mini",'
    b'"choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}'
)
_COST = b'{"status":"priced","usd":"0.00000195"}'
_BODY = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}],"max_tokens":64}'
_HEADERS = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}
# (patched, unpatched baseline) pairs whose difference is what the SDK adds to a call.
_ADDED = {
    "added_proxy_us": ("patched_proxy", "unpatched_proxy"),
    "added_proxy_section_us": ("patched_proxy_section", "unpatched_proxy"),
    "added_metered_us": ("patched_metered", "unpatched"),
    "added_not_metered_us": ("patched_not_metered", "unpatched"),
}


def _p50_us(call: Callable[[], object], iterations: int) -> float:
    samples = []
    for _ in range(iterations):
        started = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - started) / 1000)
    return statistics.median(samples)


class _MemoryPool:
    """An httpcore2 connection pool that answers every request from memory: a chat completion,
    with the proxy's cost header when the request asks for the section rollup."""

    def handle_request(self, request: httpcore2.Request) -> httpcore2.Response:
        b"".join(request.stream)  # type: ignore[arg-type]
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(_REPLY))]
        if any(name.lower() == ROLLUP_HEADER.encode() for name, _ in request.headers):
            headers.append((COST_HEADER_NAME.encode(), _COST))
        return httpcore2.Response(200, headers=headers, content=[_REPLY])

    def close(self) -> None:
        pass


def _cpu_us(client: httpx2.Client, url: str, iterations: int, rounds: int) -> float:
    """The least CPU time per call over `rounds` runs of `iterations` calls (all threads)."""
    runs = []
    for _ in range(rounds):
        started = time.process_time_ns()
        for _ in range(iterations):
            client.post(url, content=_BODY, headers=_HEADERS).read()
        runs.append((time.process_time_ns() - started) / 1000 / iterations)
    return min(runs)


def run_in_memory(proxy_port: int, iterations: int, rounds: int) -> dict[str, float]:
    """CPU µs the SDK adds to one httpx2 call, against `_MemoryPool` (see the module docstring).

    The proxy URL is never connected to: the pool answers the hop to it as well.
    """
    transport = httpx2.HTTPTransport()
    transport._pool = _MemoryPool()  # type: ignore[assignment]
    client = httpx2.Client(transport=transport)
    provider = "https://api.openai.com/v1/chat/completions"
    other = "http://127.0.0.1:9/v1/chat/completions"
    cpu: dict[str, float] = {}

    def measure(name: str, url: str) -> None:
        _cpu_us(client, url, max(iterations // 10, 1), 1)  # warm this path
        cpu[name] = _cpu_us(client, url, iterations, rounds)

    measure("unpatched", other)
    llmobserve.observe(proxy_url=f"http://127.0.0.1:{proxy_port}", service_name="bench-sdk")
    measure("proxy", provider)
    with section("agent:bench"):
        measure("proxy_section", provider)
    llmobserve.shutdown()
    llmobserve.observe(service_name="bench-sdk")
    measure("metered", provider)
    measure("not_metered", other)
    llmobserve.shutdown()
    client.close()
    baseline = cpu.pop("unpatched")
    out = {f"cpu_added_{name}_us": value - baseline for name, value in cpu.items()}
    return {"cpu_unpatched_us": baseline, **out}


def _section_us(iterations: int) -> float:
    """Mean cost of one `with section(...)` (enter and exit), in microseconds."""
    started = time.perf_counter_ns()
    for _ in range(iterations):
        with section("tool:bench"):
            pass
    return (time.perf_counter_ns() - started) / 1000 / iterations


def run(upstream_port: int, proxy_port: int, iterations: int, rounds: int) -> dict[str, float]:
    local = f"http://127.0.0.1:{upstream_port}/v1/chat/completions"
    provider = "https://api.openai.com/v1/chat/completions"
    proxy = f"http://127.0.0.1:{proxy_port}"
    client = httpx2.Client()

    def post(url: str) -> Callable[[], object]:
        def call() -> object:
            response = client.post(url, content=_BODY, headers=_HEADERS)
            response.raise_for_status()
            return response

        return call

    results: dict[str, list[float]] = {}

    def measure(name: str, url: str) -> None:
        results.setdefault(name, []).append(_p50_us(post(url), iterations))

    _p50_us(post(local), 200)  # warm the connection pools and the code paths
    _p50_us(post(f"{proxy}/openai/v1/chat/completions"), 200)
    for _ in range(rounds):
        measure("unpatched", local)
        measure("unpatched_proxy", f"{proxy}/openai/v1/chat/completions")
        llmobserve.observe(proxy_url=proxy, service_name="bench-sdk")
        _p50_us(post(provider), 50)
        measure("patched_proxy", provider)
        with section("agent:bench"):
            measure("patched_proxy_section", provider)
        llmobserve.shutdown()
        llmobserve.observe(service_name="bench-sdk")
        _p50_us(post(provider), 50)
        measure("patched_metered", provider)
        measure("patched_not_metered", local)
        results.setdefault("section", []).append(_section_us(iterations * 5))
        llmobserve.shutdown()
    client.close()
    out = {f"{name}_us": statistics.median(values) for name, values in results.items()}
    for name, (patched, baseline) in _ADDED.items():
        pairs = zip(results[patched], results[baseline], strict=True)
        out[name] = statistics.median(p - b for p, b in pairs)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sdk")
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--sink-port", type=int, required=True)
    parser.add_argument("--proxy-port", type=int, required=True, help="our proxy")
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{args.sink_port}"
    os.environ["LLMOBSERVE_UPSTREAM_OVERRIDES"] = (
        f"api.openai.com=http://127.0.0.1:{args.upstream_port}"
    )
    results = run(args.upstream_port, args.proxy_port, args.iterations, args.rounds)
    results.update(run_in_memory(args.proxy_port, args.iterations, args.rounds))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
