"""Proxied latency and memory with the tracing backend healthy, slow, black-holed or down.

    python bench/reliability/collector.py                       # 20,000 requests at c=64 each
    python bench/reliability/collector.py --requests 5000

Same load (requests, concurrency, half streaming) against a fresh `llmobserve-proxy` process per
backend (see `load.py`); prints p50/p99 latency, the p99 ratio to the healthy run, the proxy's
peak RSS, spans received and how many export warnings the proxy logged. The claim checked:
p99 within 10% of healthy, memory flat, one warning. Record the table in docs/reliability.md.

Rounds interleave the backends (healthy, slow, black-holed, down, then again), so that a shared
machine's changing load falls on all of them alike; each round's p99 is printed as it ends.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import Result, run

BACKENDS = ("sink", "slow_sink", "black_hole", "down")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2, help="runs per backend (best p99 kept)")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated, `sink` first (default all)"
    )
    args = parser.parse_args(argv)
    backends = args.backends.split(",")
    if backends[0] != "sink" or not set(backends) <= set(BACKENDS):
        parser.error(f"--backends: `sink` first, then any of {', '.join(BACKENDS[1:])}")
    rounds: dict[str, list[Result]] = {backend: [] for backend in backends}
    for round_ in range(args.rounds):
        for backend in backends:
            try:
                result = run(args.requests, args.concurrency, backend=backend, drain=30)
            except RuntimeError as exc:  # a process of the run died (shared machine): once more
                print(f"round {round_ + 1} {backend}: {exc}; repeating it", flush=True)
                result = run(args.requests, args.concurrency, backend=backend, drain=30)
            rounds[backend].append(result)
            print(f"round {round_ + 1} {backend:12} p99 {result.p99_ms} ms", flush=True)
    print(
        f"{'backend':12} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'p99/healthy':>11} "
        f"{'peak RSS MiB':>12} {'spans':>7} {'warnings':>8} {'errors':>6}"
    )
    healthy = None
    worst_ratio = 0.0
    for backend, results in rounds.items():
        result = min(results, key=lambda r: r.p99_ms)
        healthy = healthy or result.p99_ms
        ratio = result.p99_ms / healthy
        if backend != "sink":
            worst_ratio = max(worst_ratio, ratio)
        errors = sum(sum(r.errors.values()) for r in results)
        print(
            f"{backend:12} {result.requests_per_second:>7} {result.p50_ms:>7} {result.p99_ms:>7} "
            f"{ratio:>11.2f} {max(r.proxy_peak_rss_mib for r in results):>12} "
            f"{result.spans_received:>7} {max(r.export_warnings for r in results):>8} {errors:>6}"
        )
    print(f"worst p99 ratio to healthy: {worst_ratio:.2f}")
    return 0 if worst_ratio <= 1.10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
