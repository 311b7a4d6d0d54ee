"""SDK micro-benchmarks, in a process of their own (they patch httpx2 and set the global provider).

- `section()` enter/exit, with `observe()` active (spans exported to the sink);
- one httpx2 `POST /v1/chat/completions` on loopback:
  - proxy mode, through our proxy: unpatched, by base URL (`/openai/v1`); patched
    (`observe(proxy_url=...)`: routed with `X-LLMObserve-Target-URL`, the HTTP client span,
    the cost read back from the response);
  - direct mode, to the fast fake upstream: unpatched; patched and metered in-process
    (`api.openai.com` sent to the fake upstream by `LLMOBSERVE_UPSTREAM_OVERRIDES`, parsed,
    priced, one span); patched to a host that is not a provider (the HTTP client span and
    `traceparent` only).

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

import httpx2

import llmobserve
from llmobserve import section

_BODY = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}],"max_tokens":64}'
_HEADERS = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}
# (patched, unpatched baseline) pairs whose difference is what the SDK adds to a call.
_ADDED = {
    "added_proxy_us": ("patched_proxy", "unpatched_proxy"),
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
    print(json.dumps(run(args.upstream_port, args.proxy_port, args.iterations, args.rounds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
